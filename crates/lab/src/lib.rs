//! The opmesh network lab: many real `opmesh node` processes, each on its own loopback address
//! (or in its own network namespace), connected through discovery from a bootnode, with a dev
//! sequencer publishing blocks and the lab measuring every node over its admin RPC and
//! `/metrics`.
//!
//! - [`cluster`]: start, watch, kill and restart the node processes;
//! - [`scenario`]: propagation, attacks (with [`attackers`] run in-process), churn, partition;
//! - [`report`]: the tables, the JSON results and `docs/benchmarks.md`'s lab sections;
//! - [`process`], [`probe`], [`monitor`]: the process, metrics/RPC and subscription plumbing
//!   `opmesh devnet` shares.
//!
//! `opmesh lab <scenario>` is the command line; [`run`] is all it calls.
#![deny(missing_docs)]

pub mod attackers;
pub mod cli;
pub mod cluster;
pub mod enr_poison;
mod error;
pub mod l1_devnode;
pub mod machine;
pub mod monitor;
pub mod netns;
pub mod probe;
pub mod process;
pub mod procstat;
pub mod record;
pub mod report;
mod runner;
pub mod scenario;
pub mod stats;
mod suite;
mod targets;

pub use cli::{LabArgs, LabCommand};
pub use error::LabError;
pub use runner::{run, Setup};
