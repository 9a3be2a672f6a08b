//! The peer-management knobs: peer-count targets, automatic bans, the gater, static peers and
//! the peerstore ([`PeersConfig`], the `peers` branch of the network's config tree), and the
//! part of them the sans-IO [`crate::PeerManager`] runs on ([`PeerManagerConfig`]).

use std::{path::PathBuf, time::Duration};

use libp2p::Multiaddr;

use crate::GaterConfig;

/// Default dial timeout (`--p2p.timeout.dial`, op-node's 10 s): the one default for this knob.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// `--p2p.peers.lo`, `--p2p.peers.hi`, `--p2p.peers.grace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    /// Dial discovered peers while fewer than this many are connected (default 20).
    pub lo: usize,
    /// Trim down to `lo` when more than this many are connected (default 30).
    pub hi: usize,
    /// New connections are not trimmed during this period (default 30 s).
    pub grace: Duration,
    /// Dials in flight at once (op-node runs 4 dial workers).
    pub max_concurrent_dials: usize,
}

impl PeerLimits {
    /// Outbound peers the node keeps dialing for even when inbound peers already fill
    /// `lo`: half of `lo`. Peers it picked itself (from discovery or the peerstore) are the
    /// ones an attacker who floods us with inbound connections does not control.
    pub const fn min_outbound(&self) -> usize {
        self.lo / 2
    }

    /// Peers that may hold inbound connections at once (protected peers not counted):
    /// `hi` less [`Self::min_outbound`], so inbound peers can never take every slot.
    pub const fn max_inbound(&self) -> usize {
        self.hi.saturating_sub(self.min_outbound())
    }
}

impl Default for PeerLimits {
    fn default() -> Self {
        Self {
            lo: 20,
            hi: 30,
            grace: Duration::from_secs(30),
            max_concurrent_dials: 4,
        }
    }
}

/// Automatic bans of low-scoring peers (`--p2p.ban.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BanConfig {
    /// `--p2p.ban.peers` (default true).
    pub enabled: bool,
    /// `--p2p.ban.threshold` (default -100): a peer scoring below is banned.
    pub threshold: f64,
    /// `--p2p.ban.duration` (default 1 h).
    pub duration: Duration,
}

impl Default for BanConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: -100.0,
            duration: Duration::from_secs(3600),
        }
    }
}

/// Everything the [`crate::PeerManager`] is configured with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerManagerConfig {
    /// Peer-count targets.
    pub limits: PeerLimits,
    /// Automatic bans.
    pub bans: BanConfig,
    /// Dial timeout (`--p2p.timeout.dial`, 10 s): a dial with no outcome after twice this is
    /// counted as failed.
    pub dial_timeout: Duration,
}

impl Default for PeerManagerConfig {
    fn default() -> Self {
        Self {
            limits: PeerLimits::default(),
            bans: BanConfig::default(),
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
        }
    }
}

/// Who to connect to, keep, ban and remember: plain data, op-node's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PeersConfig {
    /// `--p2p.peers.lo`, `--p2p.peers.hi`, `--p2p.peers.grace`.
    pub limits: PeerLimits,
    /// `--p2p.ban.peers`, `--p2p.ban.threshold`, `--p2p.ban.duration`.
    pub bans: BanConfig,
    /// Connection gater limits (`--p2p.redial`, `--p2p.redial.period`, per-IP inbound limit).
    pub gater: GaterConfig,
    /// `--p2p.static`: multiaddrs ending in `/p2p/<id>`, dialed at start, redialed when lost,
    /// protected from trimming and automatic bans.
    pub static_peers: Vec<Multiaddr>,
    /// `--p2p.peerstore.path`: the peerstore file; `None` keeps it in memory.
    pub peerstore_path: Option<PathBuf>,
    /// `--p2p.timeout.dial` (10 s): the transport's outbound upgrade timeout, and after twice
    /// this a dial with no outcome counts as failed.
    pub dial_timeout: Duration,
}

impl Default for PeersConfig {
    fn default() -> Self {
        Self {
            limits: PeerLimits::default(),
            bans: BanConfig::default(),
            gater: GaterConfig::default(),
            static_peers: Vec::new(),
            peerstore_path: None,
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
        }
    }
}

impl PeersConfig {
    /// The part the [`crate::PeerManager`] runs on.
    pub const fn manager(&self) -> PeerManagerConfig {
        PeerManagerConfig {
            limits: self.limits,
            bans: self.bans,
            dial_timeout: self.dial_timeout,
        }
    }
}
