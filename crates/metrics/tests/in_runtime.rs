//! `install` called from inside a Tokio runtime, as the node does: neither the error path nor
//! the success path may panic (dropping a runtime inside another one would).

mod common;

use std::net::TcpListener;

use opmesh_metrics::{install, record_published, MetricsError};

#[test]
fn install_inside_a_tokio_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
        let busy_addr = busy.local_addr().expect("addr");
        assert!(matches!(
            install(busy_addr),
            Err(MetricsError::Bind { addr, .. }) if addr == busy_addr
        ));

        let addr = common::free_addr();
        install(addr).expect("install");
        record_published();
        let (status, body) = tokio::task::spawn_blocking(move || common::http_get(addr, "/"))
            .await
            .expect("join");
        assert!(status.contains("200"), "{status}");
        assert!(body.contains("opmesh_p2p_published_total 1"), "{body}");
    });
}
