//! op-node's metric names for the P2P quantities opmesh has (`--metrics.op-node-names`), so
//! existing op-node dashboards and alerts keep working.
//!
//! op-node (`op-node/metrics/metrics.go`, namespace `op_node_default`) exports these with
//! go-prometheus, which adds no `_total` suffix: its counters `p2p_dials`, `p2p_accepts`,
//! `p2p_peer_unbans` are spelled exactly so here. `p2p_bandwidth_bytes_total` is a gauge there
//! (set to the running totals), and so it is here. When [`enable`] has been called, every
//! opmesh recording function also writes the op-node series it corresponds to:
//!
//! | op-node name | type | labels | from |
//! |---|---|---|---|
//! | `op_node_default_p2p_peer_count` | gauge | — | `opmesh_p2p_peer_count` |
//! | `op_node_default_peer_count` | gauge | — | the same (the name op-node's metrics docs tell operators to watch) |
//! | `op_node_default_p2p_gossip_events_total` | counter | `type` | validation results (`DELIVER_MESSAGE` accepted, `REJECT_MESSAGE` rejected or ignored, `DUPLICATE_MESSAGE` already seen) and gossip events (`PUBLISH_MESSAGE`, `GRAFT`, `PRUNE`) |
//! | `op_node_default_p2p_bandwidth_bytes_total` | gauge | `direction` | `opmesh_p2p_bandwidth_bytes_total` |
//! | `op_node_default_peer_scores` | histogram | `type` (`total` only) | `opmesh_peer_scores` |
//! | `op_node_default_p2p_peer_unbans` | counter | — | `opmesh_p2p_unbans_total` |
//! | `op_node_default_p2p_dials` / `_accepts` | counter | `allow` | `opmesh_p2p_dials_total` / `_accepts_total` |
//! | `op_node_default_p2p_req_total` | counter | `p2p_role` (`server`), `p2p_method` (`payload_by_number`), `result_code` | `opmesh_p2p_req_total` |
//!
//! Not exported, because opmesh does not measure the quantity: `p2p_stream_count`,
//! `p2p_ip_unbans`, `p2p_req_duration_seconds`, `p2p_payload_by_number`,
//! `p2p_payloads_quarantine_total`, and the per-component `peer_scores{type}` other than
//! `total`.

use std::sync::atomic::{AtomicBool, Ordering};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::labels::{allow_label, BandwidthDirection, GossipEventType, ReqResult, Validation};

/// `op_node_default_p2p_peer_count` (gauge).
pub const PEER_COUNT: &str = "op_node_default_p2p_peer_count";
/// `op_node_default_peer_count` (gauge): the name op-node's metrics documentation tells
/// operators to monitor ("Important Metrics"), so alerts written from it use it; the same
/// value as [`PEER_COUNT`].
pub const DOCUMENTED_PEER_COUNT: &str = "op_node_default_peer_count";
/// `op_node_default_p2p_gossip_events_total{type}` (counter).
pub const GOSSIP_EVENTS_TOTAL: &str = "op_node_default_p2p_gossip_events_total";
/// `op_node_default_p2p_bandwidth_bytes_total{direction}` (gauge, as in op-node).
pub const BANDWIDTH_BYTES_TOTAL: &str = "op_node_default_p2p_bandwidth_bytes_total";
/// `op_node_default_peer_scores{type}` (histogram, op-node's buckets).
pub const PEER_SCORES: &str = "op_node_default_peer_scores";
/// `op_node_default_p2p_peer_unbans` (counter).
pub const PEER_UNBANS: &str = "op_node_default_p2p_peer_unbans";
/// `op_node_default_p2p_dials{allow}` (counter).
pub const DIALS: &str = "op_node_default_p2p_dials";
/// `op_node_default_p2p_accepts{allow}` (counter).
pub const ACCEPTS: &str = "op_node_default_p2p_accepts";
/// `op_node_default_p2p_req_total{p2p_role,p2p_method,result_code}` (counter).
pub const REQ_TOTAL: &str = "op_node_default_p2p_req_total";

/// Every op-node name exported when enabled.
pub const ALL: &[&str] = &[
    PEER_COUNT,
    DOCUMENTED_PEER_COUNT,
    GOSSIP_EVENTS_TOTAL,
    BANDWIDTH_BYTES_TOTAL,
    PEER_SCORES,
    PEER_UNBANS,
    DIALS,
    ACCEPTS,
    REQ_TOTAL,
];

/// The go-libp2p-pubsub trace event names opmesh has an equivalent for.
pub const GOSSIP_EVENT_TYPES: &[&str] = &[
    "DELIVER_MESSAGE",
    "REJECT_MESSAGE",
    "DUPLICATE_MESSAGE",
    "PUBLISH_MESSAGE",
    "GRAFT",
    "PRUNE",
];

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the op-node names on for this process (after the recorder is installed): registers
/// their HELP texts and zero series. Idempotent.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
    describe_gauge!(PEER_COUNT, "Count of currently connected p2p peers");
    describe_gauge!(
        DOCUMENTED_PEER_COUNT,
        "Count of currently connected p2p peers"
    );
    describe_counter!(GOSSIP_EVENTS_TOTAL, "Count of gossip events by type");
    describe_gauge!(BANDWIDTH_BYTES_TOTAL, "P2P bandwidth by direction");
    describe_histogram!(PEER_SCORES, "Histogram of currently connected peer scores");
    describe_counter!(PEER_UNBANS, "Count of peer unbans");
    describe_counter!(
        DIALS,
        "Count of outgoing dial attempts, with label to filter to allowed attempts"
    );
    describe_counter!(
        ACCEPTS,
        "Count of incoming dial attempts to accept, with label to filter to allowed attempts"
    );
    describe_counter!(REQ_TOTAL, "Number of P2P requests");
    gauge!(PEER_COUNT).set(0.0);
    gauge!(DOCUMENTED_PEER_COUNT).set(0.0);
    for ty in GOSSIP_EVENT_TYPES {
        counter!(GOSSIP_EVENTS_TOTAL, "type" => *ty).increment(0);
    }
    for direction in BandwidthDirection::ALL {
        gauge!(BANDWIDTH_BYTES_TOTAL, "direction" => direction.label()).increment(0.0);
    }
    let _ = histogram!(PEER_SCORES, "type" => "total");
    counter!(PEER_UNBANS).increment(0);
    for allowed in [true, false] {
        counter!(DIALS, "allow" => allow_label(allowed)).increment(0);
        counter!(ACCEPTS, "allow" => allow_label(allowed)).increment(0);
    }
    for result in ReqResult::ALL {
        req(result, 0);
    }
}

/// Whether [`enable`] was called.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub(crate) fn peer_count(peers: u64) {
    gauge!(PEER_COUNT).set(peers as f64);
    gauge!(DOCUMENTED_PEER_COUNT).set(peers as f64);
}

pub(crate) fn validation(outcome: Validation) {
    let ty = match outcome {
        Validation::Accept => "DELIVER_MESSAGE",
        Validation::Ignore("already_seen") => "DUPLICATE_MESSAGE",
        // go-libp2p-pubsub traces an IGNOREd message as REJECT_MESSAGE too (reason
        // "validation ignored").
        Validation::Ignore(_) | Validation::Reject(_) => "REJECT_MESSAGE",
    };
    counter!(GOSSIP_EVENTS_TOTAL, "type" => ty).increment(1);
}

pub(crate) fn gossip_events(event: GossipEventType, n: u64) {
    let ty = match event {
        GossipEventType::Published => "PUBLISH_MESSAGE",
        GossipEventType::Graft => "GRAFT",
        GossipEventType::Prune => "PRUNE",
        _ => return,
    };
    counter!(GOSSIP_EVENTS_TOTAL, "type" => ty).increment(n);
}

pub(crate) fn bandwidth_add(direction: BandwidthDirection, bytes: u64) {
    gauge!(BANDWIDTH_BYTES_TOTAL, "direction" => direction.label()).increment(bytes as f64);
}

pub(crate) fn bandwidth_total(direction: BandwidthDirection, total: u64) {
    gauge!(BANDWIDTH_BYTES_TOTAL, "direction" => direction.label()).set(total as f64);
}

pub(crate) fn peer_scores(scores: &[f64]) {
    let h = histogram!(PEER_SCORES, "type" => "total");
    for score in scores {
        h.record(*score);
    }
}

pub(crate) fn unban() {
    counter!(PEER_UNBANS).increment(1);
}

pub(crate) fn dial(allowed: bool) {
    counter!(DIALS, "allow" => allow_label(allowed)).increment(1);
}

pub(crate) fn accept(allowed: bool) {
    counter!(ACCEPTS, "allow" => allow_label(allowed)).increment(1);
}

/// op-node's req/resp result codes: 0 success, 1 not found, 2 invalid request, 3 other error
/// (where opmesh counts a rate-limited request).
pub(crate) fn req(result: ReqResult, n: u64) {
    let code = match result {
        ReqResult::Ok => "0",
        ReqResult::NotFound => "1",
        ReqResult::Invalid => "2",
        ReqResult::RateLimited => "3",
    };
    counter!(
        REQ_TOTAL,
        "p2p_role" => "server",
        "p2p_method" => "payload_by_number",
        "result_code" => code,
    )
    .increment(n);
}
