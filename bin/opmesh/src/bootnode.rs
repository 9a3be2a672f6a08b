//! `opmesh bootnode`: discv5 only, for an operator's own chain (op-node's `op-bootnode`).
//!
//! The flags are `opmesh node`'s discovery, RPC, metrics and log flags with the same names,
//! defaults and `OPMESH_*` / op-node (`OP_NODE_*`) environment variables; op-bootnode's own
//! `OP_BOOTNODE_*` names are read too.

use std::{sync::Arc, time::Duration};

use clap::Args;
use opmesh_discovery::{DiscoveryConfig, TableLocation};
use opmesh_network::Bootnode;
use tracing::info;

use crate::{
    chain_args::ChainArgs,
    flag_groups::{
        DiscoveryArgs, DiscoveryListenArgs, IdentityArgs, LogArgs, MetricsArgs, RpcArgs,
    },
    node::{
        self,
        config::{advertise_ip, bootnodes, identity, netrestrict},
        flags::port,
        CliError,
    },
};

/// Everything `opmesh bootnode` accepts: `opmesh node`'s identity, discovery, RPC, metrics and
/// log groups plus the UDP listen port, whose default differs. The `mut_arg` lines keep
/// bootnode-specific help texts explicit; names, env variables and defaults are the groups'.
#[derive(Debug, Clone, Args)]
#[command(
    mut_arg("priv_path", |a| a.help("File holding the bootnode's secp256k1 key as hex; created (mode 0600) if absent. Keep it: the ENR operators configure depends on it")),
    mut_arg("listen_ip", |a| a.help("IP to listen on (UDP)")),
    mut_arg("bootnodes", |a| a.help("Comma-separated ENRs or enode URLs of other bootnodes to bootstrap from")),
    mut_arg("rpc_port", |a| a.help("Admin RPC port (HTTP and WebSocket): opp2p_self, opp2p_discoveryTable, opp2p_peerStats, opp2p_peerCount")),
    mut_arg("metrics_enabled", |a| a.help("Serve Prometheus metrics (the discovery series: table size, ENRs seen by result)")),
)]
pub struct BootnodeArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub listen: DiscoveryListenArgs,
    /// UDP port for discv5 (0 = any free port). 9222 is what op-bootnode ends up with: its
    /// UDP 0 means the TCP port, 9222.
    #[arg(long = "p2p.listen.udp", env = "OPMESH_P2P_LISTEN_UDP", default_value = "9222", value_parser = port)]
    pub listen_udp: u16,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    #[command(flatten)]
    pub rpc: RpcArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub log: LogArgs,
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
    let identity = identity(&args.identity)?;
    let mut config = DiscoveryConfig::new(chain.chain_id);
    config.listen_ip = args.listen.listen_ip;
    config.listen_udp_port = args.listen_udp;
    config.advertise_ip = advertise_ip(args.listen.advertise_ip.as_deref(), args.listen.listen_ip)?;
    config.advertise_udp_port = args.listen.advertise_udp.filter(|p| *p != 0);
    config.bootnodes = bootnodes(&args.discovery.bootnodes)?;
    config.netrestrict = netrestrict(args.discovery.netrestrict.as_deref())?;
    config.table = TableLocation::from_flag(&args.discovery.discovery_path);
    Ok((config, identity))
}

/// Runs the bootnode until SIGINT or SIGTERM; the table is written on the way out.
pub async fn run(args: BootnodeArgs) -> Result<(), CliError> {
    let rpc_config = node::rpc_config(&args.rpc)?;
    let (config, identity) = discovery_config(&args)?;
    let metrics = match args.metrics.listen_addr() {
        Some(addr) => {
            Some(opmesh_metrics::install(addr).map_err(|e| CliError::flag("--metrics.port", e))?)
        }
        None => None,
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::Cli;

    /// The flags whose bootnode help text differs from `opmesh node`'s on purpose.
    const OWN_HELP: &[&str] = &[
        "p2p.priv.path",
        "p2p.listen.ip",
        "p2p.listen.udp",
        "p2p.bootnodes",
        "rpc.port",
        "metrics.enabled",
    ];

    /// Every bootnode flag is an `opmesh node` flag with the same env variable, default,
    /// arity, action and visibility; only `--p2p.listen.udp`'s default and the listed help texts
    /// differ.
    #[test]
    fn bootnode_flags_are_node_flags_with_explicit_differences_only() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        let node = cli.find_subcommand("node").expect("node subcommand");
        let bootnode = cli.find_subcommand("bootnode").expect("bootnode");
        let mut shared = 0;
        for arg in bootnode.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            let twin = node
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .unwrap_or_else(|| panic!("--{long} is not an `opmesh node` flag"));
            assert_eq!(arg.get_env(), twin.get_env(), "--{long}");
            assert_eq!(arg.get_num_args(), twin.get_num_args(), "--{long}");
            assert_eq!(arg.is_hide_set(), twin.is_hide_set(), "--{long}");
            assert_eq!(
                format!("{:?}", arg.get_action()),
                format!("{:?}", twin.get_action()),
                "--{long}"
            );
            let help = |a: &clap::Arg| a.get_help().map(|h| h.to_string());
            if long == "p2p.listen.udp" {
                assert_eq!(arg.get_default_values(), ["9222"]);
                assert_eq!(twin.get_default_values(), ["0"]);
            } else {
                assert_eq!(
                    arg.get_default_values(),
                    twin.get_default_values(),
                    "--{long}"
                );
            }
            if OWN_HELP.contains(&long) {
                assert_ne!(help(arg), help(twin), "--{long} should keep its own help");
            } else {
                assert_eq!(help(arg), help(twin), "--{long}");
            }
            shared += 1;
        }
        assert_eq!(shared, 23, "bootnode flag count changed");
    }
}
