//! OP Stack block gossip for opmesh.
//!
//! - [`topic`]: the four block topics `/optimism/<chain-id>/<0..3>/blocks`;
//! - [`encoding`] and [`message_id`]: raw snappy with a bounded decoded size, and op-node's
//!   topic-bound message id;
//! - [`validation`]: the signed-payload validator, cheapest checks first;
//! - [`builder`]: valid and invalid block messages for tests, benchmarks and the devnet;
//! - [`GossipDriver`] / [`GossipHandle`]: the libp2p swarm and the cheap handle that drives it.
#![deny(missing_docs)]

pub mod builder;
pub mod encoding;
pub mod envelope;
pub mod message_id;
pub mod topic;
pub mod validation;

pub use encoding::{MAX_GOSSIP_SIZE, MIN_GOSSIP_SIZE};
pub use envelope::{EncodedBlock, EnvelopeError};
pub use topic::{block_topic, parse_block_topic, BlockTopics, PayloadVersion};
pub use validation::{BlockValidator, Invalid, PayloadChecker, Reason, ValidatedBlock, Verdict};

/// Re-exported so embedders name the same envelope type.
pub use op_alloy_rpc_types_engine::OpNetworkPayloadEnvelope;
