//! `opmesh node`: discovery, gossip, peer management, admin RPC and metrics from flags.

pub mod compat;
pub(crate) mod config;
pub mod dev_producer;
pub mod flags;
pub mod key_file;

use std::sync::Arc;

use futures::StreamExt;
use opmesh_network::{Network, NetworkError, RpcBackend};
use opmesh_rpc::{AllowList, JwtSecret, RpcConfig, RpcError};
use tokio::signal::unix::{signal, SignalKind};
use tracing::info;

use crate::flag_groups::RpcArgs;

pub use flags::NodeArgs;

/// A startup failure, shown to the operator as one line naming the flag at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    /// An error about `flag`.
    pub fn flag(flag: &str, message: impl std::fmt::Display) -> Self {
        Self(format!("{flag}: {message}"))
    }
}

/// Runs the node until SIGINT or SIGTERM.
pub async fn run(args: NodeArgs) -> Result<(), CliError> {
    for warning in compat::check(&args)? {
        tracing::warn!("{warning}");
    }
    // The RPC configuration first: an exposed admin API is refused before anything starts.
    let mut rpc_config = rpc_config(&args.rpc)?;
    rpc_config.enable_admin = args.rpc_enable_admin;
    rpc_config
        .check()
        .map_err(|e| CliError::flag("--rpc.enable-admin", e))?;
    let config = config::network_config(&args)?;
    let sequencer = config.gossip.sequencer_key.clone();
    let chain = config.chain;
    let agent = config.gossip.agent_version.clone();
    if args.dev_blocks.is_some() && sequencer.is_none() {
        return Err(CliError::flag(
            "--dev.blocks",
            "needs --p2p.sequencer.key or --p2p.sequencer.key.path to sign blocks",
        ));
    }
    if args.dev_first_block == 0 {
        return Err(CliError::flag(
            "--dev.first-block",
            "block numbers start at 1",
        ));
    }
    if args.dev_blocks == Some(0) {
        return Err(CliError::flag(
            "--dev.blocks",
            "the interval must be at least 1 ms",
        ));
    }

    let metrics = if let Some(addr) = args.metrics.listen_addr() {
        let handle =
            opmesh_metrics::install(addr).map_err(|e| CliError::flag("--metrics.port", e))?;
        if args.metrics_op_node_names {
            opmesh_metrics::op_node::enable();
        }
        Some(handle)
    } else {
        None
    };

    if config.gossip.clock_offset_secs != 0 {
        tracing::warn!(
            offset_secs = config.gossip.clock_offset_secs,
            "--p2p.debug.clock-offset: blocks are validated against a skewed clock (lab use only)"
        );
    }
    if !config.gossip.mesh.idontwant {
        tracing::warn!("--p2p.debug.no-idontwant: no IDONTWANT is sent (lab use only)");
    }
    if config.gossip.validation == opmesh_gossip::ValidationLevel::None {
        tracing::warn!(
            "--p2p.gossip.validation none: blocks are decoded, not validated (lab use only)"
        );
    }
    let network = Network::builder(config).build().map_err(network_error)?;
    let (network, mut payloads) = network.start().await.map_err(network_error)?;
    let backend = RpcBackend::new(network.clone()).with_user_agent(agent);
    let rpc = match opmesh_rpc::start(rpc_config, Arc::new(backend.clone())).await {
        Ok(rpc) => rpc,
        Err(e) => {
            network.shutdown().await;
            return Err(rpc_start_error(e));
        }
    };
    info!(
        peer_id = %network.peer_id(),
        enr = network.local_enr().map(|e| e.to_base64()).unwrap_or_default(),
        rpc = %format!("http://{}", rpc.local_addr()),
        metrics = %metrics.as_ref().and_then(|m| m.listen_addr()).map(|a| format!("http://{a}/metrics")).unwrap_or_else(|| "off".into()),
        chain_id = chain.chain_id,
        "opmesh node running"
    );

    let notifier = tokio::spawn(async move {
        while let Some(payload) = payloads.next().await {
            backend.notify(&payload);
        }
    });
    let producer = match (args.dev_blocks, sequencer) {
        (Some(interval), Some(key)) => Some(tokio::spawn(dev_producer::run(
            network.clone(),
            chain,
            key,
            dev_producer::DevBlocks {
                interval_ms: interval,
                txs: args.dev_txs,
                first: args.dev_first_block,
            },
        ))),
        _ => None,
    };

    wait_for_shutdown_signal().await;
    info!("shutting down");
    rpc.stop();
    if let Some(producer) = producer {
        producer.abort();
    }
    network.shutdown().await;
    notifier.abort();
    info!("stopped");
    Ok(())
}

/// The admin RPC configuration from `--rpc.addr/port`, `--rpc.jwt-secret`, `--rpc.vhosts` and
/// `--rpc.origins` (admin methods off).
pub(crate) fn rpc_config(flags: &RpcArgs) -> Result<RpcConfig, CliError> {
    let mut config = RpcConfig::new(flags.listen_addr());
    config.vhosts = AllowList::from_entries(&flags.rpc_vhosts);
    config.origins = AllowList::from_entries(&flags.rpc_origins);
    if let Some(path) = &flags.rpc_jwt_secret {
        let secret =
            JwtSecret::from_file(path).map_err(|e| CliError::flag("--rpc.jwt-secret", e))?;
        config = config.with_jwt_secret(secret);
    }
    Ok(config)
}

/// Why the admin RPC server did not start, against its flag.
pub(crate) fn rpc_start_error(e: RpcError) -> CliError {
    match e {
        RpcError::AddrInUse(addr) => {
            CliError::flag("--rpc.port", format!("address {addr} is already in use"))
        }
        e @ RpcError::ExposedAdmin(_) => CliError::flag("--rpc.enable-admin", e),
        other => CliError::flag("--rpc.addr", other),
    }
}

fn network_error(e: NetworkError) -> CliError {
    match e {
        NetworkError::Gossip(opmesh_gossip::GossipSetupError::Listen { addr, reason }) => {
            CliError::flag(
                "--p2p.listen.tcp",
                format!("cannot listen on {addr}: {reason}"),
            )
        }
        NetworkError::Gossip(opmesh_gossip::GossipSetupError::StaticPeer(addr)) => {
            CliError::flag("--p2p.static", format!("{addr} must end in /p2p/<peer id>"))
        }
        NetworkError::Discovery(e) => CliError::flag("--p2p.listen.udp", e),
        other => CliError(other.to_string()),
    }
}

pub(crate) async fn wait_for_shutdown_signal() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
