//! Everything a network needs to start.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    time::Duration,
};

use alloy_primitives::Address;
use libp2p::Multiaddr;
use opmesh_discovery::{Bootnode, NetRestrict, NodeIdentity, TableLocation};
use opmesh_gossip::{validation::SequencerKey, BanConfig, MeshParams, PeerLimits, ScoringMode};
use opmesh_peers::GaterConfig;
use opmesh_primitives::ChainConfig;

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
    pub unsafe_block_signer: Option<Address>,
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
}

impl NetworkConfig {
    /// op-node's defaults for `chain` with `identity`.
    pub fn new(chain: ChainConfig, identity: NodeIdentity) -> Self {
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
            lookup_interval: Duration::from_secs(5),
            slow_lookup_interval: Duration::from_secs(20),
            static_peers: Vec::new(),
            peerstore_path: None,
            unsafe_block_signer: None,
            sequencer_key: None,
            peer_limits: PeerLimits::default(),
            scoring: ScoringMode::Light,
            bans: BanConfig::default(),
            gater: GaterConfig::default(),
            mesh: MeshParams::default(),
            timestamp_threshold: opmesh_gossip::validation::DEFAULT_TIMESTAMP_THRESHOLD,
            dial_timeout: Duration::from_secs(10),
            agent_version: None,
            ping: true,
            accept_timeout: Duration::from_secs(10),
            payload_buffer: 1024,
            serve_payload_by_number: true,
        }
    }
}
