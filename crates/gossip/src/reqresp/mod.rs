//! The server side of op-node's `payload_by_number` req/resp protocol (`--p2p.sync.req-resp`).
//!
//! op-node nodes ask their peers for single unsafe blocks by number to fill gaps in the gossip
//! chain. opmesh answers from a bounded in-memory [`PayloadStore`] of the blocks it recently
//! accepted from gossip or published itself; it never asks.
//!
//! - [`wire`]: the wire format — request = `u64` LE block number; response = result byte, then
//!   on success a `u32` LE version and the payload as a *framed* snappy stream of SSZ bytes;
//! - [`codec`]: reading and writing it on libp2p streams, within op-node's timeouts;
//! - [`ratelimit`]: op-node's token buckets (global 20 req/s burst 40, per peer 4 req/s burst
//!   15, 1000 peers tracked);
//! - [`store`]: the recent payloads, by number;
//! - [`PayloadServer`]: the [`libp2p::swarm::NetworkBehaviour`] tying them together.
//!
//! Both protocol ids are served: op-node's `/opstack/req/payload_by_number/<chain>/0` (no
//! trailing slash) and the spec's and kona's `/opstack/req/payload_by_number/<chain>/0/`.
//!
//! **Throttling** follows op-node: a request over the rate limits is not refused but answered
//! late, once the buckets hold a token for it, provided that wait is at most
//! [`ReqRespConfig::max_throttle_delay`] (20 s). The wait is a timer polled by the behaviour,
//! never a pause of the swarm. A request that would have to wait longer is answered at once
//! with result 3 ("unknown error"), which is what op-node writes when its rate-limit wait
//! gives up; no stream is left hanging. Throttled or not, no answer ever touches the asker's
//! peer score: a request for a block we do not hold gets result 1 and nothing else.

mod behaviour;
pub mod codec;
pub mod ratelimit;
pub mod store;
pub mod wire;

use std::time::Duration;

pub use behaviour::{PayloadServer, PayloadServerEvent, ReqRespSetupError};
pub use codec::PayloadCodec;
pub use ratelimit::{RateLimiter, Throttled, TokenBucket};
pub use store::PayloadStore;
pub use wire::{PayloadRequest, PayloadResponse, ResultCode, ServedPayload};

/// op-node's protocol id: `/opstack/req/payload_by_number/<chain_id>/0`, no trailing slash.
pub fn op_node_protocol_id(chain_id: u64) -> String {
    format!("/opstack/req/payload_by_number/{chain_id}/0")
}

/// The spec's and kona's protocol id: `/opstack/req/payload_by_number/<chain_id>/0/`.
pub fn spec_protocol_id(chain_id: u64) -> String {
    format!("/opstack/req/payload_by_number/{chain_id}/0/")
}

/// A token bucket's refill rate and depth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens (requests) added per second.
    pub per_second: f64,
    /// Most tokens the bucket holds: the burst served without delay.
    pub burst: u32,
}

/// Settings of the `payload_by_number` server; [`Default`] gives op-node's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReqRespConfig {
    /// Requests of all peers together (op-node: 20 req/s, burst 40).
    pub global: RateLimit,
    /// Requests of one peer (op-node: 4 req/s, burst 15).
    pub per_peer: RateLimit,
    /// Peers whose buckets are remembered; the least recently seen is forgotten first
    /// (op-node: 1000).
    pub tracked_peers: usize,
    /// Longest a request is held back by the rate limits before it is answered with result 3
    /// instead (op-node `maxThrottleDelay`: 20 s).
    pub max_throttle_delay: Duration,
    /// Time allowed to read a request (op-node: 10 s).
    pub read_timeout: Duration,
    /// Time allowed to write a response (op-node: 10 s).
    pub write_timeout: Duration,
    /// Payloads kept, the highest block numbers first.
    pub store_capacity: usize,
    /// Bytes of payloads kept, at most.
    pub store_max_bytes: usize,
    /// Requests in flight on one connection, throttled ones included.
    pub max_concurrent_streams: usize,
}

impl Default for ReqRespConfig {
    fn default() -> Self {
        Self {
            global: RateLimit {
                per_second: 20.0,
                burst: 40,
            },
            per_peer: RateLimit {
                per_second: 4.0,
                burst: 15,
            },
            tracked_peers: 1000,
            max_throttle_delay: Duration::from_secs(20),
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            store_capacity: 256,
            store_max_bytes: 256 * 1024 * 1024,
            // A peer at 4 req/s can have its burst of 15 plus 20 s × 4 = 80 throttled
            // requests in flight; anything beyond that would be answered with result 3 anyway.
            max_concurrent_streams: 128,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_ids_differ_only_by_the_trailing_slash() {
        assert_eq!(
            op_node_protocol_id(10),
            "/opstack/req/payload_by_number/10/0"
        );
        assert_eq!(spec_protocol_id(10), "/opstack/req/payload_by_number/10/0/");
    }

    #[test]
    fn defaults_are_op_nodes() {
        let config = ReqRespConfig::default();
        assert_eq!(config.global.per_second, 20.0);
        assert_eq!(config.global.burst, 40);
        assert_eq!(config.per_peer.per_second, 4.0);
        assert_eq!(config.per_peer.burst, 15);
        assert_eq!(config.tracked_peers, 1000);
        assert_eq!(config.max_throttle_delay, Duration::from_secs(20));
        assert_eq!(config.read_timeout, Duration::from_secs(10));
        assert_eq!(config.write_timeout, Duration::from_secs(10));
    }
}
