//! `opmesh`: the OP Stack rollup-node P2P layer as a standalone binary.

mod bootnode;
mod chain_args;
mod devnet;
mod flag_groups;
mod logging;
mod node;
mod p2p;
mod validate;

use std::{collections::BTreeMap, process::ExitCode};

use clap::{CommandFactory, Parser, Subcommand};

/// OP Stack rollup-node P2P: discovery, block gossip, admin RPC and metrics.
#[derive(Debug, Parser)]
#[command(name = "opmesh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a P2P node: discovery, gossip, peer management, admin RPC, metrics.
    Node(Box<node::NodeArgs>),
    /// Run a discovery-only bootnode (op-node's op-bootnode): discv5 with a persistent key and
    /// table, netrestrict, metrics and the discovery admin RPC.
    Bootnode(Box<bootnode::BootnodeArgs>),
    /// Validate captured gossip messages: reads `TOPIC HEX` lines on stdin, prints one JSON
    /// verdict per line.
    Validate(validate::ValidateArgs),
    /// Run a whole local network on 127.0.0.1: a bootnode and N nodes, node 0 the dev
    /// sequencer, with a live view and a summary.
    Devnet(devnet::DevnetArgs),
    /// Node key utilities.
    #[command(subcommand)]
    P2p(p2p::P2pCommand),
    /// The network lab: many real nodes on loopback (or in network namespaces), propagation,
    /// attack, churn and partition scenarios, measured (see docs/benchmarks.md).
    Lab(Box<opmesh_lab::LabArgs>),
}

fn main() -> ExitCode {
    // op-node's environment variables (OP_NODE_P2P_LISTEN_TCP_PORT...) become flags first.
    let env: BTreeMap<String, std::ffi::OsString> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .collect();
    let (argv, env_report) =
        node::compat::op_node_env_args(&Cli::command(), std::env::args_os().collect(), &env);
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Command::Validate(args) => validate::run(args).map_err(|e| e.to_string()),
        Command::P2p(command) => p2p::run(command)
            .map(|out| println!("{out}"))
            .map_err(|e| e.to_string()),
        Command::Node(args) => run_node(*args, env_report),
        Command::Bootnode(args) => run_bootnode(*args, env_report),
        Command::Devnet(args) => run_devnet(args),
        Command::Lab(args) => run_lab(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run_node(args: node::NodeArgs, env_report: node::compat::EnvReport) -> Result<(), String> {
    start_logging(&args.log, &env_report)?;
    async_runtime()?
        .block_on(node::run(args))
        .map_err(|e| e.to_string())
}

fn run_bootnode(
    args: bootnode::BootnodeArgs,
    env_report: node::compat::EnvReport,
) -> Result<(), String> {
    start_logging(&args.log, &env_report)?;
    async_runtime()?
        .block_on(bootnode::run(args))
        .map_err(|e| e.to_string())
}

/// Starts logging per the `--log.*` flags and logs where op-node variables were used.
fn start_logging(
    log: &flag_groups::LogArgs,
    env_report: &node::compat::EnvReport,
) -> Result<(), String> {
    logging::init(&log.log_level, log.log_format, log.log_color).map_err(|e| e.to_string())?;
    log_env_report(env_report);
    Ok(())
}

/// The multi-threaded tokio runtime the long-running commands run on.
fn async_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Logs which flags came from op-node's (or op-bootnode's) environment variables.
fn log_env_report(env_report: &node::compat::EnvReport) {
    for (flag, var) in &env_report.used {
        tracing::info!("--{flag} from op-node's {var}");
    }
    if !env_report.unused.is_empty() {
        tracing::info!(
            variables = env_report.unused.join(","),
            "op-node settings opmesh has no use for (not P2P, RPC, metrics or log settings)"
        );
    }
}

fn run_devnet(args: devnet::DevnetArgs) -> Result<(), String> {
    match async_runtime()?.block_on(devnet::run(args)) {
        Ok(true) => Ok(()),
        Ok(false) => Err("not every node received every block".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn run_lab(args: opmesh_lab::LabArgs) -> Result<(), String> {
    async_runtime()?
        .block_on(opmesh_lab::run(args))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every `opmesh node` and `opmesh bootnode` flag can also be set from `OPMESH_<FLAG>`:
    /// dots and dashes become underscores, upper case.
    #[test]
    fn every_node_flag_has_its_environment_variable() {
        let cli = Cli::command();
        let node = cli.find_subcommand("node").expect("node subcommand");
        let bootnode = cli
            .find_subcommand("bootnode")
            .expect("bootnode subcommand");
        let mut checked = 0;
        for arg in node.get_arguments().chain(bootnode.get_arguments()) {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            let expected = format!("OPMESH_{}", long.replace(['.', '-'], "_").to_uppercase());
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert_eq!(env.as_deref(), Some(expected.as_str()), "--{long}");
            checked += 1;
        }
        assert!(checked > 60, "only {checked} flags checked");
    }
}
