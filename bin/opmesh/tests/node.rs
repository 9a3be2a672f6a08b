//! `opmesh node` as operators run it: real processes on loopback, the admin RPC, metrics,
//! signals, bad flags.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn enr_of(node: &Node) -> String {
    node.rpc("opp2p_self", json!([]))["ENR"]
        .as_str()
        .unwrap()
        .to_string()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn three_processes_discover_each_other_and_deliver_blocks_with_op_node_shapes() {
    let dir = temp_dir("three");
    let producer = Node::start(
        &dir.join("0"),
        &[
            "--p2p.sequencer.key",
            DEV_KEY,
            "--dev.blocks",
            "500",
            "--dev.txs",
            "3",
        ],
    );
    let enr = enr_of(&producer);
    let a = Node::start(&dir.join("1"), &["--p2p.bootnodes", &enr]);
    let b = Node::start(&dir.join("2"), &["--p2p.bootnodes", &enr]);
    // Discovery paces its lookups (5 s, doubling when nothing new turns up): under a loaded
    // machine finding both peers has taken over 20 s, so the ceiling is generous.
    for node in [&a, &b] {
        eventually(Duration::from_secs(45), "two peers", || {
            node.rpc("opp2p_peerCount", json!([]))["connectedGossip"] == 2
        });
    }
    // Blocks arrive: counted as accepted in the receivers' metrics.
    for node in [&a, &b] {
        eventually(Duration::from_secs(20), "accepted blocks", || {
            let m = node.metrics();
            m.iter().any(|(k, v)| {
                k.starts_with("opmesh_p2p_gossip_validation_total{")
                    && k.contains("result=\"accept\"")
                    && *v >= 2.0
            })
        });
    }

    // Every opp2p method answers with op-node's shape.
    let me = a.rpc("opp2p_self", json!([]));
    assert_eq!(
        keys(&me),
        [
            "ENR",
            "addresses",
            "chainID",
            "connectedness",
            "direction",
            "gossipBlocks",
            "latency",
            "nodeID",
            "peerID",
            "protected",
            "protocolVersion",
            "protocols",
            "scores",
            "userAgent"
        ]
    );
    assert_eq!(keys(&me["scores"]), ["gossip", "reqResp"]);
    assert_eq!(
        keys(&me["scores"]["gossip"]),
        ["IPColocationFactor", "behavioralPenalty", "blocks", "total"]
    );
    assert_eq!(me["chainID"], 901);
    let protocols: Vec<&str> = me["protocols"]
        .as_array()
        .expect("opp2p_self lists its protocols")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    for expected in ["/meshsub/1.1.0", "/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"] {
        assert!(
            protocols.contains(&expected),
            "{expected} missing: {protocols:?}"
        );
    }
    assert_eq!(me["nodeID"].as_str().unwrap().len(), 64);
    let dump = a.rpc("opp2p_peers", json!([true]));
    assert_eq!(
        keys(&dump),
        [
            "bannedIPS",
            "bannedPeers",
            "bannedSubnets",
            "peers",
            "totalConnected"
        ]
    );
    assert_eq!(dump["totalConnected"], 2);
    let peer = dump["peers"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(keys(&peer), keys(&me));
    assert_eq!(peer["connectedness"], 1);
    assert!(peer["gossipBlocks"].as_bool().unwrap());
    let stats = a.rpc("opp2p_peerStats", json!([]));
    assert_eq!(
        keys(&stats),
        [
            "banned",
            "blocksTopic",
            "blocksTopicV2",
            "blocksTopicV3",
            "blocksTopicV4",
            "connected",
            "known",
            "table"
        ]
    );
    assert!(a
        .rpc("opp2p_discoveryTable", json!([]))
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e.as_str().unwrap().starts_with("enr:")));
    let victim = producer.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string();
    for (method, params) in [
        ("opp2p_blockAddr", json!(["192.0.2.7"])),
        (
            "opp2p_blockSubnet",
            json!([{"IP": "10.0.0.0", "Mask": "/wAAAA=="}]),
        ),
        ("opp2p_blockSubnet", json!(["172.16.0.0/12"])),
        ("opp2p_protectPeer", json!([victim])),
        ("opp2p_unprotectPeer", json!([victim])),
        ("opp2p_unblockAddr", json!(["192.0.2.7"])),
    ] {
        assert_eq!(
            a.rpc(method, params.clone()),
            Value::Null,
            "{method} {params}"
        );
    }
    assert_eq!(a.rpc("opp2p_listBlockedAddrs", json!([])), json!([]));
    let subnets = a.rpc("opp2p_listBlockedSubnets", json!([]));
    assert_eq!(subnets.as_array().unwrap().len(), 2);
    assert_eq!(keys(&subnets[0]), ["IP", "Mask"]);
    a.rpc("opp2p_unblockSubnet", json!(["10.0.0.0/8"]));
    assert_eq!(a.rpc("opp2p_blockPeer", json!([victim])), Value::Null);
    assert_eq!(a.rpc("opp2p_listBlockedPeers", json!([])), json!([victim]));
    eventually(Duration::from_secs(10), "blocked peer disconnected", || {
        a.rpc("opp2p_peerCount", json!([]))["connectedGossip"] == 1
    });
    a.rpc("opp2p_unblockPeer", json!([victim]));
    let addr = format!("/ip4/127.0.0.1/tcp/{}/p2p/{victim}", producer.tcp);
    assert_eq!(a.rpc("opp2p_connectPeer", json!([addr])), Value::Null);
    assert_eq!(a.rpc("opp2p_peerCount", json!([]))["connectedGossip"], 2);
    assert_eq!(a.rpc("opp2p_disconnectPeer", json!([victim])), Value::Null);

    // RPC errors are JSON-RPC errors, never crashes.
    for (method, params, code) in [
        ("opp2p_blockPeer", json!(["not-a-peer-id"]), -32602),
        ("opp2p_blockSubnet", json!(["10.0.0.0/33"]), -32602),
        ("opp2p_connectPeer", json!(["/ip4/127.0.0.1/tcp/1"]), -32602),
        ("opp2p_connectPeer", json!(["garbage"]), -32602),
        ("opp2p_noSuchMethod", json!([]), -32601),
    ] {
        let response = a.call(method, params);
        assert_eq!(response["error"]["code"], code, "{method}: {response}");
    }
    assert_eq!(http_get(a.rpc, "/healthz").map(|r| r.0), Some(200));
    for node in [a, b, producer] {
        assert!(node.terminate().success(), "clean exit on SIGTERM");
    }
}

#[test]
fn bans_and_block_lists_survive_a_process_restart() {
    let dir = temp_dir("restart");
    let (tcp, udp, rpc, metrics) = (free_tcp(), free_udp(), free_tcp(), free_tcp());
    let node = Node::start_with_ports(&dir, tcp, udp, rpc, metrics, &["--p2p.no-discovery"]);
    let peer_id = node.rpc("opp2p_self", json!([]))["peerID"].clone();
    let blocked = "16Uiu2HAmJ7Z3uCqU6jXuzPYxJqkgzCEZ3LbRkrQgKZ3b5bhYpUFt";
    node.rpc("opp2p_blockPeer", json!([blocked]));
    node.rpc("opp2p_blockAddr", json!(["192.0.2.1"]));
    node.rpc("opp2p_blockSubnet", json!(["10.0.0.0/8"]));
    assert!(node.terminate().success());
    let node = Node::start_with_ports(&dir, tcp, udp, rpc, metrics, &["--p2p.no-discovery"]);
    assert_eq!(
        node.rpc("opp2p_self", json!([]))["peerID"],
        peer_id,
        "same identity"
    );
    assert_eq!(
        node.rpc("opp2p_listBlockedPeers", json!([])),
        json!([blocked])
    );
    assert_eq!(
        node.rpc("opp2p_listBlockedAddrs", json!([])),
        json!(["192.0.2.1"])
    );
    assert_eq!(
        node.rpc("opp2p_listBlockedSubnets", json!([]))[0]["IP"],
        "10.0.0.0"
    );
    // Discovery is off: op-node's error.
    let response = node.call("opp2p_discoveryTable", json!([]));
    assert_eq!(response["error"]["message"], "discovery disabled");
    assert!(node.terminate().success());
}

#[test]
fn jwt_secret_guards_the_rpc_but_not_healthz() {
    let dir = temp_dir("jwt");
    let secret = dir.join("jwt.hex");
    std::fs::write(&secret, "f0".repeat(32)).unwrap();
    let rpc = free_tcp();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .args([
            "node",
            "--l2.chain-id",
            "901",
            "--p2p.listen.ip",
            "127.0.0.1",
            "--p2p.no-discovery",
        ])
        .args([
            "--p2p.listen.tcp",
            &free_tcp().to_string(),
            "--rpc.port",
            &rpc.to_string(),
        ])
        .arg("--p2p.priv.path")
        .arg(dir.join("key"))
        .args(["--p2p.peerstore.path", "memory", "--rpc.jwt-secret"])
        .arg(&secret)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(20), "healthz", || {
        http_get(rpc, "/healthz").map(|r| r.0) == Some(200)
    });
    let request =
        json!({"jsonrpc": "2.0", "id": 1, "method": "opp2p_self", "params": []}).to_string();
    assert_eq!(http_post(rpc, "/", &request, &[]).map(|r| r.0), Some(401));
    assert_eq!(
        http_post(rpc, "/", &request, &[("Authorization", "Bearer nonsense")]).map(|r| r.0),
        Some(401)
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn every_metric_the_dashboard_queries_is_exported_by_a_running_node() {
    let dir = temp_dir("dashboard");
    let producer = Node::start(
        &dir.join("0"),
        &["--p2p.sequencer.key", DEV_KEY, "--dev.blocks", "300"],
    );
    let receiver = Node::start(&dir.join("1"), &["--p2p.bootnodes", &enr_of(&producer)]);
    eventually(
        Duration::from_secs(20),
        "blocks received and peers scored",
        || {
            let m = receiver.metrics();
            m.iter()
                .any(|(k, v)| k.starts_with("opmesh_p2p_block_delay_seconds_count") && *v >= 1.0)
                && m.keys().any(|k| k.starts_with("opmesh_peer_scores_count"))
                && m.keys()
                    .any(|k| k.starts_with("opmesh_discovery_enrs_total"))
        },
    );
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../etc/grafana/opmesh-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let text = receiver.metrics_text();
    let exported: std::collections::HashSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut queried = Vec::new();
    collect_exprs(&dashboard, &mut queried);
    assert!(!queried.is_empty());
    let mut missing = Vec::new();
    for expr in &queried {
        for name in metric_names(expr) {
            if !exported.contains(name.as_str()) {
                missing.push(name);
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "dashboard queries metrics the node does not export: {missing:?}"
    );
    for text in [&text] {
        for line in text.lines().filter(|l| l.starts_with("# HELP ")) {
            assert!(
                line.split(' ').count() > 3,
                "metric without help text: {line}"
            );
        }
    }
}

fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "expr" {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_exprs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_exprs(i, out)),
        _ => {}
    }
}

/// The `opmesh_*` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("opmesh_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        names.push(expr[start..end].to_string());
        i = end;
    }
    names
}

#[test]
fn bad_flags_and_busy_ports_are_one_line_errors_naming_the_flag() {
    let dir = temp_dir("flags");
    let key = dir.join("key");
    let key = key.to_str().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "--l2.chain-id"),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.bootnodes".into(),
                "enr:-garbage".into(),
            ],
            "--p2p.bootnodes",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.static".into(),
                "/ip4/1.2.3.4/tcp/1".into(),
            ],
            "--p2p.static",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.netrestrict".into(),
                "10.0.0.0/99".into(),
            ],
            "--p2p.netrestrict",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.sequencer.key".into(),
                "0x12".into(),
            ],
            "--p2p.sequencer.key",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--dev.blocks".into(),
                "100".into(),
            ],
            "--dev.blocks",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.ban.duration".into(),
                "1 hour".into(),
            ],
            "--p2p.ban.duration",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.listen.tcp".into(),
                "80".into(),
            ],
            "--p2p.listen.tcp",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.peers.lo".into(),
                "40".into(),
            ],
            "--p2p.peers.lo",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--p2p.listen.tcp".into(),
                busy_port.clone(),
            ],
            "--p2p.listen.tcp",
        ),
        (
            vec![
                "--l2.chain-id".into(),
                "901".into(),
                "--rpc.port".into(),
                busy_port.clone(),
            ],
            "--rpc.port",
        ),
    ];
    for (flags, named) in cases {
        let mut args = vec![
            "node",
            "--p2p.listen.ip",
            "127.0.0.1",
            "--p2p.no-discovery",
            "--p2p.peerstore.path",
            "memory",
            "--p2p.priv.path",
            key,
        ];
        let rpc_port = free_tcp().to_string();
        if !flags.iter().any(|f| f == "--rpc.port") {
            args.extend(["--rpc.port", &rpc_port]);
        }
        let tcp_port = free_tcp().to_string();
        if !flags.iter().any(|f| f == "--p2p.listen.tcp") {
            args.extend(["--p2p.listen.tcp", &tcp_port]);
        }
        args.extend(flags.iter().map(String::as_str));
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} should fail");
        let error_line = stderr
            .lines()
            .rev()
            .find(|l| l.contains("error"))
            .unwrap_or_default();
        assert!(
            error_line.contains(named),
            "{flags:?}: expected an error naming {named}, got:\n{stderr}"
        );
    }
    // A malformed key file is an error naming the flag and the path, and is left alone.
    std::fs::write(dir.join("badkey"), "not hex").unwrap();
    let bad = dir.join("badkey");
    let out = run(&[
        "node",
        "--l2.chain-id",
        "901",
        "--p2p.priv.path",
        bad.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--p2p.priv.path") && stderr.contains("badkey"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "not hex");
    drop(busy);
}

#[test]
fn flags_are_read_from_opmesh_environment_variables() {
    let dir = temp_dir("env");
    let rpc = free_tcp();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .arg("node")
        .env("OPMESH_L2_CHAIN_ID", "902")
        .env("OPMESH_P2P_LISTEN_IP", "127.0.0.1")
        .env("OPMESH_P2P_LISTEN_TCP", free_tcp().to_string())
        .env("OPMESH_P2P_NO_DISCOVERY", "true")
        .env("OPMESH_RPC_PORT", rpc.to_string())
        .env("OPMESH_P2P_PEERSTORE_PATH", "memory")
        .env("OPMESH_P2P_PRIV_PATH", dir.join("key"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(20), "rpc up", || {
        http_get(rpc, "/healthz").is_some()
    });
    let (_, body) = http_post(
        rpc,
        "/",
        &json!({"jsonrpc":"2.0","id":1,"method":"opp2p_self","params":[]}).to_string(),
        &[],
    )
    .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"]["chainID"], 902);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn p2p_key_commands_match_op_node() {
    let out = run(&["p2p", "genkey"]);
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(key.len(), 64);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opmesh"))
        .args(["p2p", "priv2id"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(DEV_KEY.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // The libp2p id of anvil key #0's public key.
    let id = String::from_utf8(out.stdout).unwrap();
    assert!(id.trim().starts_with("16Uiu2HAm"), "{id}");
}
