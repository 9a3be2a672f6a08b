//! Peer management for opmesh.
//!
//! - [`GaterState`]: every connection decision (blocked peers, IPs and subnets, bans with
//!   expiry, protected peers, per-IP inbound limit, redial policy) as plain state with the time
//!   passed in, so it is tested without a network or a clock;
//! - [`GaterBehaviour`]: the thin libp2p adapter that asks the state before every connection
//!   and closes live connections when a peer, IP or subnet is blocked or banned;
//! - [`store`]: the persistent peerstore (bans, block lists, protected peers, scores, peer
//!   metadata), written by atomic file replacement.
#![deny(missing_docs)]

mod behaviour;
mod denial;
mod gater;
pub mod store;

pub use behaviour::{ip_of, GaterBehaviour, GaterEvent};
pub use denial::Denial;
pub use gater::{Expired, GaterConfig, GaterState};
