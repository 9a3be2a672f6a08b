//! Metric names, their kinds, labels and HELP texts, and the histogram buckets.
//!
//! The names are a contract: operators' dashboards, alerts and outside checks use them
//! exactly. Never rename one; add a new metric instead.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Connected peers (gauge).
pub const PEER_COUNT: &str = "opmesh_p2p_peer_count";
/// Gossip messages validated, by `version`, `result` and `reason` (counter).
pub const GOSSIP_VALIDATION_TOTAL: &str = "opmesh_p2p_gossip_validation_total";
/// Time spent validating one gossip message (histogram, seconds).
pub const VALIDATION_DURATION_SECONDS: &str = "opmesh_p2p_validation_duration_seconds";
/// Receive time minus block timestamp of accepted blocks (histogram, seconds).
pub const BLOCK_DELAY_SECONDS: &str = "opmesh_p2p_block_delay_seconds";
/// Gossip events, by `type` (counter).
pub const GOSSIP_EVENTS_TOTAL: &str = "opmesh_p2p_gossip_events_total";
/// Bytes sent and received, by `direction` (counter).
pub const BANDWIDTH_BYTES_TOTAL: &str = "opmesh_p2p_bandwidth_bytes_total";
/// Outgoing dials considered, by `allow` (counter).
pub const DIALS_TOTAL: &str = "opmesh_p2p_dials_total";
/// Incoming connections considered, by `allow` (counter).
pub const ACCEPTS_TOTAL: &str = "opmesh_p2p_accepts_total";
/// Peers banned (counter).
pub const BANS_TOTAL: &str = "opmesh_p2p_bans_total";
/// Peers unbanned (counter).
pub const UNBANS_TOTAL: &str = "opmesh_p2p_unbans_total";
/// Gossipsub peer scores, sampled periodically (histogram, op-node's buckets).
pub const PEER_SCORES: &str = "opmesh_peer_scores";
/// Nodes in the discv5 routing table (gauge).
pub const DISCOVERY_TABLE_SIZE: &str = "opmesh_discovery_table_size";
/// ENRs looked at by discovery, by `result` (counter).
pub const DISCOVERY_ENRS_TOTAL: &str = "opmesh_discovery_enrs_total";
/// Blocks this node published (counter).
pub const PUBLISHED_TOTAL: &str = "opmesh_p2p_published_total";
/// `payload_by_number` requests served, by `result` (counter).
pub const REQ_TOTAL: &str = "opmesh_p2p_req_total";
/// Always 1, labelled with the running `version` (gauge).
pub const BUILD_INFO: &str = "opmesh_build_info";
/// 1 for the current and the grace unsafe-block signer, by `role` and `address` (gauge).
pub const UNSAFE_SIGNER_INFO: &str = "opmesh_p2p_unsafe_signer_info";
/// Unix time when the previous signer's grace ends, 0 when none runs (gauge).
pub const UNSAFE_SIGNER_GRACE_DEADLINE: &str = "opmesh_p2p_unsafe_signer_grace_deadline_seconds";
/// Changes of the unsafe-block signer (counter).
pub const UNSAFE_SIGNER_CHANGES_TOTAL: &str = "opmesh_p2p_unsafe_signer_changes_total";
/// Reads of the signer from L1, by `result` (counter).
pub const L1_SIGNER_READS_TOTAL: &str = "opmesh_p2p_l1_signer_reads_total";
/// L1 block number of the last successful signer read (gauge).
pub const L1_SIGNER_LAST_READ_BLOCK: &str = "opmesh_p2p_l1_signer_last_read_block";
/// Unix time of the last successful signer read from L1 (gauge).
pub const L1_SIGNER_LAST_READ_TIMESTAMP: &str = "opmesh_p2p_l1_signer_last_read_timestamp_seconds";
/// 1 when the last signer read was checked with `eth_getProof`, else 0 (gauge).
pub const L1_SIGNER_PROOF_CHECKED: &str = "opmesh_p2p_l1_signer_proof_checked";
/// Estimated offset of this node's clock from the block producers', in seconds (gauge).
pub const CLOCK_OFFSET_SECONDS: &str = "opmesh_p2p_clock_offset_seconds";

/// Every metric name opmesh exports, in the order of [`METRICS`].
pub const ALL_METRICS: &[&str] = &[
    PEER_COUNT,
    GOSSIP_VALIDATION_TOTAL,
    VALIDATION_DURATION_SECONDS,
    BLOCK_DELAY_SECONDS,
    GOSSIP_EVENTS_TOTAL,
    BANDWIDTH_BYTES_TOTAL,
    DIALS_TOTAL,
    ACCEPTS_TOTAL,
    BANS_TOTAL,
    UNBANS_TOTAL,
    PEER_SCORES,
    DISCOVERY_TABLE_SIZE,
    DISCOVERY_ENRS_TOTAL,
    PUBLISHED_TOTAL,
    REQ_TOTAL,
    BUILD_INFO,
    UNSAFE_SIGNER_INFO,
    UNSAFE_SIGNER_GRACE_DEADLINE,
    UNSAFE_SIGNER_CHANGES_TOTAL,
    L1_SIGNER_READS_TOTAL,
    L1_SIGNER_LAST_READ_BLOCK,
    L1_SIGNER_LAST_READ_TIMESTAMP,
    L1_SIGNER_PROOF_CHECKED,
    CLOCK_OFFSET_SECONDS,
];

/// op-node's `peer_scores` buckets, used for [`PEER_SCORES`].
pub const PEER_SCORE_BUCKETS: &[f64] = &[
    -100.0, -40.0, -20.0, -10.0, -5.0, -2.0, -1.0, -0.5, -0.05, 0.0, 0.05, 0.5, 1.0, 2.0, 5.0,
    10.0, 20.0, 40.0,
];

/// Buckets of [`VALIDATION_DURATION_SECONDS`]: 100 µs to 1 s (a signature recovery is ~0.1 ms,
/// hashing a large payload a few ms).
pub const VALIDATION_DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Buckets of [`BLOCK_DELAY_SECONDS`]. Negative delays are clock skew (blocks up to 5 s in the
/// future are accepted); the validator drops blocks older than 60 s by default.
pub const BLOCK_DELAY_BUCKETS: &[f64] = &[
    -5.0, -2.0, -1.0, -0.5, 0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
];

/// How Prometheus sees a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic counter (names end in `_total`).
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Histogram with `_bucket`, `_sum` and `_count` series.
    Histogram,
}

impl MetricKind {
    /// The Prometheus `# TYPE` word.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One exported metric: what the README table and `describe_all` are made from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    /// The exported name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Label names (empty for none).
    pub labels: &'static [&'static str],
    /// Unit, when it has one.
    pub unit: Option<Unit>,
    /// The `# HELP` text.
    pub help: &'static str,
}

const fn info(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    unit: Option<Unit>,
    help: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        kind,
        labels,
        unit,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

/// Every metric with its kind, labels, unit and HELP text.
pub const METRICS: &[MetricInfo] = &[
    info(PEER_COUNT, Gauge, &[], Some(Unit::Count), "Number of connected libp2p peers."),
    info(
        GOSSIP_VALIDATION_TOTAL,
        Counter,
        &["version", "result", "reason"],
        Some(Unit::Count),
        "Block gossip messages validated, by topic version (v1..v4), result (accept, ignore, reject) and reason (none when accepted).",
    ),
    info(
        VALIDATION_DURATION_SECONDS,
        Histogram,
        &[],
        Some(Unit::Seconds),
        "Time spent validating one block gossip message.",
    ),
    info(
        BLOCK_DELAY_SECONDS,
        Histogram,
        &[],
        Some(Unit::Seconds),
        "Receive time minus block timestamp of accepted gossip blocks (negative: clock skew).",
    ),
    info(
        GOSSIP_EVENTS_TOTAL,
        Counter,
        &["type"],
        Some(Unit::Count),
        "Gossipsub events, by type.",
    ),
    info(
        BANDWIDTH_BYTES_TOTAL,
        Counter,
        &["direction"],
        Some(Unit::Bytes),
        "Bytes received (in) and sent (out) over libp2p connections.",
    ),
    info(
        DIALS_TOTAL,
        Counter,
        &["allow"],
        Some(Unit::Count),
        "Outgoing dials considered by the connection gater, by whether they were allowed.",
    ),
    info(
        ACCEPTS_TOTAL,
        Counter,
        &["allow"],
        Some(Unit::Count),
        "Incoming connections considered by the connection gater, by whether they were allowed.",
    ),
    info(BANS_TOTAL, Counter, &[], Some(Unit::Count), "Peers banned."),
    info(UNBANS_TOTAL, Counter, &[], Some(Unit::Count), "Peers unbanned (ban expired or lifted)."),
    info(
        PEER_SCORES,
        Histogram,
        &[],
        None,
        "Gossipsub scores of connected peers, sampled periodically (op-node's buckets).",
    ),
    info(
        DISCOVERY_TABLE_SIZE,
        Gauge,
        &[],
        Some(Unit::Count),
        "Nodes in the discv5 routing table.",
    ),
    info(
        DISCOVERY_ENRS_TOTAL,
        Counter,
        &["result"],
        Some(Unit::Count),
        "ENRs looked at by discovery, by result (accepted or the rejection reason).",
    ),
    info(
        PUBLISHED_TOTAL,
        Counter,
        &[],
        Some(Unit::Count),
        "Blocks this node published on the block gossip topics.",
    ),
    info(
        REQ_TOTAL,
        Counter,
        &["result"],
        Some(Unit::Count),
        "payload_by_number requests served, by result (ok, not_found, rate_limited, invalid).",
    ),
    info(
        BUILD_INFO,
        Gauge,
        &["version"],
        None,
        "Always 1; the version label is the running opmesh version.",
    ),
    info(
        UNSAFE_SIGNER_INFO,
        Gauge,
        &["role", "address"],
        None,
        "1 for the current (role=current) and the grace (role=previous) unsafe-block signer, 0 for signers no longer in that role.",
    ),
    info(
        UNSAFE_SIGNER_GRACE_DEADLINE,
        Gauge,
        &[],
        Some(Unit::Seconds),
        "Unix time when the previous unsafe-block signer stops being accepted; 0 when no grace period runs.",
    ),
    info(
        UNSAFE_SIGNER_CHANGES_TOTAL,
        Counter,
        &[],
        Some(Unit::Count),
        "Changes of the unsafe-block signer (flag, L1 or library update).",
    ),
    info(
        L1_SIGNER_READS_TOTAL,
        Counter,
        &["result"],
        Some(Unit::Count),
        "Reads of the unsafe-block signer from the L1 SystemConfig, by result (proven, unproven, unreachable, bad_response, bad_proof, no_signer, wrong_chain).",
    ),
    info(
        L1_SIGNER_LAST_READ_BLOCK,
        Gauge,
        &[],
        Some(Unit::Count),
        "L1 block number of the last successful read of the unsafe-block signer.",
    ),
    info(
        L1_SIGNER_LAST_READ_TIMESTAMP,
        Gauge,
        &[],
        Some(Unit::Seconds),
        "Unix time of the last successful read of the unsafe-block signer from L1; 0 before the first.",
    ),
    info(
        L1_SIGNER_PROOF_CHECKED,
        Gauge,
        &[],
        None,
        "1 when the last L1 signer read was verified with eth_getProof against the block's state root, else 0.",
    ),
    info(
        CLOCK_OFFSET_SECONDS,
        Gauge,
        &[],
        Some(Unit::Seconds),
        "Estimated offset of this node's clock from the block producers' (positive: this clock is ahead), from blocks rejected as too old or too new.",
    ),
];

/// The entry of [`METRICS`] for `name`.
pub fn metric_info(name: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name)
}

/// Registers the HELP text (and unit) of every metric with the installed recorder.
///
/// [`crate::install`] and [`crate::install_recorder_only`] call it; call it yourself only when
/// you install a recorder of your own.
pub fn describe_all() {
    for m in METRICS {
        match (m.kind, m.unit) {
            (Counter, Some(unit)) => describe_counter!(m.name, unit, m.help),
            (Counter, None) => describe_counter!(m.name, m.help),
            (Gauge, Some(unit)) => describe_gauge!(m.name, unit, m.help),
            (Gauge, None) => describe_gauge!(m.name, m.help),
            (Histogram, Some(unit)) => describe_histogram!(m.name, unit, m.help),
            (Histogram, None) => describe_histogram!(m.name, m.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn all_metrics_matches_the_table() {
        let names: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        assert_eq!(names, ALL_METRICS);
        assert_eq!(
            ALL_METRICS.iter().collect::<HashSet<_>>().len(),
            ALL_METRICS.len()
        );
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for m in METRICS {
            assert!(m.name.starts_with("opmesh_"), "{}", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            assert_eq!(m.kind == Counter, m.name.ends_with("_total"), "{}", m.name);
            assert!(!m.help.is_empty(), "{}", m.name);
        }
    }

    #[test]
    fn buckets_are_strictly_increasing() {
        for buckets in [
            PEER_SCORE_BUCKETS,
            VALIDATION_DURATION_BUCKETS,
            BLOCK_DELAY_BUCKETS,
        ] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
        }
        assert_eq!(PEER_SCORE_BUCKETS.len(), 18);
    }
}
