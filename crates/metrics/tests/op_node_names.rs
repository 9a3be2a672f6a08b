//! `op_node::enable`: op-node's names, types and labels next to opmesh's (its own process, as
//! the switch is process-wide).

use opmesh_metrics::{op_node, *};

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn op_node_names_are_exported_with_op_nodes_types_and_labels() {
    let metrics = install_recorder_only().expect("recorder");
    op_node::enable();
    let text = metrics.render();
    // From start: zero counters and gauges, an empty histogram.
    for (series, want) in [
        ("op_node_default_p2p_peer_count", 0.0),
        ("op_node_default_peer_count", 0.0),
        (
            "op_node_default_p2p_gossip_events_total{type=\"DELIVER_MESSAGE\"}",
            0.0,
        ),
        (
            "op_node_default_p2p_bandwidth_bytes_total{direction=\"in\"}",
            0.0,
        ),
        ("op_node_default_p2p_peer_unbans", 0.0),
        ("op_node_default_p2p_dials{allow=\"true\"}", 0.0),
        ("op_node_default_p2p_accepts{allow=\"false\"}", 0.0),
        ("op_node_default_peer_scores_count{type=\"total\"}", 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series}\n{text}");
    }
    for (name, kind) in [
        ("op_node_default_p2p_peer_count", "gauge"),
        ("op_node_default_peer_count", "gauge"),
        ("op_node_default_p2p_gossip_events_total", "counter"),
        ("op_node_default_p2p_bandwidth_bytes_total", "gauge"),
        ("op_node_default_peer_scores", "histogram"),
        ("op_node_default_p2p_peer_unbans", "counter"),
        ("op_node_default_p2p_dials", "counter"),
        ("op_node_default_p2p_accepts", "counter"),
        ("op_node_default_p2p_req_total", "counter"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} {kind}\n{text}"
        );
    }
    assert_eq!(op_node::ALL.len(), 9);

    set_peer_count(3);
    record_validation(PayloadVersion::V4, Validation::Accept, Default::default());
    record_validation(
        PayloadVersion::V4,
        Validation::Ignore("already_seen"),
        Default::default(),
    );
    record_validation(
        PayloadVersion::V4,
        Validation::Reject("too_old"),
        Default::default(),
    );
    record_validation(
        PayloadVersion::V4,
        Validation::Ignore("no_signer"),
        Default::default(),
    );
    record_gossip_event(GossipEventType::Published);
    record_gossip_events(GossipEventType::Graft, 2);
    set_bandwidth_total(BandwidthDirection::Out, 4096);
    record_peer_scores([-50.0, 1.0]);
    record_unban();
    record_dial(false);
    record_accept(true);
    record_req(ReqResult::NotFound);
    let text = metrics.render();
    for (series, want) in [
        ("op_node_default_p2p_peer_count", 3.0),
        ("op_node_default_peer_count", 3.0),
        (
            "op_node_default_p2p_gossip_events_total{type=\"DELIVER_MESSAGE\"}",
            1.0,
        ),
        (
            "op_node_default_p2p_gossip_events_total{type=\"DUPLICATE_MESSAGE\"}",
            1.0,
        ),
        (
            "op_node_default_p2p_gossip_events_total{type=\"REJECT_MESSAGE\"}",
            2.0,
        ),
        (
            "op_node_default_p2p_gossip_events_total{type=\"PUBLISH_MESSAGE\"}",
            1.0,
        ),
        ("op_node_default_p2p_gossip_events_total{type=\"GRAFT\"}", 2.0),
        (
            "op_node_default_p2p_bandwidth_bytes_total{direction=\"out\"}",
            4096.0,
        ),
        ("op_node_default_peer_scores_count{type=\"total\"}", 2.0),
        (
            "op_node_default_peer_scores_bucket{type=\"total\",le=\"-40\"}",
            1.0,
        ),
        ("op_node_default_p2p_peer_unbans", 1.0),
        ("op_node_default_p2p_dials{allow=\"false\"}", 1.0),
        ("op_node_default_p2p_accepts{allow=\"true\"}", 1.0),
        (
            "op_node_default_p2p_req_total{p2p_role=\"server\",p2p_method=\"payload_by_number\",result_code=\"1\"}",
            1.0,
        ),
        // opmesh's own names are still there.
        ("opmesh_p2p_peer_count", 3.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series}\n{text}");
    }
}
