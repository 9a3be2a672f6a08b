//! Peer management for opmesh.
//!
//! - [`GaterState`]: every connection decision (blocked peers, IPs and subnets, bans with
//!   expiry, protected peers, per-IP inbound limit, redial policy) as plain state with the time
//!   passed in, so it is tested without a network or a clock;
//! - [`GaterBehaviour`]: the thin libp2p adapter that asks the state before every connection
//!   and closes live connections when a peer, IP or subnet is blocked or banned;
//! - [`PeerManager`]: dial targets, trimming, static peers, automatic bans and known-peer
//!   records as plain state with the time passed in: events in, [`Action`]s out;
//! - [`store`]: the persistent peerstore (bans, block lists, protected peers, scores, peer
//!   metadata), written by atomic file replacement.
#![deny(missing_docs)]

mod behaviour;
mod denial;
mod gater;
mod manager;
pub mod store;

pub use behaviour::{ip_of, GaterBehaviour, GaterEvent};
pub use denial::Denial;
pub use gater::{Expired, GaterConfig, GaterState};
pub use manager::{
    Action, BanCause, BanConfig, ConnectedPeer, DialCandidate, DialFailure, Direction, Enr,
    Identified, KnownPeer, Now, PeerLimits, PeerManager, PeerManagerConfig, PeersConfig,
    ValidationCounts, CANDIDATE_BACKOFF_MAX, CANDIDATE_BACKOFF_MIN, DEFAULT_DIAL_TIMEOUT,
    MAX_AGENT_LEN, MAX_CANDIDATES, MAX_KNOWN_PEERS, PERSIST_INTERVAL, UNVERIFIABLE_BURST,
    UNVERIFIABLE_PER_SEC,
};
