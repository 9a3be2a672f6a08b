//! Real gossip nodes on loopback: Noise + Yamux over TCP, the real validator.

mod common;

use std::{collections::HashMap, time::Duration};

use common::*;
use libp2p::multiaddr::Protocol;
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind},
    DialReason, GateOp, GossipError, PayloadVersion,
};
use opmesh_peers::Denial;

/// Six nodes in a ring with chords (every node dials the next two), node 0 the sequencer.
async fn six_node_network() -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for i in 0..6 {
        nodes.push(spawn_node(i == 0, |_| {}).await);
    }
    for i in 0..6 {
        for step in [1, 2] {
            let target = nodes[(i + step) % 6].addr.clone();
            nodes[i].handle.dial(target).await.expect("dial succeeds");
        }
    }
    for node in &nodes {
        wait_subscribed(&node.handle, 4).await;
    }
    // Let a few heartbeats build the meshes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_block_reaches_every_node_exactly_once() {
    let mut nodes = six_node_network().await;
    let builder = builder();
    let mut hashes = Vec::new();
    for n in 1..=3u64 {
        let (payload, root) = builder.payload(PayloadVersion::V4, &BlockSpec::new(n, now(), 10));
        let published = nodes[0]
            .handle
            .sign_and_publish(payload, root)
            .await
            .expect("published");
        assert_eq!(published.version, PayloadVersion::V4);
        hashes.push(published.hash);
    }
    for (i, node) in nodes.iter_mut().enumerate().skip(1) {
        let mut received = HashMap::new();
        while received.len() < hashes.len() {
            let payload = node
                .next_payload(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("node {i} got {} of 3 blocks", received.len()));
            *received
                .entry(payload.envelope.payload.block_hash())
                .or_insert(0) += 1;
        }
        // Nothing more arrives: each block was delivered once.
        assert!(
            node.next_payload(Duration::from_millis(700))
                .await
                .is_none(),
            "node {i} got a duplicate"
        );
        for hash in &hashes {
            assert_eq!(received.get(hash), Some(&1), "node {i}");
        }
        let stats = node.handle.stats().await.unwrap();
        assert_eq!(stats.accepted, 3, "node {i}: {stats:?}");
        assert_eq!(stats.rejected, 0, "node {i}: {stats:?}");
    }
    // The publisher does not deliver its own blocks to itself.
    assert!(nodes[0]
        .next_payload(Duration::from_millis(100))
        .await
        .is_none());
    assert_eq!(nodes[0].handle.stats().await.unwrap().published, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_signature_block_stops_at_the_first_hop_and_costs_its_sender() {
    let nodes = six_node_network().await;
    let attacker = spawn_node(false, |_| {}).await;
    attacker.handle.dial(nodes[5].addr.clone()).await.unwrap();
    wait_subscribed(&attacker.handle, 1).await;
    wait_subscribed(&nodes[5].handle, 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before: Vec<_> = futures::future::join_all(nodes.iter().map(|n| n.handle.stats()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let junk = builder().invalid(
        InvalidKind::BadSignature,
        PayloadVersion::V4,
        &BlockSpec::new(50, now(), 5),
    );
    attacker
        .handle
        .publish_raw(PayloadVersion::V4, junk)
        .await
        .expect("attacker publishes");

    let first_hop = &nodes[5].handle;
    eventually(Duration::from_secs(5), "first hop rejects", || async {
        first_hop.stats().await.unwrap().rejected == before[5].rejected + 1
    })
    .await;
    let score = first_hop
        .peers()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.peer_id == attacker.peer_id())
        .and_then(|p| p.gossip_score)
        .expect("attacker is scored");
    assert!(score < -100.0, "attacker score {score}");

    tokio::time::sleep(Duration::from_millis(700)).await;
    for (i, node) in nodes.iter().enumerate().take(5) {
        let after = node.handle.stats().await.unwrap();
        assert_eq!(
            after.messages_received, before[i].messages_received,
            "node {i} saw the junk"
        );
    }
    // An honest block still flows to everyone after the attack.
    let (payload, root) = builder().payload(PayloadVersion::V4, &BlockSpec::new(51, now(), 1));
    nodes[0]
        .handle
        .sign_and_publish(payload, root)
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "honest block delivered", || async {
        let mut all = true;
        for node in &nodes[1..] {
            all &= node.handle.stats().await.unwrap().accepted == 1;
        }
        all
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_needs_a_key_and_the_right_version() {
    let plain = spawn_node(false, |_| {}).await;
    let (payload, root) = builder().payload(PayloadVersion::V4, &BlockSpec::new(1, now(), 0));
    assert_eq!(
        plain.handle.sign_and_publish(payload, root).await,
        Err(GossipError::NoSequencerKey)
    );

    let sequencer = spawn_node(true, |_| {}).await;
    // A v3 payload at a timestamp where Isthmus (v4) is active.
    let (payload, root) = builder().payload(PayloadVersion::V3, &BlockSpec::new(1, now(), 0));
    let err = sequencer
        .handle
        .sign_and_publish(payload, root)
        .await
        .unwrap_err();
    assert!(matches!(err, GossipError::Envelope(_)), "{err}");
    // No peers: gossipsub refuses, and the error says so instead of losing the block silently.
    let (payload, root) = builder().payload(PayloadVersion::V4, &BlockSpec::new(1, now(), 0));
    let err = sequencer
        .handle
        .sign_and_publish(payload, root)
        .await
        .unwrap_err();
    assert!(matches!(err, GossipError::Publish(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_errors_are_typed() {
    let node = spawn_node(false, tcp).await;
    let no_peer_id = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
    assert!(matches!(
        node.handle.dial(no_peer_id).await,
        Err(GossipError::InvalidAddress(_))
    ));
    let closed_port: libp2p::Multiaddr =
        format!("/ip4/127.0.0.1/tcp/1/p2p/{}", libp2p::PeerId::random())
            .parse()
            .unwrap();
    assert!(matches!(
        node.handle.dial(closed_port).await,
        Err(GossipError::Dial(_))
    ));
    assert!(matches!(
        node.handle.dial(node.addr.clone()).await,
        Err(GossipError::Dial(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_failures_carry_their_cause() {
    let node = spawn_node(false, tcp).await;
    let other = spawn_node(false, tcp).await;
    assert_eq!(
        node.handle.dial(node.addr.clone()).await,
        Err(GossipError::Dial(DialReason::SelfDial))
    );
    let closed_port: libp2p::Multiaddr =
        format!("/ip4/127.0.0.1/tcp/1/p2p/{}", libp2p::PeerId::random())
            .parse()
            .unwrap();
    assert!(matches!(
        node.handle.dial(closed_port).await,
        Err(GossipError::Dial(DialReason::Transport(_)))
    ));
    // The gater's typed denial reaches the caller, and its text is unchanged.
    node.handle
        .gate(GateOp::BlockPeer(other.peer_id()))
        .await
        .unwrap();
    let refused = node.handle.dial(other.addr.clone()).await;
    assert_eq!(
        refused,
        Err(GossipError::Dial(DialReason::Gater(Denial::BlockedPeer)))
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "dial failed: refused by the gater: peer is blocked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_reports_the_agent_and_a_full_consumer_never_stalls_the_swarm() {
    let sequencer = spawn_node(true, |_| {}).await;
    // A consumer that never reads, with room for one payload.
    let receiver = spawn_node(false, |c| c.gossip.payload_buffer = 1).await;
    receiver.handle.dial(sequencer.addr.clone()).await.unwrap();
    wait_subscribed(&sequencer.handle, 1).await;
    wait_subscribed(&receiver.handle, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = receiver.handle.stats().await.unwrap();
    assert!(
        stats.bytes_in > 0 && stats.bytes_out > 0,
        "bandwidth counted: {stats:?}"
    );
    let peers = receiver.handle.peers().await.unwrap();
    assert!(
        peers[0]
            .agent_version
            .as_deref()
            .is_some_and(|a| a.starts_with("opmesh/")),
        "{peers:?}"
    );
    for n in 1..=4 {
        let (payload, root) = builder().payload(PayloadVersion::V4, &BlockSpec::new(n, now(), 0));
        sequencer
            .handle
            .sign_and_publish(payload, root)
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(5), "all four validated", || async {
        let stats = receiver.handle.stats().await.unwrap();
        stats.accepted == 4 && stats.payloads_dropped == 3
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_run_on_the_memory_transport_unless_put_on_tcp() {
    let memory = spawn_node(false, |_| {}).await;
    let other = spawn_node(false, |_| {}).await;
    let on_tcp = spawn_node(false, tcp).await;
    assert!(matches!(memory.addr.iter().next(), Some(Protocol::Memory(port)) if port != 0));
    assert!(matches!(on_tcp.addr.iter().next(), Some(Protocol::Ip4(ip)) if ip.is_loopback()));
    // Memory nodes reach each other with the full noise + yamux upgrade and identify...
    memory.handle.dial(other.addr.clone()).await.unwrap();
    wait_subscribed(&memory.handle, 1).await;
    // ...but not a TCP node: the two transports do not mix.
    assert!(matches!(
        memory.handle.dial(on_tcp.addr.clone()).await,
        Err(GossipError::Dial(DialReason::Transport(_)))
    ));
}
