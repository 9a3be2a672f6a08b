//! opmesh's Prometheus metrics: the single place where metric names, label values and HELP
//! texts live.
//!
//! - [`names`]: the metric name constants, [`ALL_METRICS`], [`METRICS`] (kind, labels, unit,
//!   HELP) and the histogram buckets ([`PEER_SCORE_BUCKETS`] are op-node's);
//! - [`labels`]: enums for the closed label sets ([`PayloadVersion`], [`Validation`],
//!   [`GossipEventType`], [`BandwidthDirection`], [`ReqResult`]);
//! - typed recording functions ([`record_validation`], [`set_peer_count`], ...), the only way
//!   the rest of opmesh writes metrics, so no caller can invent a name or a label;
//! - [`install`] (recorder + HTTP endpoint), [`install_recorder_only`] and [`LocalRecorder`]
//!   (for tests).
//!
//! Recording is a cheap no-op until a recorder is installed. The metric reference for
//! operators is this crate's `README.md`.
#![deny(missing_docs)]

mod exporter;
pub mod labels;
pub mod names;
pub mod op_node;
mod record;
mod signer;

pub use exporter::{install, install_recorder_only, LocalRecorder, MetricsError, MetricsHandle};
pub use labels::{
    BandwidthDirection, GossipEventType, ReqResult, Validation, ENR_RESULTS, VALIDATION_OUTCOMES,
};
pub use names::{
    describe_all, metric_info, MetricInfo, MetricKind, ACCEPTS_TOTAL, ALL_METRICS,
    BANDWIDTH_BYTES_TOTAL, BANS_TOTAL, BLOCK_DELAY_BUCKETS, BLOCK_DELAY_SECONDS, BUILD_INFO,
    DIALS_TOTAL, DISCOVERY_ENRS_TOTAL, DISCOVERY_TABLE_SIZE, GOSSIP_EVENTS_TOTAL,
    GOSSIP_VALIDATION_TOTAL, METRICS, PEER_COUNT, PEER_SCORES, PEER_SCORE_BUCKETS, PUBLISHED_TOTAL,
    REQ_TOTAL, UNBANS_TOTAL, VALIDATION_DURATION_BUCKETS, VALIDATION_DURATION_SECONDS,
};
pub use names::{
    CLOCK_OFFSET_SECONDS, L1_SIGNER_LAST_READ_BLOCK, L1_SIGNER_LAST_READ_TIMESTAMP,
    L1_SIGNER_PROOF_CHECKED, L1_SIGNER_READS_TOTAL, UNSAFE_SIGNER_CHANGES_TOTAL,
    UNSAFE_SIGNER_GRACE_DEADLINE, UNSAFE_SIGNER_INFO,
};
pub use opmesh_primitives::PayloadVersion;
pub use record::{
    block_delay_seconds, record_accept, record_ban, record_bandwidth, record_block_delay,
    record_block_delay_seconds, record_dial, record_enr, record_gossip_event, record_gossip_events,
    record_peer_score, record_peer_scores, record_published, record_req, record_unban,
    record_validation, register_zero_series, set_bandwidth_total, set_build_info,
    set_discovery_table_size, set_enrs_total, set_peer_count, VERSION,
};
pub use signer::{record_l1_signer_read, set_clock_offset, set_signer_state, L1ReadResult};

#[cfg(test)]
mod tests;
