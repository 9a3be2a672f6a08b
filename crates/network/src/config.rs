//! Everything a network needs to start, as one tree of plain data: [`NetworkConfig`] holds the
//! node's chain and identity, where it listens, and one branch per concern (`gossip`, `peers`,
//! `discovery`, `signer`), each the owning crate's own type where there is one. Every knob has one
//! default (the owning crate's) and [`NetworkConfig::validate`] checks the combinations.
//! Channels are never part of it: the stack makes them when it starts.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use alloy_primitives::Address;
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use opmesh_discovery::{Bootnode, DiscoveryConfig, NetRestrict, NodeIdentity, TableLocation};
use opmesh_gossip::GossipConfig;
use opmesh_peers::PeersConfig;
use opmesh_primitives::ChainConfig;

use crate::l1_signer::L1SignerConfig;

/// The settings of a P2P stack, with op-node's defaults ([`NetworkConfig::new`]).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The chain served.
    pub chain: ChainConfig,
    /// The node key (libp2p peer id and discv5 node id).
    pub identity: NodeIdentity,
    /// `--p2p.listen.*` and `--p2p.advertise.*`, shared by gossip (TCP) and discovery (UDP).
    pub listen: ListenConfig,
    /// Gossip: mesh, scoring, validation, sequencer key, protocols.
    pub gossip: GossipConfig,
    /// Peer management: peer-count targets, bans, gater, static peers, peerstore, dial timeout.
    pub peers: PeersConfig,
    /// discv5: on/off, bootnodes, table, netrestrict, lookup pacing.
    pub discovery: DiscoverySettings,
    /// The unsafe-block signer: starting value, rotation grace, L1 follower.
    pub signer: SignerConfig,
}

/// Where the node listens and what it advertises (`--p2p.listen.*`, `--p2p.advertise.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenConfig {
    /// `--p2p.listen.ip` (0.0.0.0).
    pub ip: IpAddr,
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
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tcp_port: 9222,
            udp_port: 9222,
            advertise_ip: None,
            advertise_tcp: None,
            advertise_udp: None,
        }
    }
}

impl ListenConfig {
    /// The gossip listen address, `/ip4|ip6/<ip>/tcp/<port>`.
    pub fn tcp_multiaddr(&self) -> Multiaddr {
        let mut addr = Multiaddr::empty();
        addr.push(match self.ip {
            IpAddr::V4(ip) => Protocol::Ip4(ip),
            IpAddr::V6(ip) => Protocol::Ip6(ip),
        });
        addr.push(Protocol::Tcp(self.tcp_port));
        addr
    }
}

/// The discovery knobs the stack exposes; the rest of `opmesh_discovery::DiscoveryConfig` is
/// derived from [`NetworkConfig::listen`], the chain and the bound TCP port when it starts.
#[derive(Debug, Clone)]
pub struct DiscoverySettings {
    /// `--p2p.no-discovery` inverted: run discv5.
    pub enabled: bool,
    /// `--p2p.bootnodes`.
    pub bootnodes: Vec<Bootnode>,
    /// `--p2p.discovery.path`.
    pub table: TableLocation,
    /// `--p2p.netrestrict`.
    pub netrestrict: Option<NetRestrict>,
    /// How often discovery runs a random lookup.
    pub lookup_interval: Duration,
    /// How often discovery runs a random lookup once gossip has `peers.lo` peers, and the
    /// longest back-off while lookups find nothing new.
    pub slow_lookup_interval: Duration,
}

impl Default for DiscoverySettings {
    /// Discovery's own defaults, so each knob has one.
    fn default() -> Self {
        let defaults = DiscoveryConfig::new(0);
        Self {
            enabled: true,
            bootnodes: Vec::new(),
            table: defaults.table,
            netrestrict: defaults.netrestrict,
            lookup_interval: defaults.lookup_interval,
            slow_lookup_interval: defaults.slow_lookup_interval,
        }
    }
}

impl DiscoverySettings {
    /// The discovery driver's configuration for `chain_id`, listening as `listen` says and
    /// advertising `bound_tcp` (the port gossip bound) unless `--p2p.advertise.tcp` is set;
    /// `behind_nat` with `--p2p.nat`.
    pub fn driver_config(
        &self,
        chain_id: u64,
        listen: &ListenConfig,
        bound_tcp: u16,
        behind_nat: bool,
    ) -> DiscoveryConfig {
        let mut disc = DiscoveryConfig::new(chain_id);
        disc.listen_ip = listen.ip;
        disc.listen_udp_port = listen.udp_port;
        disc.advertise_ip = listen.advertise_ip;
        disc.advertise_tcp_port = listen.advertise_tcp;
        disc.advertise_udp_port = listen.advertise_udp;
        disc.behind_nat = behind_nat;
        disc.tcp_port = listen.advertise_tcp.unwrap_or(bound_tcp);
        disc.bootnodes = self.bootnodes.clone();
        disc.netrestrict = self.netrestrict.clone();
        disc.lookup_interval = self.lookup_interval;
        disc.slow_lookup_interval = self.slow_lookup_interval;
        disc.table = self.table.clone();
        disc
    }
}

/// The unsafe-block signer: plain data; the live input is made at start and changed through
/// [`crate::NetworkHandle::set_signer`] or the L1 follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerConfig {
    /// `--p2p.unsafe.block.signer` (or the `--network` preset's). With [`SignerConfig::l1`] it
    /// is only the starting value.
    pub unsafe_block_signer: Option<Address>,
    /// `--p2p.unsafe.block.signer.grace` (3 h): how long the previous signer stays valid after
    /// a change, unless a block from the new one verifies first.
    pub grace: Duration,
    /// `--l1` and `--l1.runtime-config-reload-interval`: follow the signer on L1.
    pub l1: Option<L1SignerConfig>,
}

impl Default for SignerConfig {
    fn default() -> Self {
        Self {
            unsafe_block_signer: None,
            grace: opmesh_gossip::validation::DEFAULT_SIGNER_GRACE,
            l1: None,
        }
    }
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
    /// op-node's defaults for `chain` with `identity`: each branch's own defaults.
    pub fn new(chain: ChainConfig, identity: NodeIdentity) -> Self {
        Self {
            chain,
            identity,
            listen: ListenConfig::default(),
            gossip: GossipConfig::default(),
            peers: PeersConfig::default(),
            discovery: DiscoverySettings::default(),
            signer: SignerConfig::default(),
        }
    }

    /// Checks the combinations no single flag parser can: reports every problem, each naming
    /// its flag. [`crate::NetworkBuilder::build`] runs it too.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let limits = &self.peers.limits;
        if limits.lo > limits.hi {
            errors.push(ConfigError::PeersLoAboveHi {
                lo: limits.lo,
                hi: limits.hi,
            });
        }
        let mesh = &self.gossip.mesh;
        if !(mesh.d_lo <= mesh.d && mesh.d <= mesh.d_hi) {
            errors.push(ConfigError::MeshOrder {
                lo: mesh.d_lo,
                d: mesh.d,
                hi: mesh.d_hi,
            });
        }
        for addr in &self.peers.static_peers {
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
        config.peers.limits.lo = 40;
        config.peers.limits.hi = 30;
        config.gossip.mesh.d = 20;
        config.peers.static_peers = vec!["/ip4/127.0.0.1/tcp/9222".parse().unwrap()];
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
        assert_eq!(
            config.gossip.payload_buffer,
            opmesh_gossip::config::DEFAULT_PAYLOAD_BUFFER
        );
        assert_eq!(
            config.peers.dial_timeout,
            opmesh_peers::DEFAULT_DIAL_TIMEOUT
        );
        assert_eq!(
            opmesh_peers::PeerManagerConfig::default().dial_timeout,
            config.peers.dial_timeout
        );
        assert_eq!(config.discovery.lookup_interval, discovery.lookup_interval);
        assert_eq!(
            config.discovery.slow_lookup_interval,
            discovery.slow_lookup_interval
        );
        assert_eq!(config.discovery.table, discovery.table);
    }

    #[test]
    fn discovery_gets_the_listen_settings_and_the_bound_port() {
        let mut config = NetworkConfig::new(ChainConfig::new(901), NodeIdentity::generate());
        config.listen.ip = Ipv4Addr::LOCALHOST.into();
        config.listen.udp_port = 30301;
        let disc = config
            .discovery
            .driver_config(901, &config.listen, 40404, false);
        assert_eq!(disc.chain_id, 901);
        assert_eq!(disc.listen_ip, config.listen.ip);
        assert_eq!(disc.listen_udp_port, 30301);
        assert_eq!(disc.tcp_port, 40404);
        config.listen.advertise_tcp = Some(9333);
        let disc = config
            .discovery
            .driver_config(901, &config.listen, 40404, false);
        assert_eq!(disc.tcp_port, 9333);
        assert_eq!(
            config.listen.tcp_multiaddr().to_string(),
            "/ip4/127.0.0.1/tcp/9222"
        );
    }
}
