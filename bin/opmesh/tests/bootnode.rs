//! `opmesh bootnode`: a real bootnode process, two opmesh nodes and a plain discv5 node
//! (the discv5 crate with an `opstack` entry, standing in for another client) on 127.0.0.1,
//! chain 901, given only the bootnode's ENR.

mod common;

use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
    time::Duration,
};

use common::{eventually, free_tcp, free_udp, temp_dir, Node};
use discv5::{ConfigBuilder, Discv5, ListenConfig};
use opmesh_discovery::{Enr, NodeIdentity, OpStackEnr, OPSTACK_ENR_KEY};
use serde_json::{json, Value};

/// The node ids in an `opp2p_discoveryTable` answer.
fn table_ids(node: &Node) -> HashSet<String> {
    node.rpc("opp2p_discoveryTable", json!([]))
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|e| Enr::from_str(e).ok())
        .map(|e| e.node_id().to_string())
        .collect()
}

fn self_enr(node: &Node) -> Enr {
    let me = node.rpc("opp2p_self", json!([]));
    Enr::from_str(me["ENR"].as_str().expect("ENR field")).expect("valid ENR")
}

fn connected_to(node: &Node, peer_id: &str) -> bool {
    node.rpc("opp2p_peers", json!([true]))["peers"]
        .as_object()
        .is_some_and(|peers| peers.contains_key(peer_id))
}

/// A plain discv5 node of chain 901 without a TCP port (so nobody dials it), bootstrapped
/// from `bootnode` only.
async fn plain_discv5_node(bootnode: &Enr) -> Discv5 {
    let ip = Ipv4Addr::LOCALHOST;
    let port = free_udp();
    let identity = NodeIdentity::generate();
    let mut builder = Enr::builder();
    builder.ip4(ip).udp4(port);
    builder.add_value(OPSTACK_ENR_KEY, &OpStackEnr::new(901));
    let local = builder.build(&identity.enr_key()).unwrap();
    let mut config = ConfigBuilder::new(ListenConfig::from_ip(IpAddr::V4(ip), port));
    config.disable_enr_update().auto_nat_listen_duration(None);
    let mut discv5 = Discv5::new(local, identity.enr_key(), config.build()).unwrap();
    discv5.start().await.unwrap();
    discv5.add_enr(bootnode.clone()).unwrap();
    discv5
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_find_each_other_through_the_bootnode_which_keeps_key_and_table() {
    let dir = temp_dir("bootnode");
    let (boot_udp, boot_rpc, boot_metrics) = (free_udp(), free_tcp(), free_tcp());
    let bootnode = Node::start_bootnode(&dir.join("boot"), boot_udp, boot_rpc, boot_metrics, &[]);
    let boot_enr = self_enr(&bootnode);
    assert_eq!(boot_enr.udp4(), Some(boot_udp));
    assert_eq!(
        boot_enr.tcp4(),
        None,
        "a bootnode has no libp2p host to dial"
    );
    let boot_enr_text = boot_enr.to_base64();
    // The host methods say why they fail.
    let refused = bootnode.call("opp2p_blockPeer", json!([peer_id_of(&bootnode)]));
    assert_eq!(
        refused["error"]["message"], "no connection gater",
        "{refused}"
    );

    let fast = ["--p2p.bootnodes", boot_enr_text.as_str()];
    let a = Node::start(&dir.join("a"), &fast);
    let b = Node::start(&dir.join("b"), &fast);
    let (a_id, b_id) = (self_enr(&a), self_enr(&b));
    let (a_peer, b_peer) = (peer_id_of(&a), peer_id_of(&b));

    let plain = plain_discv5_node(&boot_enr).await;
    let plain_id = plain.local_enr().node_id();

    // Neither node was told about the other: only the bootnode can introduce them.
    eventually(Duration::from_secs(90), "a and b connected", || {
        connected_to(&a, &b_peer) && connected_to(&b, &a_peer)
    });
    // The plain discv5 node finds both opmesh nodes through the bootnode...
    let wanted: HashSet<_> = [a_id.node_id(), b_id.node_id()].into_iter().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let _ = plain.find_node(opmesh_discovery::NodeId::random()).await;
        let known: HashSet<_> = plain.table_entries_id().into_iter().collect();
        if wanted.is_subset(&known) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "plain discv5 node did not find both opmesh nodes: {known:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // ...and they know it (a valid record of our chain, not dialled: it has no TCP port).
    let plain_hex = plain_id.to_string();
    eventually(
        Duration::from_secs(60),
        "opmesh nodes learn the plain node",
        || table_ids(&a).contains(&plain_hex) || table_ids(&b).contains(&plain_hex),
    );

    // The bootnode's metrics count what it saw.
    eventually(
        Duration::from_secs(20),
        "bootnode table size metric",
        || {
            bootnode
                .metrics()
                .get("opmesh_discovery_table_size")
                .is_some_and(|v| *v >= 2.0)
        },
    );

    // Restart: same key (same ENR identity), and the table comes back from disk with the
    // nodes in it even though they are gone.
    let boot_table = table_ids(&bootnode);
    for node in [&a_id, &b_id] {
        assert!(boot_table.contains(&node.node_id().to_string()));
    }
    drop(plain);
    assert!(bootnode.terminate().success());
    drop(a);
    drop(b);
    assert!(dir.join("boot/discovery").read_dir().unwrap().count() > 0);
    let bootnode = Node::start_bootnode(&dir.join("boot"), boot_udp, boot_rpc, boot_metrics, &[]);
    let again = self_enr(&bootnode);
    assert_eq!(again.node_id(), boot_enr.node_id());
    assert!(again.seq() > boot_enr.seq() || again == boot_enr);
    let restored = table_ids(&bootnode);
    for node in [&a_id, &b_id] {
        assert!(
            restored.contains(&node.node_id().to_string()),
            "{} missing from the restored table {restored:?}",
            node.node_id()
        );
    }
    assert!(bootnode.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}

fn peer_id_of(node: &Node) -> String {
    node.rpc("opp2p_self", json!([]))["peerID"]
        .as_str()
        .unwrap()
        .to_string()
}
