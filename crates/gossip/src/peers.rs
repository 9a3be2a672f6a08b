//! What the driver knows about its connected peers, and its counters.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant, SystemTime},
};

use libp2p::{core::ConnectedPoint, swarm::ConnectionId, Multiaddr, PeerId};

use crate::PayloadVersion;

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The peer dialed us.
    Inbound,
    /// We dialed the peer.
    Outbound,
}

/// A connected peer, as [`crate::GossipHandle::peers`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerInfo {
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
    /// Peers banned for their score.
    pub bans: u64,
    /// Bans that ran out.
    pub unbans: u64,
    /// Bytes received on all connections.
    pub bytes_in: u64,
    /// Bytes sent on all connections.
    pub bytes_out: u64,
}

#[derive(Debug)]
pub(crate) struct PeerState {
    pub connections: HashMap<ConnectionId, (Multiaddr, Direction)>,
    pub connected_since: SystemTime,
    pub connected_at: Instant,
    pub agent_version: Option<String>,
    pub protocol_version: Option<String>,
    pub protocols: Vec<String>,
    pub latency: Option<Duration>,
    pub topics: BTreeSet<PayloadVersion>,
}

/// The connected-peer table.
#[derive(Debug, Default)]
pub(crate) struct PeerTable {
    peers: HashMap<PeerId, PeerState>,
}

impl PeerTable {
    pub fn connected(&mut self, peer: PeerId, id: ConnectionId, endpoint: &ConnectedPoint) {
        let (addr, direction) = match endpoint {
            ConnectedPoint::Dialer { address, .. } => (address.clone(), Direction::Outbound),
            ConnectedPoint::Listener { send_back_addr, .. } => {
                (send_back_addr.clone(), Direction::Inbound)
            }
        };
        let state = self.peers.entry(peer).or_insert_with(|| PeerState {
            connections: HashMap::new(),
            connected_since: SystemTime::now(),
            connected_at: Instant::now(),
            agent_version: None,
            protocol_version: None,
            protocols: Vec::new(),
            latency: None,
            topics: BTreeSet::new(),
        });
        state.connections.insert(id, (addr, direction));
    }

    /// Removes a connection; returns true when it was the peer's last one.
    pub fn disconnected(&mut self, peer: &PeerId, id: ConnectionId) -> bool {
        let Some(state) = self.peers.get_mut(peer) else {
            return false;
        };
        state.connections.remove(&id);
        if state.connections.is_empty() {
            self.peers.remove(peer);
            true
        } else {
            false
        }
    }

    pub fn get_mut(&mut self, peer: &PeerId) -> Option<&mut PeerState> {
        self.peers.get_mut(peer)
    }

    pub fn contains(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer)
    }

    /// Connected peers with the instant their first open connection was established.
    pub fn connected_at(&self) -> impl Iterator<Item = (PeerId, Instant)> + '_ {
        self.peers.iter().map(|(p, s)| (*p, s.connected_at))
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn info(&self, score: impl Fn(&PeerId) -> Option<f64>) -> Vec<PeerInfo> {
        self.peers
            .iter()
            .map(|(peer_id, state)| {
                let mut connections: Vec<_> = state.connections.iter().collect();
                connections.sort_by_key(|(id, _)| **id);
                PeerInfo {
                    peer_id: *peer_id,
                    addresses: connections.iter().map(|(_, (a, _))| a.clone()).collect(),
                    direction: connections
                        .first()
                        .map_or(Direction::Inbound, |(_, (_, d))| *d),
                    agent_version: state.agent_version.clone(),
                    protocol_version: state.protocol_version.clone(),
                    protocols: state.protocols.clone(),
                    connected_since: state.connected_since,
                    latency: state.latency,
                    gossip_score: score(peer_id),
                    topics: state.topics.iter().copied().collect(),
                }
            })
            .collect()
    }
}
