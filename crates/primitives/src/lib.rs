//! Types shared by every opmesh crate: the chain an opmesh node serves and its fork schedule.
//!
//! The gossip validator needs the chain id (it is part of the signing domain and of the topic
//! names) and the fork times (the Jovian rule for `blobGasUsed`, the topic a payload is
//! published on). Discovery needs the chain id for the `opstack` ENR entry.
//!
//! [`Reason`] and [`Verdict`] are a block message's validation outcome: the gossip validator
//! gives them, the peer manager's policy reads them.
//! [`PayloadVersion`] is the block topic's payload version (gossip topics and the metrics'
//! `version` label).
//!
//! [`presets`] holds the built-in public chains (`--network op-mainnet` etc.).
#![deny(missing_docs)]

mod chain;
mod duration;
mod forks;
pub mod presets;
mod rollup_config;
mod validation;
mod version;

pub use chain::ChainConfig;
pub use duration::{parse_go_duration, DurationError, MAX_GO_DURATION};
pub use forks::{Fork, ForkSchedule};
pub use presets::{preset, preset_by_chain_id, preset_names, ChainPreset, UnknownNetwork};
pub use rollup_config::{RollupConfigError, RollupConfigFile};
pub use validation::{Reason, Verdict};
pub use version::PayloadVersion;
