//! The op-node compatibility table against the real `opmesh node` command and op-node's names.

use std::{collections::BTreeMap, ffi::OsString};

use clap::{CommandFactory, Parser};

use super::*;
use crate::Cli;

/// op-node's flags with the environment variables op-node reads for them, as spelled in
/// `op-node/flags/p2p_flags.go` (`p2pEnv(envPrefix, ...)`, prefix `OP_NODE`), `flags.go` and
/// op-service's `rpc`, `metrics` and `log` CLI flags.
const OP_NODE: &[(&str, &str)] = &[
    ("network", "OP_NODE_NETWORK"),
    ("rollup.config", "OP_NODE_ROLLUP_CONFIG"),
    ("p2p.disable", "OP_NODE_P2P_DISABLE"),
    ("p2p.no-discovery", "OP_NODE_P2P_NO_DISCOVERY"),
    ("p2p.scoring", "OP_NODE_P2P_PEER_SCORING"),
    ("p2p.ban.peers", "OP_NODE_P2P_PEER_BANNING"),
    ("p2p.ban.threshold", "OP_NODE_P2P_PEER_BANNING_THRESHOLD"),
    ("p2p.ban.duration", "OP_NODE_P2P_PEER_BANNING_DURATION"),
    ("p2p.priv.path", "OP_NODE_P2P_PRIV_PATH"),
    ("p2p.priv.raw", "OP_NODE_P2P_PRIV_RAW"),
    ("p2p.listen.ip", "OP_NODE_P2P_LISTEN_IP"),
    ("p2p.listen.tcp", "OP_NODE_P2P_LISTEN_TCP_PORT"),
    ("p2p.listen.udp", "OP_NODE_P2P_LISTEN_UDP_PORT"),
    ("p2p.advertise.ip", "OP_NODE_P2P_ADVERTISE_IP"),
    ("p2p.advertise.tcp", "OP_NODE_P2P_ADVERTISE_TCP"),
    ("p2p.advertise.udp", "OP_NODE_P2P_ADVERTISE_UDP"),
    ("p2p.bootnodes", "OP_NODE_P2P_BOOTNODES"),
    ("p2p.static", "OP_NODE_P2P_STATIC"),
    ("p2p.netrestrict", "OP_NODE_P2P_NETRESTRICT"),
    ("p2p.mux", "OP_NODE_P2P_MUX"),
    ("p2p.security", "OP_NODE_P2P_SECURITY"),
    ("p2p.peers.lo", "OP_NODE_P2P_PEERS_LO"),
    ("p2p.peers.hi", "OP_NODE_P2P_PEERS_HI"),
    ("p2p.peers.grace", "OP_NODE_P2P_PEERS_GRACE"),
    ("p2p.nat", "OP_NODE_P2P_NAT"),
    ("p2p.useragent", "OP_NODE_P2P_AGENT"),
    ("p2p.timeout.negotiation", "OP_NODE_P2P_TIMEOUT_NEGOTIATION"),
    ("p2p.timeout.accept", "OP_NODE_P2P_TIMEOUT_ACCEPT"),
    ("p2p.timeout.dial", "OP_NODE_P2P_TIMEOUT_DIAL"),
    ("p2p.peerstore.path", "OP_NODE_P2P_PEERSTORE_PATH"),
    ("p2p.discovery.path", "OP_NODE_P2P_DISCOVERY_PATH"),
    ("p2p.sequencer.key", "OP_NODE_P2P_SEQUENCER_KEY"),
    ("p2p.gossip.mesh.d", "OP_NODE_P2P_GOSSIP_MESH_D"),
    ("p2p.gossip.mesh.lo", "OP_NODE_P2P_GOSSIP_MESH_DLO"),
    ("p2p.gossip.mesh.dhi", "OP_NODE_P2P_GOSSIP_MESH_DHI"),
    ("p2p.gossip.mesh.dlazy", "OP_NODE_P2P_GOSSIP_MESH_DLAZY"),
    (
        "p2p.gossip.mesh.floodpublish",
        "OP_NODE_P2P_GOSSIP_FLOOD_PUBLISH",
    ),
    (
        "p2p.gossip.timestamp.threshold",
        "OP_NODE_P2P_GOSSIP_TIMESTAMP_THRESHOLD",
    ),
    ("p2p.sync.req-resp", "OP_NODE_P2P_SYNC_REQ_RESP"),
    (
        "p2p.sync.onlyreqtostatic",
        "OP_NODE_P2P_SYNC_ONLYREQTOSTATIC",
    ),
    ("p2p.ping", "OP_NODE_P2P_PING"),
    ("rpc.addr", "OP_NODE_RPC_ADDR"),
    ("rpc.port", "OP_NODE_RPC_PORT"),
    ("rpc.enable-admin", "OP_NODE_RPC_ENABLE_ADMIN"),
    ("metrics.enabled", "OP_NODE_METRICS_ENABLED"),
    ("metrics.addr", "OP_NODE_METRICS_ADDR"),
    ("metrics.port", "OP_NODE_METRICS_PORT"),
    ("log.level", "OP_NODE_LOG_LEVEL"),
    ("log.format", "OP_NODE_LOG_FORMAT"),
    ("log.color", "OP_NODE_LOG_COLOR"),
];

/// op-node's hidden flags that have no environment variable.
const OP_NODE_WITHOUT_ENV: &[&str] =
    &["p2p.scoring.peers", "p2p.score.bands", "p2p.scoring.topics"];

fn node_longs() -> Vec<String> {
    let cli = Cli::command();
    let node = cli.find_subcommand("node").expect("node subcommand");
    node.get_arguments()
        .filter_map(|a| a.get_long().map(String::from))
        .filter(|l| l != "help" && l != "version")
        .collect()
}

#[test]
fn every_node_flag_has_exactly_one_row_and_every_row_is_a_flag() {
    let longs = node_longs();
    for long in &longs {
        let rows = FLAGS.iter().filter(|r| r.flag == long).count();
        assert_eq!(rows, 1, "--{long} needs exactly one row in compat::FLAGS");
    }
    for row in FLAGS {
        assert!(
            longs.iter().any(|l| l == row.flag),
            "row --{} is not an `opmesh node` flag",
            row.flag
        );
        if let Some(env) = row.op_node_env {
            assert!(env.starts_with("OP_NODE_"), "{env}");
            assert_ne!(row.support, Support::OpmeshOnly, "--{}", row.flag);
        }
    }
}

#[test]
fn each_op_node_flag_is_in_the_table_with_op_nodes_env_name() {
    for (flag, env) in OP_NODE {
        let row = row(flag).unwrap_or_else(|| panic!("op-node's --{flag} has no row"));
        assert_eq!(row.op_node_env, Some(*env), "--{flag}");
        assert_ne!(row.support, Support::OpmeshOnly, "--{flag}");
    }
    for flag in OP_NODE_WITHOUT_ENV {
        let row = row(flag).unwrap_or_else(|| panic!("op-node's --{flag} has no row"));
        assert!(matches!(row.support, Support::Ignored(_)), "--{flag}");
    }
    // And nothing claims an op-node name op-node does not have.
    for row in FLAGS.iter().filter(|r| r.op_node_env.is_some()) {
        assert!(
            OP_NODE.iter().any(|(f, _)| *f == row.flag),
            "--{} claims op-node's {:?}; add it to OP_NODE from op-node's source",
            row.flag,
            row.op_node_env
        );
    }
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, OsString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect()
}

fn argv(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn op_node_variables_become_flags_below_the_command_line_and_opmesh_variables() {
    let vars = env(&[
        ("OP_NODE_P2P_LISTEN_TCP_PORT", "9003"),
        ("OP_NODE_P2P_PEER_SCORING", "none"),
        ("OP_NODE_RPC_PORT", "8547"),
        ("OP_NODE_P2P_PEERS_LO", "5"),
        ("OPMESH_P2P_PEERS_LO", "7"),
        ("OP_NODE_P2P_NAT", "false"),
        ("OP_NODE_P2P_EMPTY_IGNORED", ""),
        ("OP_NODE_L1_ETH_RPC", "http://l1"),
        ("OP_NODE_METRICS_ENABLED", "true"),
    ]);
    let (out, report) = op_node_env_args(
        &Cli::command(),
        argv(&["opmesh", "node", "--rpc.port", "9999"]),
        &vars,
    );
    let out: Vec<String> = out.into_iter().map(|a| a.into_string().unwrap()).collect();
    assert!(
        out.contains(&"--p2p.listen.tcp=9003".to_string()),
        "{out:?}"
    );
    assert!(out.contains(&"--p2p.scoring=none".to_string()), "{out:?}");
    assert!(
        out.contains(&"--metrics.enabled=true".to_string()),
        "{out:?}"
    );
    assert!(out.contains(&"--p2p.nat=false".to_string()), "{out:?}");
    // The command line wins over OP_NODE_RPC_PORT, OPMESH_P2P_PEERS_LO over OP_NODE_P2P_PEERS_LO.
    assert!(!out.iter().any(|a| a.starts_with("--rpc.port=")), "{out:?}");
    assert!(
        !out.iter().any(|a| a.starts_with("--p2p.peers.lo=")),
        "{out:?}"
    );
    assert!(report.used.contains(&(
        "p2p.listen.tcp".to_string(),
        "OP_NODE_P2P_LISTEN_TCP_PORT".to_string()
    )));
    assert_eq!(
        report.unused,
        ["OP_NODE_L1_ETH_RPC", "OP_NODE_P2P_EMPTY_IGNORED"]
    );

    // The result parses, and other subcommands are left alone.
    let cli = Cli::try_parse_from(&out).expect("parses");
    let crate::Command::Node(args) = cli.command else {
        panic!("node")
    };
    assert_eq!(args.listen_tcp, 9003);
    assert_eq!(args.rpc.rpc_port, 9999);
    assert!(args.metrics.metrics_enabled);
    let (same, report) = op_node_env_args(&Cli::command(), argv(&["opmesh", "validate"]), &vars);
    assert_eq!(same, argv(&["opmesh", "validate"]));
    assert!(report.used.is_empty());
}

/// `opmesh bootnode` reads the op-node names of the flags it has, and op-bootnode's
/// `OP_BOOTNODE_*` names first.
#[test]
fn bootnode_reads_op_bootnode_and_op_node_variables() {
    let vars = env(&[
        ("OP_BOOTNODE_P2P_LISTEN_UDP_PORT", "9004"),
        ("OP_NODE_P2P_LISTEN_UDP_PORT", "9005"),
        ("OP_NODE_P2P_NETRESTRICT", "10.0.0.0/8"),
        ("OP_BOOTNODE_P2P_LISTEN_TCP_PORT", "9006"),
    ]);
    let (out, report) = op_node_env_args(&Cli::command(), argv(&["opmesh", "bootnode"]), &vars);
    let cli = Cli::try_parse_from(&out).expect("parses");
    let crate::Command::Bootnode(args) = cli.command else {
        panic!("bootnode")
    };
    assert_eq!(args.listen_udp, 9004);
    assert_eq!(args.discovery.netrestrict.as_deref(), Some("10.0.0.0/8"));
    // A bootnode has no TCP listener: that variable is not turned into a flag.
    assert!(!out
        .iter()
        .any(|a| a.to_string_lossy().starts_with("--p2p.listen.tcp")));
    assert!(report.used.contains(&(
        "p2p.listen.udp".to_string(),
        "OP_BOOTNODE_P2P_LISTEN_UDP_PORT".to_string()
    )));
}

fn parse(extra: &[&str]) -> Result<NodeArgs, String> {
    let mut args = vec!["opmesh", "node", "--l2.chain-id", "901"];
    args.extend_from_slice(extra);
    match Cli::try_parse_from(args)
        .map_err(|e| e.to_string())?
        .command
    {
        crate::Command::Node(args) => Ok(*args),
        _ => unreachable!(),
    }
}

#[test]
fn hidden_flags_take_supported_values_and_refuse_the_rest_naming_the_flag() {
    // op-node's own defaults and supported values start.
    let args = parse(&[
        "--p2p.mux=yamux,mplex",
        "--p2p.security",
        "noise",
        "--p2p.useragent",
        "optimism",
        "--p2p.timeout.accept",
        "5s",
        "--p2p.ping=false",
        "--p2p.disable=false",
    ])
    .unwrap();
    let warnings = check(&args).unwrap();
    assert_eq!(
        warnings,
        ["--p2p.mux: only yamux is offered; ignoring mplex"]
    );
    assert!(!args.ping);
    assert_eq!(args.timeout_accept, std::time::Duration::from_secs(5));

    for (flags, named) in [
        (&["--p2p.mux", "mplex"][..], "--p2p.mux"),
        (&["--p2p.security", "tls"][..], "--p2p.security"),
        (&["--p2p.security", "none"][..], "--p2p.security"),
        (&["--p2p.disable"][..], "--p2p.disable"),
    ] {
        let err = check(&parse(flags).unwrap()).unwrap_err().to_string();
        assert!(err.starts_with(named) && !err.contains('\n'), "{err}");
    }

    // Deprecated flags and op-node bool spellings are accepted; the deprecated ones warn.
    let args = parse(&[
        "--p2p.scoring.peers",
        "light",
        "--p2p.score.bands",
        "x",
        "--p2p.scoring.topics",
        "y",
        "--p2p.sync.onlyreqtostatic",
        "--p2p.timeout.negotiation",
        "10s",
        "--p2p.ban.peers",
        "--p2p.no-discovery=t",
        "--metrics.enabled",
    ])
    .unwrap();
    assert!(args.ban_peers && args.no_discovery && args.metrics.metrics_enabled);
    let warnings = check(&args).unwrap();
    for flag in [
        "--p2p.scoring.peers",
        "--p2p.score.bands",
        "--p2p.scoring.topics",
        "--p2p.sync.onlyreqtostatic",
        "--p2p.timeout.negotiation",
    ] {
        assert!(
            warnings.iter().any(|w| w.starts_with(flag)),
            "{flag}: {warnings:?}"
        );
    }
    assert!(parse(&["--p2p.ban.peers=false"]).is_ok_and(|a| !a.ban_peers));
    assert!(parse(&["--log.format", "logfmt"]).is_ok());
    assert!(parse(&["--log.format", "json-pretty"]).is_ok());
}

#[test]
fn udp_port_zero_is_the_tcp_port_and_advertise_zero_the_listen_port() {
    let key = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    let base = ["--p2p.priv.raw", key, "--p2p.peerstore.path", "memory"];
    let config = |extra: &[&str]| {
        let mut flags = base.to_vec();
        flags.extend_from_slice(extra);
        super::super::config::network_config(&parse(&flags).unwrap()).unwrap()
    };
    let c = config(&["--p2p.listen.tcp", "9003"]);
    assert_eq!((c.listen.tcp_port, c.listen.udp_port), (9003, 9003));
    let c = config(&[]);
    assert_eq!((c.listen.tcp_port, c.listen.udp_port), (9222, 9222));
    let c = config(&["--p2p.listen.tcp", "9003", "--p2p.listen.udp", "0"]);
    assert_eq!(c.listen.udp_port, 9003);
    let c = config(&["--p2p.listen.tcp", "9003", "--p2p.listen.udp", "9004"]);
    assert_eq!(c.listen.udp_port, 9004);
    let c = config(&["--p2p.advertise.tcp", "0", "--p2p.advertise.udp", "0"]);
    assert_eq!(
        (c.listen.advertise_tcp, c.listen.advertise_udp),
        (None, None)
    );
    let c = config(&["--p2p.advertise.tcp", "30303"]);
    assert_eq!(c.listen.advertise_tcp, Some(30303));
}

/// The "op-node flags and environment variables" table of `docs/operator.md`.
fn markdown_table() -> String {
    let mut out = String::from("| flag | op-node environment variable | opmesh |\n|---|---|---|\n");
    for row in FLAGS {
        let env = row
            .op_node_env
            .map(|e| format!("`{e}`"))
            .unwrap_or_else(|| "—".into());
        let what = match row.support {
            Supported => "supported".to_string(),
            Values(v) => format!("supported values: {v}"),
            Ignored(why) => format!("accepted and ignored with a warning: {why}"),
            Refused(why) => format!("refused: {why}"),
            Support::OpmeshOnly => "opmesh only".to_string(),
        };
        out.push_str(&format!("| `--{}` | {env} | {what} |\n", row.flag));
    }
    out
}

/// `docs/operator.md` carries the table between markers; `OPMESH_UPDATE_DOCS=1` rewrites it.
#[test]
fn the_operator_guide_shows_this_table() {
    const BEGIN: &str =
        "<!-- op-node flag table: begin (generated by compat::markdown_table) -->\n";
    const END: &str = "<!-- op-node flag table: end -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operator.md");
    let doc = std::fs::read_to_string(path).expect("docs/operator.md");
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/operator.md lacks the table markers");
    };
    let current = &doc[start + BEGIN.len()..end];
    let table = markdown_table();
    if current != table {
        if std::env::var_os("OPMESH_UPDATE_DOCS").is_some() {
            let updated = format!("{}{table}{}", &doc[..start + BEGIN.len()], &doc[end..]);
            std::fs::write(path, updated).unwrap();
        } else {
            panic!(
                "docs/operator.md's op-node flag table is stale: rerun with OPMESH_UPDATE_DOCS=1"
            );
        }
    }
}
