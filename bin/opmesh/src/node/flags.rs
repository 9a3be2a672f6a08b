//! `opmesh node` flags: op-node's names and defaults, each also read from `OPMESH_<FLAG>`.

use std::{path::PathBuf, time::Duration};

use alloy_primitives::Address;
use clap::{ArgAction, Args};
use opmesh_primitives::parse_go_duration;

use crate::{
    chain_args::ChainArgs,
    flag_groups::{
        DiscoveryArgs, DiscoveryListenArgs, IdentityArgs, LogArgs, MetricsArgs, RpcArgs,
    },
};

/// Parses a port the way op-node does: 0 (any) or 1024 and up.
pub(crate) fn port(text: &str) -> Result<u16, String> {
    let port: u16 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a port number"))?;
    if port != 0 && port < 1024 {
        return Err(format!(
            "port {port} is privileged; use 0 or 1024 and above"
        ));
    }
    Ok(port)
}

/// Parses a boolean the way op-node's flags (Go `strconv.ParseBool`) do: 1, t, true, 0, f,
/// false in any case. `--flag` alone means true; `--flag=false` turns it off.
pub fn go_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean (true or false)")),
    }
}

fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 && n <= 1000 => Ok(n),
        _ => Err(format!("{text:?} must be a whole number from 1 to 1000")),
    }
}

/// Everything `opmesh node` accepts.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    #[command(flatten)]
    pub chain: ChainArgs,

    // ---- identity and listening ----
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub listen: DiscoveryListenArgs,
    /// TCP port for libp2p (0 = any free port).
    #[arg(long = "p2p.listen.tcp", env = "OPMESH_P2P_LISTEN_TCP", default_value = "9222", value_parser = port)]
    pub listen_tcp: u16,
    /// UDP port for discv5; 0 (the default) = the TCP port, as op-node documents it.
    #[arg(long = "p2p.listen.udp", env = "OPMESH_P2P_LISTEN_UDP", default_value = "0", value_parser = port)]
    pub listen_udp: u16,
    /// TCP port to put in the ENR (0 = the listen port).
    #[arg(long = "p2p.advertise.tcp", env = "OPMESH_P2P_ADVERTISE_TCP", value_parser = port)]
    pub advertise_tcp: Option<u16>,

    // ---- discovery ----
    /// Disable discv5.
    #[arg(long = "p2p.no-discovery", env = "OPMESH_P2P_NO_DISCOVERY", default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub no_discovery: bool,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,

    // ---- peers ----
    /// Comma-separated multiaddrs (ending in /p2p/<id>) to stay connected to.
    #[arg(long = "p2p.static", env = "OPMESH_P2P_STATIC", value_delimiter = ',')]
    pub static_peers: Vec<String>,
    /// Dial discovered peers while fewer are connected.
    #[arg(
        long = "p2p.peers.lo",
        env = "OPMESH_P2P_PEERS_LO",
        default_value = "20"
    )]
    pub peers_lo: usize,
    /// Trim connections down to peers.lo above this.
    #[arg(
        long = "p2p.peers.hi",
        env = "OPMESH_P2P_PEERS_HI",
        default_value = "30"
    )]
    pub peers_hi: usize,
    /// New connections are not trimmed during this period.
    #[arg(long = "p2p.peers.grace", env = "OPMESH_P2P_PEERS_GRACE", default_value = "30s", value_parser = parse_go_duration)]
    pub peers_grace: Duration,
    /// Directory for the peerstore (bans, block lists, known peers), or `memory`.
    #[arg(
        long = "p2p.peerstore.path",
        env = "OPMESH_P2P_PEERSTORE_PATH",
        default_value = "opnode_peerstore_db"
    )]
    pub peerstore_path: String,
    /// Peer scoring: light or none.
    #[arg(
        long = "p2p.scoring",
        env = "OPMESH_P2P_SCORING",
        default_value = "light"
    )]
    pub scoring: opmesh_gossip::ScoringMode,
    /// Ban peers whose score falls below --p2p.ban.threshold.
    #[arg(long = "p2p.ban.peers", env = "OPMESH_P2P_BAN_PEERS", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub ban_peers: bool,
    /// Score below which a peer is banned.
    #[arg(
        long = "p2p.ban.threshold",
        env = "OPMESH_P2P_BAN_THRESHOLD",
        default_value = "-100",
        allow_hyphen_values = true
    )]
    pub ban_threshold: f64,
    /// How long a ban lasts (Go duration).
    #[arg(long = "p2p.ban.duration", env = "OPMESH_P2P_BAN_DURATION", default_value = "1h", value_parser = parse_go_duration)]
    pub ban_duration: Duration,
    /// Dials of one peer allowed per --p2p.redial.period (0 = unlimited).
    #[arg(long = "p2p.redial", env = "OPMESH_P2P_REDIAL", default_value = "500")]
    pub redial: u32,
    /// The period of --p2p.redial.
    #[arg(long = "p2p.redial.period", env = "OPMESH_P2P_REDIAL_PERIOD", default_value = "1h", value_parser = parse_go_duration)]
    pub redial_period: Duration,
    /// Dial timeout.
    #[arg(long = "p2p.timeout.dial", env = "OPMESH_P2P_TIMEOUT_DIAL", default_value = "10s", value_parser = parse_go_duration)]
    pub dial_timeout: Duration,

    // ---- gossip ----
    /// The unsafe-block signer (without it, blocks are IGNOREd).
    #[arg(
        long = "p2p.unsafe.block.signer",
        env = "OPMESH_P2P_UNSAFE_BLOCK_SIGNER"
    )]
    pub unsafe_block_signer: Option<Address>,
    /// How long the previous unsafe-block signer stays valid after a change (op-node's 3h),
    /// ending early once a block from the new signer verifies.
    #[arg(long = "p2p.unsafe.block.signer.grace", env = "OPMESH_P2P_UNSAFE_BLOCK_SIGNER_GRACE", default_value = "3h", value_parser = parse_go_duration)]
    pub signer_grace: Duration,
    /// L1 endpoint (http(s):// or ws(s)://): follow the unsafe-block signer in the chain's
    /// SystemConfig (from --rollup.config or the --network preset). The signer flag or the
    /// preset's signer is then only the starting value.
    #[arg(long = "l1", env = "OPMESH_L1", value_name = "URL")]
    pub l1: Option<String>,
    /// How often the signer is re-read from L1 (also early, rate-limited, when a block arrives
    /// signed by an unknown address).
    #[arg(long = "l1.runtime-config-reload-interval", env = "OPMESH_L1_RUNTIME_CONFIG_RELOAD_INTERVAL", default_value = "10m", value_parser = parse_go_duration)]
    pub l1_reload_interval: Duration,
    /// Hex secp256k1 key to sign published blocks with (sequencer).
    #[arg(long = "p2p.sequencer.key", env = "OPMESH_P2P_SEQUENCER_KEY")]
    pub sequencer_key: Option<String>,
    /// File holding the hex sequencer key, instead of --p2p.sequencer.key (which shows in
    /// `ps`). Refused if the group or others can read it.
    #[arg(
        long = "p2p.sequencer.key.path",
        env = "OPMESH_P2P_SEQUENCER_KEY_PATH",
        conflicts_with = "sequencer_key"
    )]
    pub sequencer_key_path: Option<PathBuf>,
    /// Maximum age of gossiped blocks.
    #[arg(long = "p2p.gossip.timestamp.threshold", env = "OPMESH_P2P_GOSSIP_TIMESTAMP_THRESHOLD", default_value = "60s", value_parser = parse_go_duration)]
    pub timestamp_threshold: Duration,
    /// Gossip mesh D.
    #[arg(long = "p2p.gossip.mesh.d", env = "OPMESH_P2P_GOSSIP_MESH_D", default_value = "8", value_parser = positive, hide = true)]
    pub mesh_d: usize,
    /// Gossip mesh D_lo.
    #[arg(long = "p2p.gossip.mesh.lo", env = "OPMESH_P2P_GOSSIP_MESH_LO", default_value = "6", value_parser = positive, hide = true)]
    pub mesh_lo: usize,
    /// Gossip mesh D_hi.
    #[arg(long = "p2p.gossip.mesh.dhi", env = "OPMESH_P2P_GOSSIP_MESH_DHI", default_value = "12", value_parser = positive, hide = true)]
    pub mesh_dhi: usize,
    /// Gossip mesh D_lazy.
    #[arg(long = "p2p.gossip.mesh.dlazy", env = "OPMESH_P2P_GOSSIP_MESH_DLAZY", default_value = "6", value_parser = positive, hide = true)]
    pub mesh_dlazy: usize,
    /// Publish to all topic peers, not only the mesh.
    #[arg(long = "p2p.gossip.mesh.floodpublish", env = "OPMESH_P2P_GOSSIP_MESH_FLOODPUBLISH", hide = true, default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub flood_publish: bool,
    /// Block validation: full, or none (decode only, no signature/hash/timestamp checks).
    /// `none` exists for the network lab's gossip-cost baseline (`opmesh lab propagation
    /// --validation none`); a node running it relays anything that decodes. Never on a real
    /// network.
    #[arg(
        long = "p2p.gossip.validation",
        env = "OPMESH_P2P_GOSSIP_VALIDATION",
        default_value = "full",
        hide = true
    )]
    pub gossip_validation: opmesh_gossip::ValidationLevel,
    /// Seconds added to this node's clock when it validates blocks: the network lab's
    /// skewed-clock scenario. Never on a real network.
    #[arg(
        long = "p2p.debug.clock-offset",
        env = "OPMESH_P2P_DEBUG_CLOCK_OFFSET",
        default_value = "0",
        allow_hyphen_values = true,
        hide = true
    )]
    pub clock_offset_secs: i64,
    /// Send no gossipsub IDONTWANT: the network lab's baseline for what IDONTWANT saves.
    /// Never on a real network.
    #[arg(
        long = "p2p.debug.no-idontwant",
        env = "OPMESH_P2P_DEBUG_NO_IDONTWANT",
        hide = true
    )]
    pub no_idontwant: bool,

    /// Serve op-node's payload_by_number requests from recently validated blocks.
    #[arg(long = "p2p.sync.req-resp", env = "OPMESH_P2P_SYNC_REQ_RESP", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub sync_req_resp: bool,

    // ---- op-node's hidden and deprecated flags (see `compat.rs` for what each does) ----
    /// op-node: disable the whole P2P stack. opmesh is the P2P stack, so `true` is refused.
    #[arg(long = "p2p.disable", env = "OPMESH_P2P_DISABLE", hide = true, default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub p2p_disable: bool,
    /// Stream multiplexers in order of preference; opmesh offers yamux only.
    #[arg(long = "p2p.mux", env = "OPMESH_P2P_MUX", hide = true)]
    pub mux: Option<String>,
    /// Transport security in order of preference; opmesh offers noise only.
    #[arg(long = "p2p.security", env = "OPMESH_P2P_SECURITY", hide = true)]
    pub security: Option<String>,
    /// Identify user agent (default `opmesh/<version>`; op-node's is `optimism`).
    #[arg(long = "p2p.useragent", env = "OPMESH_P2P_USERAGENT", hide = true)]
    pub useragent: Option<String>,
    /// op-node's stream protocol negotiation timeout; accepted, see `compat.rs`.
    #[arg(long = "p2p.timeout.negotiation", env = "OPMESH_P2P_TIMEOUT_NEGOTIATION", hide = true, value_parser = parse_go_duration)]
    pub timeout_negotiation: Option<Duration>,
    /// Time an inbound connection has to finish its security and multiplexer upgrade.
    #[arg(long = "p2p.timeout.accept", env = "OPMESH_P2P_TIMEOUT_ACCEPT", hide = true, default_value = "10s", value_parser = parse_go_duration)]
    pub timeout_accept: Duration,
    /// Run the libp2p ping protocol (liveness and latency).
    #[arg(long = "p2p.ping", env = "OPMESH_P2P_PING", hide = true, default_value = "true", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub ping: bool,
    /// op-node: request sync only from static peers. opmesh has no sync client; ignored.
    #[arg(long = "p2p.sync.onlyreqtostatic", env = "OPMESH_P2P_SYNC_ONLYREQTOSTATIC", hide = true, num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub sync_only_req_to_static: Option<bool>,
    /// Deprecated in op-node (use --p2p.scoring); ignored.
    #[arg(
        long = "p2p.scoring.peers",
        env = "OPMESH_P2P_SCORING_PEERS",
        hide = true
    )]
    pub scoring_peers: Option<String>,
    /// Deprecated in op-node, which ignores it; ignored.
    #[arg(long = "p2p.score.bands", env = "OPMESH_P2P_SCORE_BANDS", hide = true)]
    pub score_bands: Option<String>,
    /// Deprecated in op-node (use --p2p.scoring); ignored.
    #[arg(
        long = "p2p.scoring.topics",
        env = "OPMESH_P2P_SCORING_TOPICS",
        hide = true
    )]
    pub scoring_topics: Option<String>,
    /// NAT traversal: UPnP IGD port mapping and AutoNAT; a confirmed external address goes
    /// into the ENR (unless --p2p.advertise.ip is set).
    #[arg(long = "p2p.nat", env = "OPMESH_P2P_NAT", default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub nat: bool,
    /// AutoNAT with peers at loopback and private IPs too (tests, private networks).
    #[arg(long = "p2p.debug.nat-private-ips", env = "OPMESH_P2P_DEBUG_NAT_PRIVATE_IPS", hide = true, default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub nat_private_ips: bool,

    // ---- dev block producer ----
    /// Produce a valid synthetic block every INTERVAL_MS and publish it (needs --p2p.sequencer.key).
    #[arg(
        long = "dev.blocks",
        env = "OPMESH_DEV_BLOCKS",
        value_name = "INTERVAL_MS"
    )]
    pub dev_blocks: Option<u64>,
    /// Transactions per dev block.
    #[arg(long = "dev.txs", env = "OPMESH_DEV_TXS", default_value = "0")]
    pub dev_txs: usize,
    /// The number of the first dev block (the network lab's rotation scenario starts a second
    /// producer with a new key where the first one stopped). Never on a real network.
    #[arg(
        long = "dev.first-block",
        env = "OPMESH_DEV_FIRST_BLOCK",
        default_value = "1",
        hide = true
    )]
    pub dev_first_block: u64,

    // ---- RPC ----
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// Serve the admin_* methods (admin_postUnsafePayload signs with the sequencer key).
    /// Refused on a non-loopback --rpc.addr without --rpc.jwt-secret.
    #[arg(long = "rpc.enable-admin", env = "OPMESH_RPC_ENABLE_ADMIN", default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub rpc_enable_admin: bool,

    // ---- metrics ----
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// Also export op-node's P2P metric names (`op_node_default_p2p_*`,
    /// `op_node_default_peer_scores`) so op-node dashboards and alerts keep working.
    #[arg(long = "metrics.op-node-names", env = "OPMESH_METRICS_OP_NODE_NAMES", default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub metrics_op_node_names: bool,

    // ---- logs ----
    #[command(flatten)]
    pub log: LogArgs,
}

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (op-node's `terminal` and `logfmt` are read as this).
    #[value(alias = "terminal", alias = "logfmt")]
    Text,
    /// One JSON object per line (op-node's `json-pretty` is read as this).
    #[value(alias = "json-pretty")]
    Json,
}
