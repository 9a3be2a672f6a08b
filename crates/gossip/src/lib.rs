//! OP Stack block gossip for opmesh.
//!
//! - [`topic`]: the four block topics `/optimism/<chain-id>/<0..3>/blocks`;
//! - [`encoding`], [`message_id`] and [`transform`]: raw snappy with a bounded decoded size,
//!   op-node's topic-bound message id, and the gossipsub transform that decodes each received
//!   message once for both;
//! - [`validation`]: the signed-payload validator, cheapest checks first;
//! - [`builder`]: valid and invalid block messages for tests, benchmarks and the devnet;
//! - [`reqresp`]: the server side of op-node's `payload_by_number` req/resp protocol;
//! - [`GossipDriver`] / [`GossipHandle`]: the libp2p swarm and the cheap handle that drives it
//!   ([`spawn`] starts both); the swarm is built in one place from a [`TransportKind`] (TCP, or
//!   libp2p's memory transport for socket-free multi-node tests).
#![deny(missing_docs)]

mod bandwidth;
mod behaviour;
pub mod builder;
pub mod config;
mod driver;
pub mod encoding;
pub mod envelope;
mod events;
mod handle;
pub mod message_id;
mod peers;
pub mod reqresp;
pub mod scoring;
mod swarm;
pub mod topic;
pub mod transform;
pub mod validation;

pub use bandwidth::BandwidthCounters;
pub use behaviour::BehaviourError;
pub use config::{GossipConfig, LocalNode, MeshParams, NatConfig, ValidationLevel};
pub use driver::{
    unix_seconds, BlockLists, GateOp, GossipDriver, GossipSetupError, PayloadStream,
    ReceivedPayload,
};
pub use encoding::{MAX_GOSSIP_SIZE, MIN_GOSSIP_SIZE};
pub use envelope::{EncodedBlock, EnvelopeError};
pub use events::NetworkEvent;
pub use handle::{spawn, DialReason, GossipError, GossipHandle, Published, DIAL_TIMEOUT};
/// Peer management lives in `opmesh-peers`; re-exported so embedders keep one import path.
pub use opmesh_peers::{BanConfig, DialCandidate, Direction, KnownPeer, PeerLimits, PeersConfig};
pub use peers::{GossipPeer, GossipStats};
pub use reqresp::ReqRespConfig;
pub use scoring::ScoringMode;
pub use swarm::TransportKind;
pub use topic::{block_topic, parse_block_topic, BlockTopics, PayloadVersion};
pub use validation::{BlockValidator, Invalid, PayloadChecker, Reason, ValidatedBlock, Verdict};

/// Re-exported so embedders name the same envelope type.
pub use op_alloy_rpc_types_engine::OpNetworkPayloadEnvelope;
