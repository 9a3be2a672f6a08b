//! `install_recorder_only`: a global recorder without HTTP, rendered by the embedder.

use std::thread;

use opmesh_metrics::{
    install, install_recorder_only, record_block_delay_seconds, record_gossip_event,
    GossipEventType, MetricsError, VERSION,
};

#[test]
fn recorder_only_renders_what_any_thread_records() {
    let handle = install_recorder_only().expect("install");
    assert_eq!(handle.listen_addr(), None);
    thread::spawn(|| {
        record_gossip_event(GossipEventType::Graft);
        record_block_delay_seconds(0.3);
    })
    .join()
    .expect("join");
    let text = handle.render();
    assert!(text.contains(&format!("opmesh_build_info{{version=\"{VERSION}\"}} 1")));
    assert!(text.contains("opmesh_p2p_gossip_events_total{type=\"graft\"} 1"));
    // Zero series exist before anything happens.
    assert!(text.contains("opmesh_p2p_gossip_events_total{type=\"prune\"} 0"));
    assert!(text.contains("opmesh_p2p_block_delay_seconds_bucket{le=\"0.5\"} 1"));
    handle.run_upkeep();

    assert!(matches!(
        install_recorder_only(),
        Err(MetricsError::AlreadyInstalled)
    ));
    let addr = "127.0.0.1:9".parse().expect("addr");
    assert!(matches!(install(addr), Err(MetricsError::AlreadyInstalled)));
}
