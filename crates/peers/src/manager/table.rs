//! The connected-peer table: connections, what identify and ping told, topics, the last
//! gossip score and the validation outcomes of each peer's messages.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant, SystemTime},
};

use libp2p::{swarm::ConnectionId, Multiaddr, PeerId};
use opmesh_primitives::{Reason, Verdict};

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The peer dialed us.
    Inbound,
    /// We dialed the peer.
    Outbound,
}

/// Validation outcomes of the messages a peer forwarded while connected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationCounts {
    /// Messages accepted.
    pub accepted: u64,
    /// Messages ignored.
    pub ignored: u64,
    /// Messages rejected.
    pub rejected: u64,
    /// Ignored and rejected messages per reason.
    pub by_reason: HashMap<Reason, u64>,
}

impl ValidationCounts {
    pub(crate) fn record(&mut self, verdict: Verdict, reason: Option<Reason>) {
        match verdict {
            Verdict::Accept => self.accepted += 1,
            Verdict::Ignore => self.ignored += 1,
            Verdict::Reject => self.rejected += 1,
        }
        if let Some(reason) = reason {
            *self.by_reason.entry(reason).or_default() += 1;
        }
    }
}

/// What identify told about a peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identified {
    /// Agent version.
    pub agent_version: String,
    /// Protocol version.
    pub protocol_version: String,
    /// Protocols it serves.
    pub protocols: Vec<String>,
}

/// One connected peer.
#[derive(Debug, Clone)]
pub struct ConnectedPeer {
    /// Open connections: remote address and direction.
    pub connections: HashMap<ConnectionId, (Multiaddr, Direction)>,
    /// When its first open connection was established (wall clock).
    pub connected_since: SystemTime,
    /// The same instant on the monotonic clock (grace period, trimming order).
    pub connected_at: Instant,
    /// Identify agent version, once known.
    pub agent_version: Option<String>,
    /// Identify protocol version, once known.
    pub protocol_version: Option<String>,
    /// Protocols it announced.
    pub protocols: Vec<String>,
    /// Last ping round trip.
    pub latency: Option<Duration>,
    /// Block topics it subscribes to, by topic index (0 = v1 ... 3 = v4).
    pub topics: BTreeSet<u8>,
    /// Last gossip score from the latest score snapshot.
    pub score: Option<f64>,
    /// Outcomes of the messages it forwarded.
    pub validations: ValidationCounts,
}

impl ConnectedPeer {
    /// Remote addresses of the open connections, oldest connection first, and the direction
    /// of the oldest.
    pub fn addresses(&self) -> (Vec<Multiaddr>, Direction) {
        let mut connections: Vec<_> = self.connections.iter().collect();
        connections.sort_by_key(|(id, _)| **id);
        let direction = connections
            .first()
            .map_or(Direction::Inbound, |(_, (_, d))| *d);
        (
            connections
                .into_iter()
                .map(|(_, (a, _))| a.clone())
                .collect(),
            direction,
        )
    }
}

/// The connected peers.
#[derive(Debug, Default)]
pub(crate) struct PeerTable {
    peers: HashMap<PeerId, ConnectedPeer>,
}

impl PeerTable {
    /// Adds a connection; returns true when it is the peer's first.
    pub fn connected(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        addr: Multiaddr,
        direction: Direction,
        now: Instant,
        wall: SystemTime,
    ) -> bool {
        let first = !self.peers.contains_key(&peer);
        let state = self.peers.entry(peer).or_insert_with(|| ConnectedPeer {
            connections: HashMap::new(),
            connected_since: wall,
            connected_at: now,
            agent_version: None,
            protocol_version: None,
            protocols: Vec::new(),
            latency: None,
            topics: BTreeSet::new(),
            score: None,
            validations: ValidationCounts::default(),
        });
        state.connections.insert(id, (addr, direction));
        first
    }

    /// Removes a connection; returns the peer's state when it was its last one.
    pub fn disconnected(&mut self, peer: &PeerId, id: ConnectionId) -> Option<ConnectedPeer> {
        let state = self.peers.get_mut(peer)?;
        state.connections.remove(&id);
        if state.connections.is_empty() {
            self.peers.remove(peer)
        } else {
            None
        }
    }

    pub fn get(&self, peer: &PeerId) -> Option<&ConnectedPeer> {
        self.peers.get(peer)
    }

    pub fn get_mut(&mut self, peer: &PeerId) -> Option<&mut ConnectedPeer> {
        self.peers.get_mut(peer)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PeerId, &ConnectedPeer)> {
        self.peers.iter()
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }
}
