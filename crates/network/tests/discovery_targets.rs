//! Full stacks with real discv5 UDP sockets on loopback: peer targets from discovery alone,
//! another chain in the same discv5 network, and a restart with the bootnode gone.

use std::{net::Ipv4Addr, path::PathBuf, time::Duration};

use opmesh_discovery::{Bootnode, NodeIdentity, TableLocation};
use opmesh_gossip::PeerLimits;
use opmesh_network::{Network, NetworkConfig, NetworkHandle};
use opmesh_primitives::ChainConfig;

fn config(
    chain_id: u64,
    identity: NodeIdentity,
    bootnodes: Vec<Bootnode>,
    lo: usize,
    hi: usize,
) -> NetworkConfig {
    let mut config = NetworkConfig::new(ChainConfig::new(chain_id), identity);
    config.listen.ip = Ipv4Addr::LOCALHOST.into();
    config.listen.tcp_port = 0;
    config.listen.udp_port = 0;
    config.discovery.lookup_interval = Duration::from_millis(300);
    config.peers.limits = PeerLimits {
        lo,
        hi,
        grace: Duration::from_millis(500),
        ..PeerLimits::default()
    };
    config.discovery.bootnodes = bootnodes;
    config
}

async fn start(config: NetworkConfig) -> NetworkHandle {
    let (handle, _payloads) = Network::builder(config)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    handle
}

async fn bootnode_of(handle: &NetworkHandle) -> Bootnode {
    handle.local_enr().unwrap().to_base64().parse().unwrap()
}

async fn connected(handle: &NetworkHandle) -> u64 {
    handle.stats().await.unwrap().connected_peers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirteen_nodes_reach_peers_lo_from_one_bootnode_and_ignore_another_chain() {
    let (lo, hi) = (4, 6);
    let boot = start(config(901, NodeIdentity::generate(), vec![], lo, hi)).await;
    let bootnode = bootnode_of(&boot).await;
    let stranger = start(config(
        902,
        NodeIdentity::generate(),
        vec![bootnode.clone()],
        lo,
        hi,
    ))
    .await;
    let mut nodes = vec![boot];
    for _ in 0..12 {
        nodes.push(
            start(config(
                901,
                NodeIdentity::generate(),
                vec![bootnode.clone()],
                lo,
                hi,
            ))
            .await,
        );
    }
    let mut counts = Vec::new();
    for _ in 0..300 {
        counts.clear();
        for node in &nodes {
            counts.push(connected(node).await);
        }
        if counts.iter().all(|&n| n >= lo as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if counts.iter().any(|&n| n < lo as u64) {
        let mut report = String::new();
        for (i, node) in nodes.iter().enumerate() {
            let stats = node.stats().await.unwrap();
            let table = node.discovery_table().await.map(|t| t.len()).unwrap_or(0);
            report.push_str(&format!(
                "\n  node {i}: {} peers, table {table}, {stats:?}",
                counts[i]
            ));
        }
        panic!("not every node reached peers.lo = {lo}:{report}");
    }
    // Stay within bounds for a while, and never connect to the other chain's node.
    for _ in 0..10 {
        for node in &nodes {
            let peers = node.peers().await.unwrap();
            // An inbound connection may take a node past hi until the next maintenance tick
            // trims it (as op-node's connection manager does); the hard cap is hi + headroom.
            assert!(
                peers.len() <= hi + 5,
                "{} peers above the hard cap",
                peers.len()
            );
            assert!(
                !peers.iter().any(|p| p.peer_id == stranger.peer_id()),
                "connected to chain 902"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Trimming brings every node back to at most hi.
    let mut settled = false;
    for _ in 0..50 {
        let mut all = true;
        for node in &nodes {
            all &= connected(node).await <= hi as u64;
        }
        if all {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled, "some node stayed above peers.hi = {hi}");
    assert_eq!(
        connected(&stranger).await,
        0,
        "the chain-902 node connected to someone"
    );
    // Discovery did see it: chain-901 nodes dropped it as wrong_chain.
    let mut wrong_chain = 0;
    for node in &nodes {
        let stats = node.discovery().unwrap().stats();
        wrong_chain += stats
            .enrs
            .iter()
            .find(|(label, _)| *label == "wrong_chain")
            .map_or(0, |(_, n)| *n);
    }
    assert!(wrong_chain > 0, "no node saw the chain-902 ENR");
    for node in nodes.iter().chain([&stranger]) {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_keeps_its_identity_and_reconnects_from_its_table_without_the_bootnode() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("opmesh-restart-stack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let key_path = dir.join("key.txt");
    let identity = NodeIdentity::load_or_create(&key_path).unwrap();
    let persistent = |bootnodes: Vec<Bootnode>| {
        let mut c = config(
            901,
            NodeIdentity::load_or_create(&key_path).unwrap(),
            bootnodes,
            2,
            4,
        );
        c.discovery.table = TableLocation::Dir(dir.join("discovery"));
        c.peers.peerstore_path = Some(dir.join("peerstore.json"));
        c
    };
    let boot = start(config(901, NodeIdentity::generate(), vec![], 2, 4)).await;
    let bootnode = bootnode_of(&boot).await;
    let others = [
        start(config(
            901,
            NodeIdentity::generate(),
            vec![bootnode.clone()],
            2,
            4,
        ))
        .await,
        start(config(
            901,
            NodeIdentity::generate(),
            vec![bootnode.clone()],
            2,
            4,
        ))
        .await,
    ];
    let node = start(persistent(vec![bootnode.clone()])).await;
    for _ in 0..200 {
        if node.discovery_table().await.unwrap().len() >= 3 && connected(&node).await >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seq_before = node.local_enr().unwrap().seq();
    assert_eq!(node.peer_id(), identity.peer_id());
    node.shutdown().await;
    boot.shutdown().await;

    // Restart with no bootnode at all: the stored table and peerstore bring it back.
    let node = start(persistent(vec![])).await;
    assert_eq!(node.peer_id(), identity.peer_id(), "same peer id");
    assert!(
        node.local_enr().unwrap().seq() >= seq_before,
        "ENR sequence went back"
    );
    let mut reconnected = false;
    for _ in 0..200 {
        let peers = node.peers().await.unwrap();
        if others
            .iter()
            .any(|o| peers.iter().any(|p| p.peer_id == o.peer_id()))
        {
            reconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reconnected, "did not reconnect from its stored table");
    node.shutdown().await;
    for o in &others {
        o.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
