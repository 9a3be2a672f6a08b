//! A connected peer as the handle reports it ([`GossipPeer`]), and the driver's counters. The
//! peers themselves are tracked by the peer manager (`opmesh_peers::PeerManager`).
//!
//! `GossipPeer` is the runtime view (optional fields stay optional, the score is `None` when
//! scoring is off, each subscribed topic version is listed). The one `PeerInfo` is op-node's
//! JSON record in `opmesh-rpc` (it also describes peers known only from the peerstore); the
//! network crate's RPC backend, the one crate that sees both, converts one into the other.

use std::time::{Duration, SystemTime};

use libp2p::{Multiaddr, PeerId};
use opmesh_peers::{ConnectedPeer, Direction};

use crate::PayloadVersion;

/// A connected peer, as [`crate::GossipHandle::peers`] reports it (op-node's JSON shape of a
/// peer is `opmesh_rpc::PeerInfo`, built from this by the network crate).
#[derive(Debug, Clone, PartialEq)]
pub struct GossipPeer {
    /// Peer id.
    pub peer_id: PeerId,
    /// Remote addresses of the open connections.
    pub addresses: Vec<Multiaddr>,
    /// Direction of the first open connection.
    pub direction: Direction,
    /// Identify agent version, once known.
    pub agent_version: Option<String>,
    /// Identify protocol version, once known.
    pub protocol_version: Option<String>,
    /// Protocols the peer announced.
    pub protocols: Vec<String>,
    /// When the first open connection was established.
    pub connected_since: SystemTime,
    /// Last ping round-trip time.
    pub latency: Option<Duration>,
    /// Gossipsub peer score (`None` when scoring is off).
    pub gossip_score: Option<f64>,
    /// Block topics the peer subscribes to.
    pub topics: Vec<PayloadVersion>,
}

/// Counters of the gossip driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GossipStats {
    /// Gossip messages received (before validation).
    pub messages_received: u64,
    /// Messages accepted.
    pub accepted: u64,
    /// Messages ignored (including throttled ones).
    pub ignored: u64,
    /// Messages rejected.
    pub rejected: u64,
    /// Messages ignored because too many validations were pending.
    pub throttled: u64,
    /// Validated payloads dropped because the payload stream was full.
    pub payloads_dropped: u64,
    /// Blocks this node published.
    pub published: u64,
    /// Peers connected now.
    pub connected_peers: u64,
    /// Dialable peers known from discovery, static peers and the peerstore.
    pub known_candidates: u64,
    /// Outbound connections established.
    pub dials_allowed: u64,
    /// Outbound dials refused by the gater or the connection limits.
    pub dials_denied: u64,
    /// Inbound connections established.
    pub accepts_allowed: u64,
    /// Inbound connections refused by the gater or the connection limits.
    pub accepts_denied: u64,
    /// Peers banned: for their score, a reconnect loop, or a flood of blocks this node cannot
    /// verify.
    pub bans: u64,
    /// Bans that ran out.
    pub unbans: u64,
    /// Bytes received on all connections.
    pub bytes_in: u64,
    /// Bytes sent on all connections.
    pub bytes_out: u64,
}

impl GossipPeer {
    /// A connected peer as the peer manager holds it, with its current gossip score.
    pub(crate) fn from_connected(
        peer_id: PeerId,
        state: &ConnectedPeer,
        gossip_score: Option<f64>,
    ) -> Self {
        let (addresses, direction) = state.addresses();
        Self {
            peer_id,
            addresses,
            direction,
            agent_version: state.agent_version.clone(),
            protocol_version: state.protocol_version.clone(),
            protocols: state.protocols.clone(),
            connected_since: state.connected_since,
            latency: state.latency,
            gossip_score,
            topics: state
                .topics
                .iter()
                .filter_map(|i| PayloadVersion::from_topic_index(*i))
                .collect(),
        }
    }
}
