//! `--p2p.nat` on loopback: two nodes confirm each other's address with AutoNAT (private IPs
//! allowed by the hidden `--p2p.debug.nat-private-ips`), and the confirmed address goes into
//! the ENR of a node that had none. UPnP finds no gateway here (logged).

mod common;

use std::time::Duration;

use common::{eventually, free_tcp, free_udp, temp_dir, Node};
use opmesh_discovery::Enr;
use serde_json::json;

fn enr(node: &Node) -> Enr {
    node.rpc("opp2p_self", json!([]))["ENR"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn autonat_confirms_a_loopback_address_and_it_goes_into_the_enr() {
    let dir = temp_dir("nat");
    let nat = ["--p2p.nat", "--p2p.debug.nat-private-ips"];
    // Behind NAT (--p2p.nat) a listen IP that is not public is the inside of the NAT, so
    // without --p2p.advertise.ip the ENR starts without an IP (tests stay on 127.0.0.1).
    let a = Node::start_on(
        "127.0.0.1",
        &dir.join("a"),
        free_tcp(),
        free_udp(),
        free_tcp(),
        free_tcp(),
        &nat,
    );
    assert_eq!(enr(&a).ip4(), None, "no IP before NAT traversal");
    let a_peer = a.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string();
    let static_peer = format!("/ip4/127.0.0.1/tcp/{}/p2p/{a_peer}", a.tcp);
    let mut b_args = nat.to_vec();
    b_args.extend(["--p2p.static", static_peer.as_str()]);
    let b = Node::start(&dir.join("b"), &b_args);

    // b saw a at 127.0.0.1:<a's port> and told it (identify); a asked b to dial that back.
    eventually(
        Duration::from_secs(90),
        "a's ENR carries the confirmed address",
        || {
            let record = enr(&a);
            record.ip4() == Some([127, 0, 0, 1].into()) && record.tcp4() == Some(a.tcp)
        },
    );
    let log = a.log();
    assert!(log.contains("external address confirmed"), "{log}");
    assert!(log.contains("AutoNAT status changed"), "{log}");
    assert!(
        log.contains("local ENR updated with the confirmed external address"),
        "{log}"
    );
    // Both speak AutoNAT.
    let protocols = a.rpc("opp2p_self", json!([]))["protocols"].to_string();
    assert!(protocols.contains("/libp2p/autonat/1.0.0"), "{protocols}");
    drop(b);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without `--p2p.debug.nat-private-ips`, AutoNAT neither asks nor serves peers at loopback
/// addresses (libp2p's `only_global_ips`): nothing is confirmed and the ENR keeps no IP.
#[test]
fn by_default_autonat_ignores_loopback_peers() {
    let dir = temp_dir("nat-global-only");
    let a = Node::start_on(
        "127.0.0.1",
        &dir.join("a"),
        free_tcp(),
        free_udp(),
        free_tcp(),
        free_tcp(),
        &["--p2p.nat"],
    );
    let a_peer = a.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string();
    let static_peer = format!("/ip4/127.0.0.1/tcp/{}/p2p/{a_peer}", a.tcp);
    let b = Node::start(&dir.join("b"), &["--p2p.nat", "--p2p.static", &static_peer]);
    eventually(Duration::from_secs(30), "b connected to a", || {
        b.rpc("opp2p_peers", json!([true]))["peers"]
            .as_object()
            .is_some_and(|p| p.contains_key(&a_peer))
    });
    // Past the first probe (5 s after start) and its answer.
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(enr(&a).ip4(), None);
    assert!(
        !a.log().contains("external address confirmed"),
        "{}",
        a.log()
    );
    drop(b);
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}
