//! Typed recording functions: the only way opmesh writes its metrics.
//!
//! Each function goes through the `metrics` facade, so it is a cheap no-op until a recorder is
//! installed ([`crate::install`], [`crate::install_recorder_only`] or a [`crate::LocalRecorder`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{counter, gauge, histogram};

use crate::{
    labels::{
        allow_label, BandwidthDirection, GossipEventType, ReqResult, Validation, ENR_RESULTS,
        VALIDATION_OUTCOMES,
    },
    names::*,
    op_node, PayloadVersion,
};

/// The opmesh version reported by [`BUILD_INFO`].
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Sets [`PEER_COUNT`] to the number of connected peers.
pub fn set_peer_count(peers: u64) {
    gauge!(PEER_COUNT).set(peers as f64);
    if op_node::enabled() {
        op_node::peer_count(peers);
    }
}

/// Counts one validated gossip message in [`GOSSIP_VALIDATION_TOTAL`] and observes how long its
/// validation took in [`VALIDATION_DURATION_SECONDS`].
pub fn record_validation(version: PayloadVersion, outcome: Validation, duration: Duration) {
    counter!(
        GOSSIP_VALIDATION_TOTAL,
        "version" => version.label(),
        "result" => outcome.result(),
        "reason" => outcome.reason(),
    )
    .increment(1);
    histogram!(VALIDATION_DURATION_SECONDS).record(duration.as_secs_f64());
    if op_node::enabled() {
        op_node::validation(outcome);
    }
}

/// The delay of a block received at `received_at` whose timestamp is `block_timestamp` (unix
/// seconds): negative when the block claims to be from the future.
pub fn block_delay_seconds(received_at: SystemTime, block_timestamp: u64) -> f64 {
    let received = match received_at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    received - block_timestamp as f64
}

/// Observes an accepted block's delay in [`BLOCK_DELAY_SECONDS`]: `received_at` minus the
/// block's `timestamp` (unix seconds).
pub fn record_block_delay(received_at: SystemTime, block_timestamp: u64) {
    record_block_delay_seconds(block_delay_seconds(received_at, block_timestamp));
}

/// Observes a block delay already computed in seconds in [`BLOCK_DELAY_SECONDS`] (NaN is
/// ignored).
pub fn record_block_delay_seconds(delay: f64) {
    if !delay.is_nan() {
        histogram!(BLOCK_DELAY_SECONDS).record(delay);
    }
}

/// Counts one gossip event in [`GOSSIP_EVENTS_TOTAL`].
pub fn record_gossip_event(event: GossipEventType) {
    record_gossip_events(event, 1);
}

/// Counts `n` gossip events of one type in [`GOSSIP_EVENTS_TOTAL`].
pub fn record_gossip_events(event: GossipEventType, n: u64) {
    counter!(GOSSIP_EVENTS_TOTAL, "type" => event.label()).increment(n);
    if op_node::enabled() {
        op_node::gossip_events(event, n);
    }
}

/// Adds `bytes` to [`BANDWIDTH_BYTES_TOTAL`] for `direction`.
pub fn record_bandwidth(direction: BandwidthDirection, bytes: u64) {
    counter!(BANDWIDTH_BYTES_TOTAL, "direction" => direction.label()).increment(bytes);
    if op_node::enabled() {
        op_node::bandwidth_add(direction, bytes);
    }
}

/// Sets [`BANDWIDTH_BYTES_TOTAL`] for `direction` to a running total kept elsewhere (e.g. a
/// libp2p bandwidth sink). Use this or [`record_bandwidth`], not both.
pub fn set_bandwidth_total(direction: BandwidthDirection, total_bytes: u64) {
    counter!(BANDWIDTH_BYTES_TOTAL, "direction" => direction.label()).absolute(total_bytes);
    if op_node::enabled() {
        op_node::bandwidth_total(direction, total_bytes);
    }
}

/// Counts one outgoing dial in [`DIALS_TOTAL`], allowed or denied by the connection gater.
pub fn record_dial(allowed: bool) {
    counter!(DIALS_TOTAL, "allow" => allow_label(allowed)).increment(1);
    if op_node::enabled() {
        op_node::dial(allowed);
    }
}

/// Counts one incoming connection in [`ACCEPTS_TOTAL`], allowed or denied by the connection
/// gater.
pub fn record_accept(allowed: bool) {
    counter!(ACCEPTS_TOTAL, "allow" => allow_label(allowed)).increment(1);
    if op_node::enabled() {
        op_node::accept(allowed);
    }
}

/// Counts one ban in [`BANS_TOTAL`].
pub fn record_ban() {
    counter!(BANS_TOTAL).increment(1);
}

/// Counts one unban (expired or lifted) in [`UNBANS_TOTAL`].
pub fn record_unban() {
    counter!(UNBANS_TOTAL).increment(1);
    if op_node::enabled() {
        op_node::unban();
    }
}

/// Observes one peer's gossipsub score in [`PEER_SCORES`] (non-finite scores are ignored).
pub fn record_peer_score(score: f64) {
    if score.is_finite() {
        histogram!(PEER_SCORES).record(score);
        if op_node::enabled() {
            op_node::peer_scores(&[score]);
        }
    }
}

/// Observes the scores of all connected peers in [`PEER_SCORES`]; call it periodically (op-node
/// samples every peer's score on a timer).
pub fn record_peer_scores(scores: impl IntoIterator<Item = f64>) {
    let histogram = histogram!(PEER_SCORES);
    let scores: Vec<f64> = scores.into_iter().filter(|s| s.is_finite()).collect();
    for score in &scores {
        histogram.record(*score);
    }
    if op_node::enabled() {
        op_node::peer_scores(&scores);
    }
}

/// Sets [`DISCOVERY_TABLE_SIZE`] to the number of nodes in the discv5 routing table.
pub fn set_discovery_table_size(nodes: usize) {
    gauge!(DISCOVERY_TABLE_SIZE).set(nodes as f64);
}

/// Counts one ENR in [`DISCOVERY_ENRS_TOTAL`]; `result` is
/// `opmesh_discovery::EnrOutcome::label()` (`accepted`, `wrong_chain`, `banned`, ...).
pub fn record_enr(result: &'static str) {
    counter!(DISCOVERY_ENRS_TOTAL, "result" => result).increment(1);
}

/// Sets [`DISCOVERY_ENRS_TOTAL`] for `result` to a running total kept elsewhere (e.g. from
/// `opmesh_discovery::StatsSnapshot::enrs`). Use this or [`record_enr`], not both.
pub fn set_enrs_total(result: &'static str, total: u64) {
    counter!(DISCOVERY_ENRS_TOTAL, "result" => result).absolute(total);
}

/// Counts one block this node published in [`PUBLISHED_TOTAL`].
pub fn record_published() {
    counter!(PUBLISHED_TOTAL).increment(1);
}

/// Counts one `payload_by_number` request served in [`REQ_TOTAL`].
pub fn record_req(result: ReqResult) {
    counter!(REQ_TOTAL, "result" => result.label()).increment(1);
    if op_node::enabled() {
        op_node::req(result, 1);
    }
}

/// Sets [`BUILD_INFO`]`{version}` to 1.
pub fn set_build_info(version: &'static str) {
    gauge!(BUILD_INFO, "version" => version).set(1.0);
}

/// Creates every series whose label values are known, at zero (counters, gauges) or empty
/// (histograms), so that dashboards show 0 rather than "no data" before the first event.
pub fn register_zero_series() {
    for version in PayloadVersion::ALL {
        for (result, reason) in VALIDATION_OUTCOMES {
            counter!(
                GOSSIP_VALIDATION_TOTAL,
                "version" => version.label(),
                "result" => *result,
                "reason" => *reason,
            )
            .increment(0);
        }
    }
    for result in ENR_RESULTS {
        counter!(DISCOVERY_ENRS_TOTAL, "result" => *result).increment(0);
    }
    let _ = histogram!(VALIDATION_DURATION_SECONDS);
    let _ = histogram!(BLOCK_DELAY_SECONDS);
    let _ = histogram!(PEER_SCORES);
    set_peer_count(0);
    set_discovery_table_size(0);
    for event in GossipEventType::ALL {
        record_gossip_events(event, 0);
    }
    for direction in BandwidthDirection::ALL {
        counter!(BANDWIDTH_BYTES_TOTAL, "direction" => direction.label()).increment(0);
    }
    for allowed in [true, false] {
        counter!(DIALS_TOTAL, "allow" => allow_label(allowed)).increment(0);
        counter!(ACCEPTS_TOTAL, "allow" => allow_label(allowed)).increment(0);
    }
    counter!(BANS_TOTAL).increment(0);
    counter!(UNBANS_TOTAL).increment(0);
    counter!(PUBLISHED_TOTAL).increment(0);
    for result in ReqResult::ALL {
        counter!(REQ_TOTAL, "result" => result.label()).increment(0);
    }
    crate::signer::register_zero_series();
}
