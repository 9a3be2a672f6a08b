//! The peer manager's knobs: peer-count targets and automatic bans.

use std::time::Duration;

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
            dial_timeout: Duration::from_secs(10),
        }
    }
}
