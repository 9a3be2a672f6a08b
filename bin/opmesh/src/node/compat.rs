//! op-node compatibility: every `opmesh node` flag with the environment variable op-node reads
//! for it and what opmesh does with it, in one table ([`FLAGS`]).
//!
//! The table drives three things: [`op_node_env_args`] turns op-node's environment variables
//! into flags before clap parses them (so an op-node env file starts opmesh unchanged),
//! [`check`] refuses unsupported values and warns about ignored flags at startup, and the
//! "migrating from op-node" table in `docs/operator.md` is rendered from it (a test keeps the
//! two equal). Adding a flag to `opmesh node` means adding a row here; a test fails otherwise.
//!
//! Precedence, highest first: the command line, the `OPMESH_*` variable, the op-node variable.

use std::{collections::BTreeMap, ffi::OsString};

use super::{flags::NodeArgs, CliError};

/// What opmesh does with a flag op-node also has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Same name, values and meaning as op-node.
    Supported,
    /// The values opmesh implements work; any other value stops the node with a one-line error
    /// naming the flag. The text says which values.
    Values(&'static str),
    /// Accepted and ignored with a warning at startup; the text says why.
    Ignored(&'static str),
    /// Setting it stops the node with a one-line error; the text says why.
    Refused(&'static str),
    /// An opmesh flag op-node does not have (the text may name the kona flag it follows).
    OpmeshOnly,
}

/// One flag of `opmesh node`.
#[derive(Debug, Clone, Copy)]
pub struct FlagRow {
    /// The long flag name without `--`.
    pub flag: &'static str,
    /// The environment variable op-node reads for the same flag, if op-node has it.
    pub op_node_env: Option<&'static str>,
    /// What opmesh does with it.
    pub support: Support,
}

const fn op(flag: &'static str, env: &'static str, support: Support) -> FlagRow {
    FlagRow {
        flag,
        op_node_env: Some(env),
        support,
    }
}

const fn ours(flag: &'static str) -> FlagRow {
    FlagRow {
        flag,
        op_node_env: None,
        support: Support::OpmeshOnly,
    }
}

use Support::{Ignored, Refused, Supported, Values};

/// Every `opmesh node` flag. op-node's names are from `op-node/flags/p2p_flags.go` (env prefix
/// `OP_NODE_P2P_`; several names differ from the flag by more than the prefix, e.g.
/// `--p2p.listen.tcp` is `OP_NODE_P2P_LISTEN_TCP_PORT`, `--p2p.scoring` is
/// `OP_NODE_P2P_PEER_SCORING`), `op-node/flags/flags.go` and op-service's rpc, metrics and log
/// flags (`OP_NODE_RPC_*`, `OP_NODE_METRICS_*`, `OP_NODE_LOG_*`).
pub const FLAGS: &[FlagRow] = &[
    // chain
    op("network", "OP_NODE_NETWORK", Supported),
    ours("l2.chain-id"),
    op("rollup.config", "OP_NODE_ROLLUP_CONFIG", Supported),
    // identity and listening
    op("p2p.priv.path", "OP_NODE_P2P_PRIV_PATH", Supported),
    op("p2p.priv.raw", "OP_NODE_P2P_PRIV_RAW", Supported),
    op("p2p.listen.ip", "OP_NODE_P2P_LISTEN_IP", Supported),
    op("p2p.listen.tcp", "OP_NODE_P2P_LISTEN_TCP_PORT", Supported),
    op("p2p.listen.udp", "OP_NODE_P2P_LISTEN_UDP_PORT", Supported),
    op("p2p.advertise.ip", "OP_NODE_P2P_ADVERTISE_IP", Supported),
    op("p2p.advertise.tcp", "OP_NODE_P2P_ADVERTISE_TCP", Supported),
    op("p2p.advertise.udp", "OP_NODE_P2P_ADVERTISE_UDP", Supported),
    op(
        "p2p.nat",
        "OP_NODE_P2P_NAT",
        Values("true = UPnP IGD port mapping and AutoNAT (v1), a confirmed address goes into the ENR; NAT-PMP and PCP are not implemented"),
    ),
    // discovery
    op("p2p.no-discovery", "OP_NODE_P2P_NO_DISCOVERY", Supported),
    op("p2p.bootnodes", "OP_NODE_P2P_BOOTNODES", Supported),
    op("p2p.netrestrict", "OP_NODE_P2P_NETRESTRICT", Supported),
    op("p2p.discovery.path", "OP_NODE_P2P_DISCOVERY_PATH", Supported),
    // peers
    op("p2p.static", "OP_NODE_P2P_STATIC", Supported),
    op("p2p.peers.lo", "OP_NODE_P2P_PEERS_LO", Supported),
    op("p2p.peers.hi", "OP_NODE_P2P_PEERS_HI", Supported),
    op("p2p.peers.grace", "OP_NODE_P2P_PEERS_GRACE", Supported),
    op("p2p.peerstore.path", "OP_NODE_P2P_PEERSTORE_PATH", Supported),
    op("p2p.scoring", "OP_NODE_P2P_PEER_SCORING", Supported),
    op("p2p.ban.peers", "OP_NODE_P2P_PEER_BANNING", Supported),
    op("p2p.ban.threshold", "OP_NODE_P2P_PEER_BANNING_THRESHOLD", Supported),
    op("p2p.ban.duration", "OP_NODE_P2P_PEER_BANNING_DURATION", Supported),
    ours("p2p.redial"),
    ours("p2p.redial.period"),
    op("p2p.timeout.dial", "OP_NODE_P2P_TIMEOUT_DIAL", Supported),
    // gossip
    ours("p2p.unsafe.block.signer"),
    ours("p2p.unsafe.block.signer.grace"),
    // op-node's names, but OP_NODE_L1_ETH_RPC is not mapped (yet): an op-node environment
    // for a chain opmesh knows no SystemConfig of would then stop the node at start.
    ours("l1"),
    ours("l1.runtime-config-reload-interval"),
    ours("p2p.debug.clock-offset"),
    ours("p2p.debug.nat-private-ips"),
    ours("p2p.debug.no-idontwant"),
    op("p2p.sequencer.key", "OP_NODE_P2P_SEQUENCER_KEY", Supported),
    ours("p2p.sequencer.key.path"),
    op(
        "p2p.gossip.timestamp.threshold",
        "OP_NODE_P2P_GOSSIP_TIMESTAMP_THRESHOLD",
        Supported,
    ),
    op("p2p.gossip.mesh.d", "OP_NODE_P2P_GOSSIP_MESH_D", Supported),
    op("p2p.gossip.mesh.lo", "OP_NODE_P2P_GOSSIP_MESH_DLO", Supported),
    op("p2p.gossip.mesh.dhi", "OP_NODE_P2P_GOSSIP_MESH_DHI", Supported),
    op("p2p.gossip.mesh.dlazy", "OP_NODE_P2P_GOSSIP_MESH_DLAZY", Supported),
    op(
        "p2p.gossip.mesh.floodpublish",
        "OP_NODE_P2P_GOSSIP_FLOOD_PUBLISH",
        Supported,
    ),
    ours("p2p.gossip.validation"),
    op("p2p.sync.req-resp", "OP_NODE_P2P_SYNC_REQ_RESP", Supported),
    // op-node's hidden and deprecated flags
    op(
        "p2p.disable",
        "OP_NODE_P2P_DISABLE",
        Refused("opmesh is the P2P stack; a node with P2P disabled does not run it (false is accepted)"),
    ),
    op(
        "p2p.mux",
        "OP_NODE_P2P_MUX",
        Values("yamux (a list that also names mplex is accepted with a warning; mplex alone is refused)"),
    ),
    op(
        "p2p.security",
        "OP_NODE_P2P_SECURITY",
        Values("noise (a list that also names tls is accepted with a warning; tls alone or none is refused)"),
    ),
    op("p2p.useragent", "OP_NODE_P2P_AGENT", Supported),
    op(
        "p2p.timeout.negotiation",
        "OP_NODE_P2P_TIMEOUT_NEGOTIATION",
        Ignored("rust-libp2p bounds each stream's protocol negotiation inside the protocol's own handler"),
    ),
    op("p2p.timeout.accept", "OP_NODE_P2P_TIMEOUT_ACCEPT", Supported),
    op("p2p.ping", "OP_NODE_P2P_PING", Supported),
    op(
        "p2p.sync.onlyreqtostatic",
        "OP_NODE_P2P_SYNC_ONLYREQTOSTATIC",
        Ignored("opmesh has no req-resp sync client (op-node deprecated req-resp sync); it only serves"),
    ),
    FlagRow {
        flag: "p2p.scoring.peers",
        op_node_env: None,
        support: Ignored("deprecated in op-node: use --p2p.scoring"),
    },
    FlagRow {
        flag: "p2p.score.bands",
        op_node_env: None,
        support: Ignored("deprecated in op-node, which ignores it too"),
    },
    FlagRow {
        flag: "p2p.scoring.topics",
        op_node_env: None,
        support: Ignored("deprecated in op-node (no topic scoring): use --p2p.scoring"),
    },
    // dev block producer
    ours("dev.blocks"),
    ours("dev.txs"),
    ours("dev.first-block"),
    // RPC
    op("rpc.addr", "OP_NODE_RPC_ADDR", Supported),
    op("rpc.port", "OP_NODE_RPC_PORT", Supported),
    ours("rpc.jwt-secret"),
    op("rpc.enable-admin", "OP_NODE_RPC_ENABLE_ADMIN", Supported),
    ours("rpc.vhosts"),
    ours("rpc.origins"),
    // metrics
    op("metrics.enabled", "OP_NODE_METRICS_ENABLED", Supported),
    op("metrics.addr", "OP_NODE_METRICS_ADDR", Supported),
    op("metrics.port", "OP_NODE_METRICS_PORT", Supported),
    ours("metrics.op-node-names"),
    // logs
    op("log.level", "OP_NODE_LOG_LEVEL", Supported),
    op("log.format", "OP_NODE_LOG_FORMAT", Supported),
    op("log.color", "OP_NODE_LOG_COLOR", Supported),
];

/// The row of `flag` (long name without `--`).
pub fn row(flag: &str) -> Option<&'static FlagRow> {
    FLAGS.iter().find(|r| r.flag == flag)
}

/// What [`op_node_env_args`] did, for the log once logging is up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvReport {
    /// `--flag` read from `OP_NODE_*` (or, for `opmesh bootnode`, `OP_BOOTNODE_*`).
    pub used: Vec<(String, String)>,
    /// `OP_NODE_*` variables opmesh has no use for (op-node's L1, L2, sequencer... settings).
    pub unused: Vec<String>,
}

/// Appends `--flag=value` to `argv` for every op-node environment variable in `env` whose flag
/// is neither on the command line nor set by its `OPMESH_*` variable. Subcommands read the
/// variables of the flags they have: `opmesh node` all of them, `opmesh bootnode` its subset,
/// where op-bootnode's name (`OP_BOOTNODE_` instead of `OP_NODE_`) wins over op-node's.
pub fn op_node_env_args(
    command: &clap::Command,
    mut argv: Vec<OsString>,
    env: &BTreeMap<String, OsString>,
) -> (Vec<OsString>, EnvReport) {
    let mut report = EnvReport::default();
    let Some(sub) = argv
        .get(1)
        .and_then(|s| s.to_str())
        .and_then(|name| command.find_subcommand(name))
    else {
        return (argv, report);
    };
    let present = |name: &str| env.get(name).is_some_and(|v| !v.is_empty());
    let on_command_line = |argv: &[OsString], flag: &str| {
        let long = format!("--{flag}");
        let with_value = format!("--{flag}=");
        argv.iter()
            .filter_map(|a| a.to_str())
            .any(|a| a == long || a.starts_with(&with_value))
    };
    let mut known = Vec::new();
    for row in FLAGS {
        let Some(op_env) = row.op_node_env else {
            continue;
        };
        known.push(op_env);
        let Some(arg) = sub.get_arguments().find(|a| a.get_long() == Some(row.flag)) else {
            continue;
        };
        let ours_set = arg.get_env().and_then(|e| e.to_str()).is_some_and(present);
        let bootnode_env = (sub.get_name() == "bootnode")
            .then(|| op_env.strip_prefix("OP_NODE_"))
            .flatten()
            .map(|rest| format!("OP_BOOTNODE_{rest}"));
        let Some(var) = bootnode_env
            .filter(|v| present(v))
            .or_else(|| present(op_env).then(|| op_env.to_string()))
        else {
            continue;
        };
        if ours_set || on_command_line(&argv, row.flag) {
            continue;
        }
        let mut arg = OsString::from(format!("--{}=", row.flag));
        arg.push(&env[&var]);
        argv.push(arg);
        report.used.push((row.flag.to_string(), var));
    }
    report.unused = env
        .keys()
        .filter(|k| k.starts_with("OP_NODE_") && !known.contains(&k.as_str()))
        .cloned()
        .collect();
    (argv, report)
}

/// Checks op-node's hidden and deprecated flags: an unsupported value is an error naming the
/// flag, an ignored flag that is set is a warning (returned for the log).
pub fn check(args: &NodeArgs) -> Result<Vec<String>, CliError> {
    let mut warnings = Vec::new();
    let reason = |flag: &str| match row(flag).map(|r| r.support) {
        Some(Ignored(why) | Refused(why) | Values(why)) => why,
        _ => "",
    };
    if args.p2p_disable {
        return Err(CliError::flag("--p2p.disable", reason("p2p.disable")));
    }
    if let Some(mux) = &args.mux {
        one_of(
            "--p2p.mux",
            mux,
            "yamux",
            "opmesh multiplexes with yamux only (op-node and kona both speak it)",
            &mut warnings,
        )?;
    }
    if let Some(security) = &args.security {
        one_of(
            "--p2p.security",
            security,
            "noise",
            "opmesh secures connections with noise only (op-node and kona both speak it)",
            &mut warnings,
        )?;
    }
    let ignored = [
        (
            "p2p.timeout.negotiation",
            args.timeout_negotiation.is_some(),
        ),
        (
            "p2p.sync.onlyreqtostatic",
            args.sync_only_req_to_static == Some(true),
        ),
        ("p2p.scoring.peers", args.scoring_peers.is_some()),
        ("p2p.score.bands", args.score_bands.is_some()),
        ("p2p.scoring.topics", args.scoring_topics.is_some()),
    ];
    for (flag, set) in ignored {
        if set && matches!(row(flag).map(|r| r.support), Some(Ignored(_))) {
            warnings.push(format!("--{flag} is ignored: {}", reason(flag)));
        }
    }
    Ok(warnings)
}

/// A comma-separated preference list that must contain `supported`; other entries are
/// dropped with a warning.
fn one_of(
    flag: &str,
    list: &str,
    supported: &str,
    why: &str,
    warnings: &mut Vec<String>,
) -> Result<(), CliError> {
    let entries: Vec<String> = list
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    if !entries.iter().any(|e| e == supported) {
        return Err(CliError::flag(
            flag,
            format!("{list:?} is not supported: {why}; use {supported}"),
        ));
    }
    let others: Vec<&str> = entries
        .iter()
        .map(String::as_str)
        .filter(|e| *e != supported)
        .collect();
    if !others.is_empty() {
        warnings.push(format!(
            "{flag}: only {supported} is offered; ignoring {}",
            others.join(",")
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "compat_tests.rs"]
mod tests;
