//! Dropping opmesh into an op-node deployment: its env file, its port semantics.

mod common;

use std::{
    net::{TcpStream, UdpSocket},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::*;
use serde_json::{json, Value};

/// Starts `opmesh node` with nothing but the variables of `env_file` (an op-node style
/// `KEY=VALUE` file) in its environment; its output goes to `dir/node.log`.
fn start_from_env_file(dir: &Path, env_file: &Path, extra: &[&str]) -> Child {
    let text = std::fs::read_to_string(env_file).unwrap();
    let vars = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='));
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .arg("node")
        .args(extra)
        .env_clear()
        .envs(vars)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("node starts")
}

fn rpc_result(port: u16, method: &str) -> Option<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).to_string();
    let (_, response) = http_post(port, "/", &body, &[])?;
    serde_json::from_str::<Value>(&response)
        .ok()?
        .get("result")
        .cloned()
}

fn udp_in_use(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_err()
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on a child this test spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    for _ in 0..150 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("node did not stop on SIGTERM");
}

#[test]
fn a_node_starts_from_an_op_node_env_file_alone() {
    let dir = temp_dir("op-node-env");
    let rollup = dir.join("rollup.json");
    std::fs::write(
        &rollup,
        r#"{"l2_chain_id": 901, "block_time": 2, "canyon_time": 0, "ecotone_time": 0, "isthmus_time": 0}"#,
    )
    .unwrap();
    let (tcp, rpc, metrics) = (free_tcp(), free_tcp(), free_tcp());
    let d = dir.display();
    let env_file = dir.join("op-node.env");
    std::fs::write(
        &env_file,
        format!(
            "# an op-node env file, unchanged but for the paths and ports
OP_NODE_L1_ETH_RPC=http://127.0.0.1:1
OP_NODE_L2_ENGINE_RPC=http://127.0.0.1:2
OP_NODE_ROLLUP_CONFIG={d}/rollup.json
OP_NODE_P2P_LISTEN_IP=127.0.0.1
OP_NODE_P2P_LISTEN_TCP_PORT={tcp}
OP_NODE_P2P_PRIV_PATH={d}/opnode_p2p_priv.txt
OP_NODE_P2P_PEERSTORE_PATH={d}/opnode_peerstore_db
OP_NODE_P2P_DISCOVERY_PATH={d}/opnode_discovery_db
OP_NODE_P2P_PEER_SCORING=light
OP_NODE_P2P_PEER_BANNING=true
OP_NODE_P2P_PEER_BANNING_DURATION=30m
OP_NODE_P2P_PEERS_LO=3
OP_NODE_P2P_NO_DISCOVERY=false
OP_NODE_P2P_MUX=yamux,mplex
OP_NODE_P2P_SECURITY=noise
OP_NODE_P2P_AGENT=optimism
OP_NODE_RPC_ADDR=127.0.0.1
OP_NODE_RPC_PORT={rpc}
OP_NODE_METRICS_ENABLED=true
OP_NODE_METRICS_ADDR=127.0.0.1
OP_NODE_METRICS_PORT={metrics}
OP_NODE_LOG_LEVEL=info
OP_NODE_LOG_FORMAT=logfmt
"
        ),
    )
    .unwrap();
    let child = start_from_env_file(&dir, &env_file, &[]);
    let log = || std::fs::read_to_string(dir.join("node.log")).unwrap_or_default();
    let mut me = None;
    for _ in 0..300 {
        me = rpc_result(rpc, "opp2p_self");
        if me.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let me = me.unwrap_or_else(|| panic!("RPC on OP_NODE_RPC_PORT {rpc}:\n{}", log()));
    // RPC: the chain from OP_NODE_ROLLUP_CONFIG and the user agent from OP_NODE_P2P_AGENT.
    assert_eq!(me["chainID"], 901, "{me}");
    assert_eq!(me["userAgent"], "optimism", "{me}");
    // Ports: libp2p on OP_NODE_P2P_LISTEN_TCP_PORT, discv5 on the same UDP port, metrics.
    assert!(TcpStream::connect(("127.0.0.1", tcp)).is_ok());
    assert!(udp_in_use(tcp), "discv5 is not on UDP {tcp}");
    let (status, body) = http_get(metrics, "/metrics").expect("metrics on OP_NODE_METRICS_PORT");
    assert_eq!(status, 200);
    assert!(body.contains("opmesh_p2p_peer_count"), "{body}");
    // Paths: the key file (and so the peer id) and both databases.
    let key = std::fs::read_to_string(dir.join("opnode_p2p_priv.txt")).expect("key file");
    assert_eq!(key.trim().trim_start_matches("0x").len(), 64);
    let text = log();
    assert!(
        text.contains("from op-node's OP_NODE_P2P_LISTEN_TCP_PORT"),
        "{text}"
    );
    assert!(
        text.contains("OP_NODE_L1_ETH_RPC") && text.contains("no use for"),
        "{text}"
    );
    assert!(text.contains("only yamux is offered"), "{text}");
    stop(child);
    assert!(dir.join("opnode_peerstore_db").is_dir(), "{}", log());
    assert!(dir.join("opnode_discovery_db").is_dir(), "{}", log());

    // The same identity on restart, from the same file.
    let child = start_from_env_file(&dir, &env_file, &[]);
    let mut again = None;
    for _ in 0..300 {
        again = rpc_result(rpc, "opp2p_self");
        if again.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(again.expect("restarted")["peerID"], me["peerID"]);
    stop(child);
}

#[test]
fn listen_tcp_alone_puts_discv5_on_the_same_udp_port() {
    let dir = temp_dir("udp-follows-tcp");
    let tcp = loop {
        // A port free for both TCP and UDP.
        let port = free_tcp();
        if !udp_in_use(port) {
            break port;
        }
    };
    let rpc = free_tcp();
    let log = std::fs::File::create(dir.join("node.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .args([
            "node",
            "--l2.chain-id",
            "901",
            "--p2p.listen.ip",
            "127.0.0.1",
        ])
        .args(["--p2p.listen.tcp", &tcp.to_string()])
        .args(["--rpc.port", &rpc.to_string()])
        .args(["--p2p.priv.path", dir.join("key").to_str().unwrap()])
        .args([
            "--p2p.peerstore.path",
            "memory",
            "--p2p.discovery.path",
            "memory",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(30), "RPC", || {
        rpc_result(rpc, "opp2p_self").is_some()
    });
    assert!(udp_in_use(tcp), "discv5 is not on UDP {tcp}");
    // And it answers discv5 there: a second node bootstrapping from the first's ENR finds it.
    let enr = rpc_result(rpc, "opp2p_self").unwrap()["ENR"]
        .as_str()
        .unwrap()
        .to_string();
    let other = Node::start(
        &dir.join("other"),
        &["--p2p.bootnodes", &enr, "--p2p.peers.lo", "1"],
    );
    eventually(Duration::from_secs(30), "discovery over UDP", || {
        other.rpc("opp2p_peerCount", json!([]))["connectedGossip"] == 1
    });
    drop(other);
    stop(child);
}

/// op-node's P2P series (`op-node/metrics/metrics.go`) that its dashboards and alerts query,
/// as far as opmesh has the quantity (see `crates/metrics/src/op_node.rs` for the rest).
const OP_NODE_SERIES: &[&str] = &[
    "op_node_default_p2p_peer_count",
    // The peer count under the name op-node's metrics docs give ("Important Metrics").
    "op_node_default_peer_count",
    "op_node_default_p2p_gossip_events_total{type=\"DELIVER_MESSAGE\"}",
    "op_node_default_p2p_gossip_events_total{type=\"REJECT_MESSAGE\"}",
    "op_node_default_p2p_gossip_events_total{type=\"PUBLISH_MESSAGE\"}",
    "op_node_default_p2p_bandwidth_bytes_total{direction=\"in\"}",
    "op_node_default_p2p_bandwidth_bytes_total{direction=\"out\"}",
    "op_node_default_peer_scores_bucket{type=\"total\",le=\"0\"}",
    "op_node_default_peer_scores_count{type=\"total\"}",
    "op_node_default_p2p_peer_unbans",
    "op_node_default_p2p_dials{allow=\"true\"}",
    "op_node_default_p2p_accepts{allow=\"true\"}",
    "op_node_default_p2p_req_total{p2p_role=\"server\",p2p_method=\"payload_by_number\",result_code=\"0\"}",
];

fn series_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_fresh_node_exports_every_known_series_and_op_nodes_names_on_request() {
    let dir = temp_dir("metrics-from-start");
    let a = Node::start(
        &dir.join("a"),
        &["--p2p.no-discovery", "--metrics.op-node-names"],
    );
    let text = a.metrics_text();
    // The series a fresh node used to lack: zero counters, empty histograms.
    for series in [
        "opmesh_p2p_gossip_validation_total{version=\"v4\",result=\"accept\",reason=\"none\"}",
        "opmesh_p2p_gossip_validation_total{version=\"v1\",result=\"reject\",reason=\"wrong_signer\"}",
        "opmesh_p2p_validation_duration_seconds_count",
        "opmesh_p2p_block_delay_seconds_count",
        "opmesh_peer_scores_count",
    ] {
        assert_eq!(series_value(&text, series), Some(0.0), "{series}\n{text}");
    }
    for series in OP_NODE_SERIES {
        assert!(series_value(&text, series).is_some(), "{series}\n{text}");
    }
    // Live values: a peer connects and op-node's peer count follows.
    let addr = a.rpc("opp2p_self", json!([]))["addresses"][0]
        .as_str()
        .unwrap()
        .to_string();
    let b = Node::start(
        &dir.join("b"),
        &["--p2p.no-discovery", "--p2p.static", &addr],
    );
    eventually(Duration::from_secs(30), "op-node peer count 1", || {
        series_value(&a.metrics_text(), "op_node_default_p2p_peer_count") == Some(1.0)
    });
    // Without the flag, only opmesh's names.
    assert!(!b.metrics_text().contains("op_node_default"));
}
