//! Flag groups `opmesh node` and `opmesh bootnode` both accept, declared once so a name, env
//! variable, default or help text cannot drift between the two commands.
//!
//! Each group is flattened into both commands' flags. Where `opmesh bootnode` words a help
//! text differently on purpose (its listen IP is UDP only, its key backs the ENR operators
//! configure), `bootnode.rs` overrides that text explicitly.

use std::{net::IpAddr, path::PathBuf};

use clap::{ArgAction, Args};

use crate::node::flags::{go_bool, port, LogFormat};

/// The secp256k1 key behind the node id and ENR.
#[derive(Debug, Clone, Args)]
pub struct IdentityArgs {
    /// File holding the node's secp256k1 key as hex; created (mode 0600) if absent.
    #[arg(
        long = "p2p.priv.path",
        env = "OPMESH_P2P_PRIV_PATH",
        default_value = "opnode_p2p_priv.txt"
    )]
    pub priv_path: PathBuf,
    /// The node key as hex, instead of --p2p.priv.path.
    #[arg(long = "p2p.priv.raw", env = "OPMESH_P2P_PRIV_RAW", hide = true)]
    pub priv_raw: Option<String>,
}

/// Where discv5 listens and what its ENR advertises (the UDP listen port is per command: its
/// default differs).
#[derive(Debug, Clone, Args)]
pub struct DiscoveryListenArgs {
    /// IP to listen on (TCP and UDP).
    #[arg(
        long = "p2p.listen.ip",
        env = "OPMESH_P2P_LISTEN_IP",
        default_value = "0.0.0.0"
    )]
    pub listen_ip: IpAddr,
    /// IP or host name to put in the ENR (a name is resolved at start); turns off learning it
    /// from peers.
    #[arg(long = "p2p.advertise.ip", env = "OPMESH_P2P_ADVERTISE_IP")]
    pub advertise_ip: Option<String>,
    /// UDP port to put in the ENR (0 = the listen port).
    #[arg(long = "p2p.advertise.udp", env = "OPMESH_P2P_ADVERTISE_UDP", value_parser = port)]
    pub advertise_udp: Option<u16>,
}

/// Who discovery starts from, talks to, and where it keeps its table.
#[derive(Debug, Clone, Args)]
pub struct DiscoveryArgs {
    /// Comma-separated ENRs or enode URLs to bootstrap discovery from.
    #[arg(
        long = "p2p.bootnodes",
        env = "OPMESH_P2P_BOOTNODES",
        value_delimiter = ','
    )]
    pub bootnodes: Vec<String>,
    /// Comma-separated CIDRs: discovery talks only to these networks.
    #[arg(long = "p2p.netrestrict", env = "OPMESH_P2P_NETRESTRICT")]
    pub netrestrict: Option<String>,
    /// Directory for the discovery table, or `memory`.
    #[arg(
        long = "p2p.discovery.path",
        env = "OPMESH_P2P_DISCOVERY_PATH",
        default_value = "opnode_discovery_db"
    )]
    pub discovery_path: String,
}

/// The admin JSON-RPC server's address and access control.
#[derive(Debug, Clone, Args)]
pub struct RpcArgs {
    /// Admin RPC listen address.
    #[arg(
        long = "rpc.addr",
        env = "OPMESH_RPC_ADDR",
        default_value = "127.0.0.1"
    )]
    pub rpc_addr: IpAddr,
    /// Admin RPC port (HTTP and WebSocket).
    #[arg(long = "rpc.port", env = "OPMESH_RPC_PORT", default_value = "9545")]
    pub rpc_port: u16,
    /// File with a 32-byte hex secret: require HS256 JWTs on the RPC.
    #[arg(long = "rpc.jwt-secret", env = "OPMESH_RPC_JWT_SECRET")]
    pub rpc_jwt_secret: Option<PathBuf>,
    /// Comma-separated host names accepted in the HTTP Host header besides localhost and IP
    /// addresses (`*` = any; geth's --http.vhosts).
    #[arg(long = "rpc.vhosts", env = "OPMESH_RPC_VHOSTS", value_delimiter = ',')]
    pub rpc_vhosts: Vec<String>,
    /// Comma-separated browser origins (or host names) allowed to call the RPC besides local
    /// pages (`*` = any; geth's --ws.origins / --http.corsdomain).
    #[arg(
        long = "rpc.origins",
        env = "OPMESH_RPC_ORIGINS",
        value_delimiter = ','
    )]
    pub rpc_origins: Vec<String>,
}

impl RpcArgs {
    /// The address `--rpc.addr` and `--rpc.port` give.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.rpc_addr, self.rpc_port)
    }
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics.
    #[arg(long = "metrics.enabled", env = "OPMESH_METRICS_ENABLED", default_value = "false", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_parser = go_bool)]
    pub metrics_enabled: bool,
    /// Metrics listen address.
    #[arg(
        long = "metrics.addr",
        env = "OPMESH_METRICS_ADDR",
        default_value = "0.0.0.0"
    )]
    pub metrics_addr: IpAddr,
    /// Metrics port.
    #[arg(
        long = "metrics.port",
        env = "OPMESH_METRICS_PORT",
        default_value = "7300"
    )]
    pub metrics_port: u16,
}

impl MetricsArgs {
    /// The address to serve metrics on, if `--metrics.enabled`.
    pub fn listen_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_enabled
            .then(|| std::net::SocketAddr::new(self.metrics_addr, self.metrics_port))
    }
}

/// Logging.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long = "log.level", env = "OPMESH_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Log format: text or json.
    #[arg(long = "log.format", env = "OPMESH_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Colour the text log (default: when stderr is a terminal).
    #[arg(long = "log.color", env = "OPMESH_LOG_COLOR", num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub log_color: Option<bool>,
}
