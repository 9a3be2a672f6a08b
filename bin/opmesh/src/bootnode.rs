//! `opmesh bootnode`: discv5 only, for an operator's own chain (op-node's `op-bootnode`).
//!
//! The flags are `opmesh node`'s discovery, RPC, metrics and log flags with the same names,
//! defaults and `OPMESH_*` / op-node (`OP_NODE_*`) environment variables; op-bootnode's own
//! `OP_BOOTNODE_*` names are read too.

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

use clap::{ArgAction, Args};
use opmesh_discovery::{DiscoveryConfig, TableLocation};
use opmesh_network::Bootnode;
use tracing::info;

use crate::{
    chain_args::ChainArgs,
    node::{
        self,
        config::{advertise_ip, bootnodes, identity, netrestrict},
        flags::{go_bool, port, LogFormat},
        CliError,
    },
};

/// Everything `opmesh bootnode` accepts.
#[derive(Debug, Clone, Args)]
pub struct BootnodeArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    /// File holding the bootnode's secp256k1 key as hex; created (mode 0600) if absent. Keep it:
    /// the ENR operators configure depends on it.
    #[arg(
        long = "p2p.priv.path",
        env = "OPMESH_P2P_PRIV_PATH",
        default_value = "opnode_p2p_priv.txt"
    )]
    pub priv_path: PathBuf,
    /// The key as hex, instead of --p2p.priv.path.
    #[arg(long = "p2p.priv.raw", env = "OPMESH_P2P_PRIV_RAW", hide = true)]
    pub priv_raw: Option<String>,
    /// IP to listen on (UDP).
    #[arg(
        long = "p2p.listen.ip",
        env = "OPMESH_P2P_LISTEN_IP",
        default_value = "0.0.0.0"
    )]
    pub listen_ip: IpAddr,
    /// UDP port for discv5 (0 = any free port). 9222 is what op-bootnode ends up with: its
    /// UDP 0 means the TCP port, 9222.
    #[arg(long = "p2p.listen.udp", env = "OPMESH_P2P_LISTEN_UDP", default_value = "9222", value_parser = port)]
    pub listen_udp: u16,
    /// IP or host name to put in the ENR (a name is resolved at start); turns off learning it
    /// from peers.
    #[arg(long = "p2p.advertise.ip", env = "OPMESH_P2P_ADVERTISE_IP")]
    pub advertise_ip: Option<String>,
    /// UDP port to put in the ENR (0 = the listen port).
    #[arg(long = "p2p.advertise.udp", env = "OPMESH_P2P_ADVERTISE_UDP", value_parser = port)]
    pub advertise_udp: Option<u16>,
    /// Comma-separated ENRs or enode URLs of other bootnodes to bootstrap from.
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

    /// Admin RPC listen address.
    #[arg(
        long = "rpc.addr",
        env = "OPMESH_RPC_ADDR",
        default_value = "127.0.0.1"
    )]
    pub rpc_addr: IpAddr,
    /// Admin RPC port (HTTP and WebSocket): opp2p_self, opp2p_discoveryTable,
    /// opp2p_peerStats, opp2p_peerCount.
    #[arg(long = "rpc.port", env = "OPMESH_RPC_PORT", default_value = "9545")]
    pub rpc_port: u16,
    /// File with a 32-byte hex secret: require HS256 JWTs on the RPC.
    #[arg(long = "rpc.jwt-secret", env = "OPMESH_RPC_JWT_SECRET")]
    pub rpc_jwt_secret: Option<PathBuf>,
    /// Comma-separated host names accepted in the HTTP Host header besides local ones.
    #[arg(long = "rpc.vhosts", env = "OPMESH_RPC_VHOSTS", value_delimiter = ',')]
    pub rpc_vhosts: Vec<String>,
    /// Comma-separated browser origins allowed to call the RPC besides local pages.
    #[arg(
        long = "rpc.origins",
        env = "OPMESH_RPC_ORIGINS",
        value_delimiter = ','
    )]
    pub rpc_origins: Vec<String>,

    /// Serve Prometheus metrics (the discovery series: table size, ENRs seen by result).
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

/// The discovery configuration of a bootnode from its flags (the chain, key, addresses, other
/// bootnodes, netrestrict and table path), and its key.
pub fn discovery_config(
    args: &BootnodeArgs,
) -> Result<(DiscoveryConfig, opmesh_discovery::NodeIdentity), CliError> {
    let chain = args
        .chain
        .resolve_with_preset()
        .map_err(|e| CliError(e.to_string()))?
        .chain;
    let identity = identity(args.priv_raw.as_deref(), &args.priv_path)?;
    let mut config = DiscoveryConfig::new(chain.chain_id);
    config.listen_ip = args.listen_ip;
    config.listen_udp_port = args.listen_udp;
    config.advertise_ip = advertise_ip(args.advertise_ip.as_deref(), args.listen_ip)?;
    config.advertise_udp_port = args.advertise_udp.filter(|p| *p != 0);
    config.bootnodes = bootnodes(&args.bootnodes)?;
    config.netrestrict = netrestrict(args.netrestrict.as_deref())?;
    config.table = TableLocation::from_flag(&args.discovery_path);
    Ok((config, identity))
}

/// Runs the bootnode until SIGINT or SIGTERM; the table is written on the way out.
pub async fn run(args: BootnodeArgs) -> Result<(), CliError> {
    let rpc_config = node::rpc_config(
        std::net::SocketAddr::new(args.rpc_addr, args.rpc_port),
        args.rpc_jwt_secret.as_deref(),
        &args.rpc_vhosts,
        &args.rpc_origins,
    )?;
    let (config, identity) = discovery_config(&args)?;
    let metrics = if args.metrics_enabled {
        let addr = std::net::SocketAddr::new(args.metrics_addr, args.metrics_port);
        Some(opmesh_metrics::install(addr).map_err(|e| CliError::flag("--metrics.port", e))?)
    } else {
        None
    };
    let bootnode = Bootnode::start(config, &identity)
        .await
        .map_err(|e| CliError::flag("--p2p.listen.udp", e))?;
    let rpc = match opmesh_rpc::start(rpc_config, Arc::new(bootnode.rpc_backend())).await {
        Ok(rpc) => rpc,
        Err(e) => {
            let _ = bootnode.shutdown(Duration::from_secs(5)).await;
            return Err(node::rpc_start_error(e));
        }
    };
    info!(
        enr = %bootnode.local_enr(),
        rpc = %format!("http://{}", rpc.local_addr()),
        metrics = %metrics.as_ref().and_then(|m| m.listen_addr()).map(|a| format!("http://{a}/metrics")).unwrap_or_else(|| "off".into()),
        "opmesh bootnode running"
    );
    node::wait_for_shutdown_signal().await;
    info!("shutting down");
    rpc.stop();
    if let Err(e) = bootnode.shutdown(Duration::from_secs(10)).await {
        tracing::warn!(error = %e, "discovery table not saved");
    }
    info!("stopped");
    Ok(())
}
