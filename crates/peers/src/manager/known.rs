//! What the node remembers about peers it has met or been told of, connected or not. In
//! memory a record holds typed addresses and ENRs; only the peerstore file holds strings
//! ([`crate::store::PeerRecord`]).

use std::{collections::HashMap, time::SystemTime};

use libp2p::{Multiaddr, PeerId};

use crate::store::PeerRecord;

/// An Ethereum Node Record, as discovery hands it over (`discv5::Enr`).
pub type Enr = enr::Enr<enr::CombinedKey>;

/// Most peer records kept; the least recently updated go first.
pub const MAX_KNOWN_PEERS: usize = 2048;

/// Longest agent string kept (bytes). Identify allows far longer ones; op-node's and kona's
/// are under 100 bytes.
pub const MAX_AGENT_LEN: usize = 256;

/// `agent` cut to at most [`MAX_AGENT_LEN`] bytes on a character boundary.
pub fn truncate_agent(agent: &str) -> String {
    let mut end = agent.len().min(MAX_AGENT_LEN);
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    agent[..end].to_string()
}

/// What is remembered about one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownPeer {
    /// The peer.
    pub peer: PeerId,
    /// Last gossip score seen.
    pub score: Option<f64>,
    /// Its ENR, when discovery found it.
    pub enr: Option<Enr>,
    /// Chain id from its ENR.
    pub chain_id: Option<u64>,
    /// Known addresses.
    pub addresses: Vec<Multiaddr>,
    /// Identify agent version.
    pub agent: Option<String>,
    /// When this record was last updated.
    pub updated: SystemTime,
}

impl KnownPeer {
    /// An empty record of `peer` updated at `now`.
    pub fn new(peer: PeerId, now: SystemTime) -> Self {
        Self {
            peer,
            score: None,
            enr: None,
            chain_id: None,
            addresses: Vec::new(),
            agent: None,
            updated: now,
        }
    }

    /// Parses a stored record; addresses and an ENR that do not parse are left out.
    pub fn from_record(record: PeerRecord) -> Self {
        Self {
            peer: record.peer,
            score: record.score,
            enr: record.enr.and_then(|e| e.parse().ok()),
            chain_id: record.chain_id,
            addresses: record
                .addresses
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect(),
            agent: record.agent.as_deref().map(truncate_agent),
            updated: record.updated,
        }
    }

    /// The stored form.
    pub fn to_record(&self) -> PeerRecord {
        PeerRecord {
            peer: self.peer,
            score: self.score,
            enr: self.enr.as_ref().map(Enr::to_base64),
            chain_id: self.chain_id,
            addresses: self.addresses.iter().map(Multiaddr::to_string).collect(),
            agent: self.agent.clone(),
            updated: self.updated,
        }
    }
}

/// The known-peer records, bounded by [`MAX_KNOWN_PEERS`].
#[derive(Debug, Default)]
pub(crate) struct KnownPeers {
    records: HashMap<PeerId, KnownPeer>,
}

impl KnownPeers {
    pub fn entry(&mut self, peer: PeerId, now: SystemTime) -> &mut KnownPeer {
        self.records
            .entry(peer)
            .or_insert_with(|| KnownPeer::new(peer, now))
    }

    pub fn get_mut(&mut self, peer: &PeerId) -> Option<&mut KnownPeer> {
        self.records.get_mut(peer)
    }

    pub fn insert(&mut self, record: KnownPeer) {
        self.records.insert(record.peer, record);
    }

    pub fn values(&self) -> impl Iterator<Item = &KnownPeer> {
        self.records.values()
    }

    /// Forgets the least recently updated records beyond the bound.
    pub fn trim(&mut self) {
        if self.records.len() <= MAX_KNOWN_PEERS {
            return;
        }
        let mut by_age: Vec<_> = self.records.iter().map(|(p, r)| (r.updated, *p)).collect();
        by_age.sort();
        let excess = self.records.len() - MAX_KNOWN_PEERS;
        for (_, peer) in by_age.into_iter().take(excess) {
            self.records.remove(&peer);
        }
    }
}
