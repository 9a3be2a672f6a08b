//! Host names wherever an address goes: `/dns4` static peers (resolved before every dial, so
//! the gater still judges the IP), an `enode://` bootnode by host name, `--p2p.advertise.ip`
//! as a name, and a name that does not resolve (a warning, retried). `localhost` only: no
//! outside DNS.

mod common;

use std::time::Duration;

use common::{eventually, temp_dir, Node};
use opmesh_discovery::{Enr, NodeIdentity};
use serde_json::json;

fn peer_id(node: &Node) -> String {
    node.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string()
}

fn connected_to(node: &Node, peer: &str) -> bool {
    node.rpc("opp2p_peers", json!([true]))["peers"]
        .as_object()
        .is_some_and(|peers| peers.contains_key(peer))
}

/// A name the system resolver refuses without asking a DNS server (a 70-character label).
fn unresolvable() -> String {
    format!("{}.localhost", "a".repeat(70))
}

#[test]
fn a_dns4_static_peer_connects_is_gated_by_ip_and_a_bad_name_is_logged_and_retried() {
    let dir = temp_dir("dns-static");
    let a = Node::start(&dir.join("a"), &["--p2p.no-discovery"]);
    let a_peer = peer_id(&a);
    let by_name = format!("/dns4/localhost/tcp/{}/p2p/{a_peer}", a.tcp);
    let missing = format!(
        "/dns4/{}/tcp/1/p2p/{}",
        unresolvable(),
        NodeIdentity::generate().peer_id()
    );
    let b = Node::start(
        &dir.join("b"),
        &[
            "--p2p.no-discovery",
            "--p2p.static",
            &format!("{by_name},{missing}"),
        ],
    );
    eventually(Duration::from_secs(30), "b dials a by name", || {
        connected_to(&b, &a_peer)
    });

    // The name that does not resolve: a warning naming it, again on each retry.
    eventually(
        Duration::from_secs(30),
        "three failed lookups logged",
        || {
            b.log()
                .lines()
                .filter(|l| {
                    l.contains("cannot resolve peer address") && l.contains(&unresolvable())
                })
                .count()
                >= 3
        },
    );

    // The gater sees the resolved IP: blocking 127.0.0.1 drops the connection and the
    // redials of the static peer (by name) are refused.
    b.rpc("opp2p_blockAddr", json!(["127.0.0.1"]));
    eventually(Duration::from_secs(10), "connection closed", || {
        !connected_to(&b, &a_peer)
    });
    let denied = |node: &Node| {
        node.metrics()
            .get("opmesh_p2p_dials_total{allow=\"false\"}")
            .copied()
            .unwrap_or(0.0)
    };
    let before = denied(&b);
    eventually(
        Duration::from_secs(20),
        "a redial refused by the gater",
        || denied(&b) > before,
    );
    assert!(!connected_to(&b, &a_peer));
    // Unblocked, the static peer comes back through its name.
    b.rpc("opp2p_unblockAddr", json!(["127.0.0.1"]));
    eventually(Duration::from_secs(90), "b reconnects to a", || {
        connected_to(&b, &a_peer)
    });
    drop(b);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_enode_bootnode_by_host_name_and_an_advertised_host_name() {
    let dir = temp_dir("dns-enode");
    let a = Node::start(&dir.join("a"), &["--p2p.advertise.ip", "localhost"]);
    let a_enr: Enr = a.rpc("opp2p_self", json!([]))["ENR"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(a_enr.ip4(), Some([127, 0, 0, 1].into()), "advertised name");
    let key = NodeIdentity::load(&dir.join("a/key.txt")).unwrap();
    let public = key.libp2p_keypair().public().try_into_secp256k1().unwrap();
    let enode = format!(
        "enode://{}@localhost:{}?discport={}",
        hex::encode(&public.to_bytes_uncompressed()[1..]),
        a.tcp,
        a.udp
    );
    let a_peer = peer_id(&a);
    let b = Node::start(&dir.join("b"), &["--p2p.bootnodes", &enode]);
    eventually(
        Duration::from_secs(60),
        "b finds a through its enode",
        || connected_to(&b, &a_peer),
    );
    drop(b);

    // An advertised name that does not resolve stops the node, naming the flag, after
    // logged retries.
    let out = common::run(&[
        "node",
        "--l2.chain-id",
        "901",
        "--p2p.priv.raw",
        &NodeIdentity::generate().secret_hex(),
        "--p2p.advertise.ip",
        &unresolvable(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: --p2p.advertise.ip:"), "{stderr}");
    assert!(
        stderr.matches("--p2p.advertise.ip").count() >= 3,
        "{stderr}"
    );
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}
