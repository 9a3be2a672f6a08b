//! The records kept in the peerstore and their on-disk JSON form.

use std::{
    net::IpAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use ipnet::IpNet;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

/// Peer records not updated for this long are dropped (op-node's 7-day record expiry).
pub const RECORD_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The gater's persistent state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GaterRecords {
    /// Manually blocked peers.
    pub blocked_peers: Vec<PeerId>,
    /// Manually blocked IPs.
    pub blocked_ips: Vec<IpAddr>,
    /// Manually blocked subnets.
    pub blocked_subnets: Vec<IpNet>,
    /// Protected peers.
    pub protected: Vec<PeerId>,
    /// Peer bans with their expiry.
    pub peer_bans: Vec<(PeerId, SystemTime)>,
    /// IP bans with their expiry.
    pub ip_bans: Vec<(IpAddr, SystemTime)>,
}

/// What is remembered about one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRecord {
    /// The peer.
    pub peer: PeerId,
    /// Last gossip score seen.
    pub score: Option<f64>,
    /// Its ENR, when discovery found it.
    pub enr: Option<String>,
    /// Chain id from its ENR.
    pub chain_id: Option<u64>,
    /// Known addresses.
    pub addresses: Vec<String>,
    /// Identify agent version.
    pub agent: Option<String>,
    /// When this record was last updated.
    pub updated: SystemTime,
}

/// Everything in the peerstore.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerStoreData {
    /// Gater state.
    pub gater: GaterRecords,
    /// Known peers.
    pub peers: Vec<PeerRecord>,
}

impl PeerStoreData {
    /// Drops peer records older than [`RECORD_EXPIRY`] and bans that ended by `now`.
    pub fn collect_garbage(&mut self, now: SystemTime) {
        self.peers
            .retain(|p| now.duration_since(p.updated).unwrap_or_default() < RECORD_EXPIRY);
        self.gater.peer_bans.retain(|(_, until)| *until > now);
        self.gater.ip_bans.retain(|(_, until)| *until > now);
    }
}

// ---- on-disk form: strings and unix seconds, so the file is readable and stable ----

pub(super) const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Disk {
    pub version: u32,
    #[serde(default)]
    pub blocked_peers: Vec<String>,
    #[serde(default)]
    pub blocked_ips: Vec<String>,
    #[serde(default)]
    pub blocked_subnets: Vec<String>,
    #[serde(default)]
    pub protected: Vec<String>,
    #[serde(default)]
    pub peer_bans: Vec<DiskBan>,
    #[serde(default)]
    pub ip_bans: Vec<DiskBan>,
    #[serde(default)]
    pub peers: Vec<DiskPeer>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DiskBan {
    pub id: String,
    pub until: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DiskPeer {
    pub peer: String,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub enr: Option<String>,
    #[serde(default)]
    pub chain_id: Option<u64>,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub agent: Option<String>,
    pub updated: u64,
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `None` for a time the platform cannot represent (a corrupt or hostile file: `u64::MAX`
/// seconds overflows `SystemTime`, and `+` would panic).
fn time(secs: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

impl From<&PeerStoreData> for Disk {
    fn from(data: &PeerStoreData) -> Self {
        let strings = |v: &[PeerId]| v.iter().map(|p| p.to_string()).collect();
        Self {
            version: FORMAT_VERSION,
            blocked_peers: strings(&data.gater.blocked_peers),
            blocked_ips: data
                .gater
                .blocked_ips
                .iter()
                .map(|i| i.to_string())
                .collect(),
            blocked_subnets: data
                .gater
                .blocked_subnets
                .iter()
                .map(|n| n.to_string())
                .collect(),
            protected: strings(&data.gater.protected),
            peer_bans: data
                .gater
                .peer_bans
                .iter()
                .map(|(p, t)| DiskBan {
                    id: p.to_string(),
                    until: secs(*t),
                })
                .collect(),
            ip_bans: data
                .gater
                .ip_bans
                .iter()
                .map(|(i, t)| DiskBan {
                    id: i.to_string(),
                    until: secs(*t),
                })
                .collect(),
            peers: data
                .peers
                .iter()
                .map(|p| DiskPeer {
                    peer: p.peer.to_string(),
                    score: p.score.filter(|s| s.is_finite()),
                    enr: p.enr.clone(),
                    chain_id: p.chain_id,
                    addresses: p.addresses.clone(),
                    agent: p.agent.clone(),
                    updated: secs(p.updated),
                })
                .collect(),
        }
    }
}

impl Disk {
    /// Converts to records, skipping (and counting) entries that do not parse, including times
    /// the platform cannot represent.
    pub fn into_data(self) -> (PeerStoreData, usize) {
        let mut skipped = 0usize;
        let mut bad = |missing: bool| skipped += usize::from(missing);
        let mut peer_ids = |v: &[String]| -> Vec<PeerId> {
            v.iter()
                .filter_map(|s| {
                    let parsed = s.parse().ok();
                    bad(parsed.is_none());
                    parsed
                })
                .collect()
        };
        let blocked_peers = peer_ids(&self.blocked_peers);
        let protected = peer_ids(&self.protected);
        fn count<T>(skipped: &mut usize, r: Option<T>) -> Option<T> {
            *skipped += usize::from(r.is_none());
            r
        }
        let peer_bans = self
            .peer_bans
            .iter()
            .filter_map(|b| count(&mut skipped, b.id.parse::<PeerId>().ok().zip(time(b.until))))
            .collect();
        let ip_bans = self
            .ip_bans
            .iter()
            .filter_map(|b| count(&mut skipped, b.id.parse::<IpAddr>().ok().zip(time(b.until))))
            .collect();
        let peers = self
            .peers
            .into_iter()
            .filter_map(|p| {
                let record = (|| {
                    Some(PeerRecord {
                        peer: p.peer.parse().ok()?,
                        score: p.score,
                        enr: p.enr,
                        chain_id: p.chain_id,
                        addresses: p.addresses,
                        agent: p.agent,
                        updated: time(p.updated)?,
                    })
                })();
                count(&mut skipped, record)
            })
            .collect();
        let blocked_ips = self
            .blocked_ips
            .iter()
            .filter_map(|s| count(&mut skipped, s.parse::<IpAddr>().ok()))
            .collect();
        let blocked_subnets = self
            .blocked_subnets
            .iter()
            .filter_map(|s| count(&mut skipped, s.parse::<IpNet>().ok()))
            .collect();
        let data = PeerStoreData {
            gater: GaterRecords {
                blocked_peers,
                blocked_ips,
                blocked_subnets,
                protected,
                peer_bans,
                ip_bans,
            },
            peers,
        };
        (data, skipped)
    }
}
