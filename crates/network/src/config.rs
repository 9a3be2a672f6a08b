//! Everything a network needs to start.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    time::Duration,
};

use alloy_primitives::Address;
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use opmesh_discovery::DiscoveryConfig;
use opmesh_discovery::{Bootnode, NetRestrict, NodeIdentity, TableLocation};
use opmesh_gossip::{
    config::{DEFAULT_DIAL_TIMEOUT, DEFAULT_PAYLOAD_BUFFER},
    validation::SequencerKey,
    BanConfig, MeshParams, PeerLimits, ScoringMode, ValidationLevel,
};
use opmesh_peers::GaterConfig;
use opmesh_primitives::ChainConfig;

use crate::l1_signer::L1SignerConfig;

/// The settings of a P2P stack, with op-node's defaults.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The chain served.
    pub chain: ChainConfig,
    /// The node key (libp2p peer id and discv5 node id).
    pub identity: NodeIdentity,
    /// `--p2p.listen.ip` (0.0.0.0).
    pub listen_ip: IpAddr,
    /// `--p2p.listen.tcp` (9222; 0 = any free port).
    pub tcp_port: u16,
    /// `--p2p.listen.udp` (9222; 0 = any free port).
    pub udp_port: u16,
    /// `--p2p.advertise.ip`: when set, the ENR carries it and stops following address votes.
    pub advertise_ip: Option<IpAddr>,
    /// `--p2p.advertise.tcp`.
    pub advertise_tcp: Option<u16>,
    /// `--p2p.advertise.udp`.
    pub advertise_udp: Option<u16>,
    /// `--p2p.bootnodes`.
    pub bootnodes: Vec<Bootnode>,
    /// `--p2p.no-discovery` inverted: run discv5.
    pub discovery: bool,
    /// `--p2p.discovery.path`.
    pub discovery_table: TableLocation,
    /// `--p2p.netrestrict`.
    pub netrestrict: Option<NetRestrict>,
    /// How often discovery runs a random lookup.
    pub lookup_interval: Duration,
    /// How often discovery runs a random lookup once gossip has `peers.lo` peers, and the
    /// longest back-off while lookups find nothing new.
    pub slow_lookup_interval: Duration,
    /// `--p2p.static`.
    pub static_peers: Vec<Multiaddr>,
    /// `--p2p.peerstore.path` (`None` = in memory).
    pub peerstore_path: Option<PathBuf>,
    /// The unsafe-block signer; [`crate::NetworkHandle::set_signer`] changes it at runtime.
    /// With [`NetworkConfig::l1_signer`] it is only the starting value.
    pub unsafe_block_signer: Option<Address>,
    /// `--p2p.unsafe.block.signer.grace` (3 h): how long the previous signer stays valid after
    /// a change, unless a block from the new one verifies first.
    pub signer_grace: Duration,
    /// `--l1` and `--l1.runtime-config-reload-interval`: follow the signer on L1.
    pub l1_signer: Option<L1SignerConfig>,
    /// Seconds added to the clock blocks are validated at: 0 but in the network lab (the
    /// hidden `--p2p.debug.clock-offset`).
    pub clock_offset_secs: i64,
    /// `--p2p.sequencer.key`.
    pub sequencer_key: Option<SequencerKey>,
    /// `--p2p.peers.lo/hi/grace`.
    pub peer_limits: PeerLimits,
    /// `--p2p.scoring`.
    pub scoring: ScoringMode,
    /// `--p2p.ban.*`.
    pub bans: BanConfig,
    /// Gater limits (`--p2p.redial`, per-IP inbound limit).
    pub gater: GaterConfig,
    /// `--p2p.gossip.mesh.*`.
    pub mesh: MeshParams,
    /// `--p2p.gossip.timestamp.threshold`.
    pub timestamp_threshold: Duration,
    /// `--p2p.timeout.dial`.
    pub dial_timeout: Duration,
    /// `--p2p.useragent`: the identify agent version (`None` = `opmesh/<version>`).
    pub agent_version: Option<String>,
    /// `--p2p.ping`.
    pub ping: bool,
    /// `--p2p.timeout.accept`.
    pub accept_timeout: Duration,
    /// Capacity of the validated-payload stream.
    pub payload_buffer: usize,
    /// `--p2p.sync.req-resp`: serve op-node's `payload_by_number` protocol.
    pub serve_payload_by_number: bool,
    /// `--p2p.gossip.validation` (hidden): how much of block validation runs; anything but
    /// [`ValidationLevel::Full`] is for the network lab only.
    pub validation: ValidationLevel,
}

/// A bad combination of settings, naming the flag to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `peers.lo` is above `peers.hi`.
    #[error("--p2p.peers.lo: {lo} must not exceed --p2p.peers.hi {hi}")]
    PeersLoAboveHi {
        /// `--p2p.peers.lo`.
        lo: usize,
        /// `--p2p.peers.hi`.
        hi: usize,
    },
    /// The mesh degrees are out of order.
    #[error("--p2p.gossip.mesh.d: mesh parameters must satisfy lo <= d <= dhi")]
    MeshOrder {
        /// `--p2p.gossip.mesh.lo`.
        lo: usize,
        /// `--p2p.gossip.mesh.d`.
        d: usize,
        /// `--p2p.gossip.mesh.dhi`.
        hi: usize,
    },
    /// A static peer address does not name its peer.
    #[error("--p2p.static: {0}: must end in /p2p/<peer id>")]
    StaticPeerWithoutId(Multiaddr),
}

impl ConfigError {
    /// The flag to change.
    pub const fn flag(&self) -> &'static str {
        match self {
            Self::PeersLoAboveHi { .. } => "--p2p.peers.lo",
            Self::MeshOrder { .. } => "--p2p.gossip.mesh.d",
            Self::StaticPeerWithoutId(_) => "--p2p.static",
        }
    }
}

/// Every problem [`NetworkConfig::validate`] found (at least one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl NetworkConfig {
    /// op-node's defaults for `chain` with `identity`.
    pub fn new(chain: ChainConfig, identity: NodeIdentity) -> Self {
        // Discovery's own defaults, so each knob has one.
        let discovery_defaults = DiscoveryConfig::new(chain.chain_id);
        Self {
            chain,
            identity,
            listen_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tcp_port: 9222,
            udp_port: 9222,
            advertise_ip: None,
            advertise_tcp: None,
            advertise_udp: None,
            bootnodes: Vec::new(),
            discovery: true,
            discovery_table: TableLocation::Memory,
            netrestrict: None,
            lookup_interval: discovery_defaults.lookup_interval,
            slow_lookup_interval: discovery_defaults.slow_lookup_interval,
            static_peers: Vec::new(),
            peerstore_path: None,
            unsafe_block_signer: None,
            signer_grace: opmesh_gossip::validation::DEFAULT_SIGNER_GRACE,
            l1_signer: None,
            clock_offset_secs: 0,
            sequencer_key: None,
            peer_limits: PeerLimits::default(),
            scoring: ScoringMode::Light,
            bans: BanConfig::default(),
            gater: GaterConfig::default(),
            mesh: MeshParams::default(),
            timestamp_threshold: opmesh_gossip::validation::DEFAULT_TIMESTAMP_THRESHOLD,
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
            agent_version: None,
            ping: true,
            accept_timeout: Duration::from_secs(10),
            payload_buffer: DEFAULT_PAYLOAD_BUFFER,
            serve_payload_by_number: true,
            validation: ValidationLevel::Full,
        }
    }

    /// Checks the combinations no single flag parser can: reports every problem, each naming
    /// its flag. [`crate::NetworkBuilder::build`] runs it too.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let limits = &self.peer_limits;
        if limits.lo > limits.hi {
            errors.push(ConfigError::PeersLoAboveHi {
                lo: limits.lo,
                hi: limits.hi,
            });
        }
        let mesh = &self.mesh;
        if !(mesh.d_lo <= mesh.d && mesh.d <= mesh.d_hi) {
            errors.push(ConfigError::MeshOrder {
                lo: mesh.d_lo,
                d: mesh.d,
                hi: mesh.d_hi,
            });
        }
        for addr in &self.static_peers {
            if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
                errors.push(ConfigError::StaticPeerWithoutId(addr.clone()));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_reports_every_problem_with_its_flag() {
        let mut config = NetworkConfig::new(ChainConfig::new(901), NodeIdentity::generate());
        assert_eq!(config.validate(), Ok(()));
        config.peer_limits.lo = 40;
        config.peer_limits.hi = 30;
        config.mesh.d = 20;
        config.static_peers = vec!["/ip4/127.0.0.1/tcp/9222".parse().unwrap()];
        let errors = config.validate().unwrap_err().0;
        let flags: Vec<_> = errors.iter().map(ConfigError::flag).collect();
        assert_eq!(
            flags,
            ["--p2p.peers.lo", "--p2p.gossip.mesh.d", "--p2p.static"]
        );
        assert_eq!(
            errors[0].to_string(),
            "--p2p.peers.lo: 40 must not exceed --p2p.peers.hi 30"
        );
    }

    #[test]
    fn one_default_per_knob() {
        let config = NetworkConfig::new(ChainConfig::new(901), NodeIdentity::generate());
        let discovery = DiscoveryConfig::new(901);
        assert_eq!(config.payload_buffer, DEFAULT_PAYLOAD_BUFFER);
        assert_eq!(config.dial_timeout, DEFAULT_DIAL_TIMEOUT);
        assert_eq!(config.lookup_interval, discovery.lookup_interval);
        assert_eq!(config.slow_lookup_interval, discovery.slow_lookup_interval);
    }
}
