//! `install`: the HTTP endpoint, a port in use, and installing twice. One test function: the
//! global recorder is per process, and the steps depend on each other.

mod common;

use std::net::TcpListener;

use opmesh_metrics::{
    install, install_recorder_only, record_validation, set_peer_count, MetricsError,
    PayloadVersion, Validation, ALL_METRICS, VERSION,
};

#[test]
fn install_serves_metrics_over_http_once() {
    // A port in use: a typed error that names the address, and nothing installed.
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_addr = busy.local_addr().expect("addr");
    let err = install(busy_addr).expect_err("port in use");
    assert!(
        matches!(err, MetricsError::Bind { addr, .. } if addr == busy_addr),
        "{err:?}"
    );
    assert!(err.to_string().contains(&busy_addr.to_string()), "{err}");
    drop(busy);

    // Port 0 cannot be reported back, so it is refused.
    let zero = "127.0.0.1:0".parse().expect("addr");
    assert!(matches!(install(zero), Err(MetricsError::Bind { .. })));

    // A free port: /metrics answers with the text exposition.
    let addr = common::free_addr();
    let handle = install(addr).expect("install");
    assert_eq!(handle.listen_addr(), Some(addr));
    set_peer_count(3);
    record_validation(
        PayloadVersion::V2,
        Validation::Reject("bad_signature"),
        std::time::Duration::from_micros(120),
    );

    let (status, body) = common::http_get(addr, "/metrics");
    assert!(status.contains("200"), "{status}");
    assert!(
        body.contains(&format!("opmesh_build_info{{version=\"{VERSION}\"}} 1")),
        "{body}"
    );
    assert!(body.contains("opmesh_p2p_peer_count 3"), "{body}");
    assert!(body.contains(
        "opmesh_p2p_gossip_validation_total{version=\"v2\",result=\"reject\",reason=\"bad_signature\"} 1"
    ));
    assert!(body.contains("# TYPE opmesh_p2p_validation_duration_seconds histogram"));
    // Every series present has its HELP text; histograms and the ENR counter appear on
    // first use, everything else is there from the start.
    for name in ALL_METRICS {
        let present = body.contains(&format!("# TYPE {name} "));
        let lazy = [
            "opmesh_p2p_block_delay_seconds",
            "opmesh_peer_scores",
            "opmesh_discovery_enrs_total",
            "opmesh_p2p_unsafe_signer_info",
        ];
        assert!(present || lazy.contains(name), "{name} missing");
        if present {
            assert!(body.contains(&format!("# HELP {name} ")), "HELP of {name}");
        }
    }
    // The endpoint and the handle render the same metrics.
    assert!(handle.render().contains("opmesh_p2p_peer_count 3"));

    // Installing again is a typed error, whichever way.
    assert!(matches!(
        install(common::free_addr()),
        Err(MetricsError::AlreadyInstalled)
    ));
    assert!(matches!(
        install_recorder_only(),
        Err(MetricsError::AlreadyInstalled)
    ));
    // The first endpoint still serves.
    let (status, _) = common::http_get(addr, "/metrics");
    assert!(status.contains("200"), "{status}");
}
