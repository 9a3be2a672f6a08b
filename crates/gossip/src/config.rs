//! Gossip configuration: op-node's gossipsub parameters and the node-level settings.

use std::time::Duration;

use libp2p::{
    gossipsub::{self, ValidationMode},
    identity::Keypair,
    Multiaddr,
};
use opmesh_primitives::ChainConfig;

pub use opmesh_peers::{BanConfig, PeerLimits, PeersConfig};

/// Default capacity of the validated-payload stream (the one default for `payload_buffer`).
pub const DEFAULT_PAYLOAD_BUFFER: usize = 1024;

/// The dial timeout's one default lives with the peer knobs; re-exported for this path.
pub use opmesh_peers::DEFAULT_DIAL_TIMEOUT;

use crate::{
    message_id::gossip_message_id, reqresp::ReqRespConfig, scoring::ScoringMode,
    swarm::TransportKind, validation::PipelineLimits, validation::SequencerKey,
    validation::DEFAULT_TIMESTAMP_THRESHOLD, MAX_GOSSIP_SIZE,
};

/// How much of block validation runs (`--p2p.gossip.validation`, hidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValidationLevel {
    /// Every check, in op-node's order (the default; the only level for real networks).
    #[default]
    Full,
    /// Decode only: snappy, length and SSZ, no signature, signer, timestamp, block-hash or
    /// version checks, no payload hash. The network lab's baseline for what gossip costs
    /// without validation; a node running it relays anything that decodes, so never use it on
    /// a real network.
    None,
}

impl std::str::FromStr for ValidationLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Self::Full),
            "none" => Ok(Self::None),
            other => Err(format!(
                "unknown validation level {other:?}: expected full or none"
            )),
        }
    }
}

/// The gossipsub mesh parameters operators may tune (op-node's hidden `--p2p.gossip.mesh.*`
/// flags); everything else is fixed to op-node's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshParams {
    /// D (`--p2p.gossip.mesh.d`, 8).
    pub d: usize,
    /// D_lo (`--p2p.gossip.mesh.lo`, 6).
    pub d_lo: usize,
    /// D_hi (`--p2p.gossip.mesh.dhi`, 12).
    pub d_hi: usize,
    /// D_lazy (`--p2p.gossip.mesh.dlazy`, 6).
    pub d_lazy: usize,
    /// Flood publish (`--p2p.gossip.mesh.floodpublish`, false).
    pub flood_publish: bool,
    /// Heartbeat interval (500 ms; tests shorten it).
    pub heartbeat: Duration,
    /// Send gossipsub v1.2 IDONTWANT for messages above 1 kB, as go-libp2p-pubsub does (true;
    /// false only for the network lab's with/without comparison, the hidden
    /// `--p2p.debug.no-idontwant`). IDONTWANT received from peers is honoured either way.
    pub idontwant: bool,
}

impl Default for MeshParams {
    fn default() -> Self {
        Self {
            d: 8,
            d_lo: 6,
            d_hi: 12,
            d_lazy: 6,
            flood_publish: false,
            heartbeat: Duration::from_millis(500),
            idontwant: true,
        }
    }
}

/// op-node's gossip parameters that are not tunable.
pub mod params {
    use std::time::Duration;

    /// Fanout TTL (24 s).
    pub const FANOUT_TTL: Duration = Duration::from_secs(24);
    /// Message cache windows kept (12).
    pub const HISTORY_LENGTH: usize = 12;
    /// Message cache windows gossiped (3).
    pub const HISTORY_GOSSIP: usize = 3;
    /// Seen-messages TTL: 130 heartbeats of 500 ms = 65 s.
    pub const SEEN_TTL: Duration = Duration::from_secs(65);
    /// Messages larger than this are announced with IDONTWANT to mesh peers once received
    /// (go-libp2p-pubsub's `GossipSubIDontWantMessageThreshold`, 1 kB).
    pub const IDONTWANT_THRESHOLD: usize = 1024;
}

/// Builds the gossipsub configuration op-node uses: StrictNoSign (we publish no author,
/// sequence number or signature and reject messages carrying them), application validation,
/// op-node's message id, 10 MiB messages, no peer exchange.
pub fn gossipsub_config(mesh: &MeshParams) -> Result<gossipsub::Config, String> {
    gossipsub::ConfigBuilder::default()
        .mesh_n(mesh.d)
        .mesh_n_low(mesh.d_lo)
        .mesh_n_high(mesh.d_hi)
        .mesh_outbound_min((mesh.d_lo / 3).min(mesh.d / 2).max(1).min(mesh.d_lo))
        .gossip_lazy(mesh.d_lazy)
        .heartbeat_interval(mesh.heartbeat)
        .fanout_ttl(params::FANOUT_TTL)
        .history_length(params::HISTORY_LENGTH)
        .history_gossip(params::HISTORY_GOSSIP)
        .duplicate_cache_time(params::SEEN_TTL)
        .max_transmit_size(MAX_GOSSIP_SIZE)
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(gossip_message_id)
        .flood_publish(mesh.flood_publish)
        .idontwant_message_size_threshold(if mesh.idontwant {
            params::IDONTWANT_THRESHOLD
        } else {
            usize::MAX
        })
        .build()
        .map_err(|e| e.to_string())
}

/// Who this gossip node is and where it listens: the inputs of [`crate::GossipDriver::new`]
/// that are not tuning knobs (the knobs are [`GossipConfig`] and `opmesh_peers::PeersConfig`; the
/// live signer is a [`crate::validation::Signers`] argument).
#[derive(Debug, Clone)]
pub struct LocalNode {
    /// The chain served.
    pub chain: ChainConfig,
    /// The node's libp2p identity.
    pub keypair: Keypair,
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/tcp/9222` (`/memory/0` for
    /// [`TransportKind::Memory`]).
    pub listen_addrs: Vec<Multiaddr>,
    /// The transport: TCP but in tests.
    pub transport: TransportKind,
}

impl LocalNode {
    /// A node of `chain` with `keypair`, listening over TCP on `listen_addrs`.
    pub fn new(chain: ChainConfig, keypair: Keypair, listen_addrs: Vec<Multiaddr>) -> Self {
        Self {
            chain,
            keypair,
            listen_addrs,
            transport: TransportKind::Tcp,
        }
    }

    /// A node of `chain` with `keypair` on libp2p's in-process memory transport, listening on
    /// a free `/memory/<port>`: for tests that run many nodes without sockets.
    pub fn in_memory(chain: ChainConfig, keypair: Keypair) -> Self {
        Self {
            chain,
            keypair,
            listen_addrs: vec![Multiaddr::empty().with(libp2p::multiaddr::Protocol::Memory(0))],
            transport: TransportKind::Memory,
        }
    }
}

/// The gossip knobs, plain data with op-node's defaults ([`GossipConfig::default`]): mesh,
/// scoring, validation, publishing, protocols. Peer management has its own branch
/// (`opmesh_peers::PeersConfig`); channels are constructor arguments, never fields here.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// `--p2p.gossip.mesh.*`.
    pub mesh: MeshParams,
    /// `--p2p.scoring`.
    pub scoring: ScoringMode,
    /// `--p2p.sequencer.key`: the key this node signs blocks with when it publishes payloads
    /// as the sequencer.
    pub sequencer_key: Option<SequencerKey>,
    /// Maximum block age (`--p2p.gossip.timestamp.threshold`).
    pub timestamp_threshold: Duration,
    /// Capacity of the validated-payload stream; when full, payloads are counted and dropped.
    pub payload_buffer: usize,
    /// Validation bounds: messages pending at once (beyond this, new messages are IGNOREd and
    /// counted), each peer's share of them, worker threads (the machine's cores).
    pub pipeline: PipelineLimits,
    /// `--p2p.useragent`: the identify agent version (`opmesh/<version>`).
    pub agent_version: String,
    /// How long an idle connection is kept.
    pub idle_connection_timeout: Duration,
    /// Run the ping protocol (`--p2p.ping`, default true).
    pub ping: bool,
    /// Time an inbound connection has to finish its noise and yamux upgrade
    /// (`--p2p.timeout.accept`, 10 s).
    pub accept_timeout: Duration,
    /// How often peer targets, bans and the peerstore are maintained.
    pub maintenance_interval: Duration,
    /// Serve op-node's `payload_by_number` requests from recently validated blocks
    /// (`--p2p.sync.req-resp`, default true).
    pub serve_payload_by_number: bool,
    /// Rate limits, timeouts and store bounds of the `payload_by_number` server.
    pub req_resp: ReqRespConfig,
    /// How much of block validation runs (`--p2p.gossip.validation`, hidden;
    /// [`ValidationLevel::Full`] but in the network lab).
    pub validation: ValidationLevel,
    /// Seconds added to this node's clock when validating (0 but in the network lab's
    /// skewed-clock scenario; the hidden `--p2p.debug.clock-offset`).
    pub clock_offset_secs: i64,
    /// NAT traversal (`--p2p.nat`): off by default, as in op-node.
    pub nat: NatConfig,
}

/// NAT traversal (`--p2p.nat`). An address either confirms becomes a confirmed external
/// address of the swarm ([`crate::NetworkEvent::ExternalAddrConfirmed`]), which the network
/// puts in the ENR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatConfig {
    /// Ask the gateway for a port mapping with UPnP IGD (libp2p's `upnp` behaviour; it does
    /// not speak NAT-PMP or PCP). A mapping made is confirmed as the external address.
    pub upnp: bool,
    /// AutoNAT (v1) client and server: connected peers dial the addresses others observe us
    /// at; one that answers is confirmed. The server side serves peers the same way.
    pub autonat: bool,
    /// AutoNAT with peers at non-global IPs too (loopback, private ranges): for tests and
    /// private networks; a public node leaves it off, as libp2p does.
    pub autonat_private_ips: bool,
}

impl NatConfig {
    /// `--p2p.nat`: UPnP and AutoNAT.
    pub const fn on() -> Self {
        Self {
            upnp: true,
            autonat: true,
            autonat_private_ips: false,
        }
    }
}

impl Default for GossipConfig {
    /// op-node's defaults.
    fn default() -> Self {
        Self {
            mesh: MeshParams::default(),
            scoring: ScoringMode::Light,
            sequencer_key: None,
            timestamp_threshold: DEFAULT_TIMESTAMP_THRESHOLD,
            payload_buffer: DEFAULT_PAYLOAD_BUFFER,
            pipeline: PipelineLimits::default(),
            agent_version: format!("opmesh/{}", env!("CARGO_PKG_VERSION")),
            idle_connection_timeout: Duration::from_secs(60),
            ping: true,
            accept_timeout: Duration::from_secs(10),
            maintenance_interval: Duration::from_secs(1),
            serve_payload_by_number: true,
            req_resp: ReqRespConfig::default(),
            validation: ValidationLevel::Full,
            clock_offset_secs: 0,
            nat: NatConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_node_parameters() {
        let config = gossipsub_config(&MeshParams::default()).expect("valid");
        assert_eq!(config.mesh_n(), 8);
        assert_eq!(config.mesh_n_low(), 6);
        assert_eq!(config.mesh_n_high(), 12);
        assert_eq!(config.gossip_lazy(), 6);
        assert_eq!(config.heartbeat_interval(), Duration::from_millis(500));
        assert_eq!(config.fanout_ttl(), Duration::from_secs(24));
        assert_eq!(config.history_length(), 12);
        assert_eq!(config.history_gossip(), 3);
        assert_eq!(config.duplicate_cache_time(), Duration::from_secs(65));
        assert_eq!(config.max_transmit_size(), 10 * 1024 * 1024);
        assert!(!config.flood_publish());
        assert!(!config.do_px());
        assert!(config.validate_messages());
        assert!(matches!(
            config.validation_mode(),
            ValidationMode::Anonymous
        ));
        // go-libp2p-pubsub's GossipSubIDontWantMessageThreshold.
        assert_eq!(config.idontwant_message_size_threshold(), 1024);
        let without = gossipsub_config(&MeshParams {
            idontwant: false,
            ..MeshParams::default()
        })
        .expect("valid");
        assert_eq!(without.idontwant_message_size_threshold(), usize::MAX);
    }
}
