//! Peer targets, the gater, automatic bans and the peerstore, on real swarms over loopback.

mod common;

use std::{net::IpAddr, time::Duration};

use common::*;
use libp2p::{identity::Keypair, multiaddr::Protocol, Multiaddr};
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind},
    DialCandidate, GateOp, NetworkEvent, PayloadVersion, PeerLimits,
};

fn fast(config: &mut NodeSetup) {
    config.gossip.maintenance_interval = Duration::from_millis(100);
}

/// For what needs real sockets: IP rules, a fixed port.
fn fast_tcp(config: &mut NodeSetup) {
    fast(config);
    tcp(config);
}

/// The node's listen address without its `/p2p/<id>`.
fn transport_addr(node: &TestNode) -> Multiaddr {
    node.addr
        .iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_publishing_bad_signatures_is_banned_while_honest_blocks_flow() {
    let sequencer = spawn_node(true, fast).await;
    let mut honest = Vec::new();
    for _ in 0..3 {
        let node = spawn_node(false, fast).await;
        node.handle.dial(sequencer.addr.clone()).await.unwrap();
        honest.push(node);
    }
    honest[1].handle.dial(honest[0].addr.clone()).await.unwrap();
    let attacker = spawn_node(false, fast).await;
    attacker.handle.dial(honest[0].addr.clone()).await.unwrap();
    for node in &honest {
        wait_subscribed(&node.handle, 1).await;
    }
    wait_subscribed(&attacker.handle, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut bans = honest[0].handle.subscribe_events();

    let builder = builder();
    let attack = tokio::spawn({
        let attacker = attacker.handle.clone();
        async move {
            for n in 0..20u64 {
                let junk = builder.invalid(
                    InvalidKind::BadSignature,
                    PayloadVersion::V4,
                    &BlockSpec::new(1000 + n, now(), 2),
                );
                let _ = attacker.publish_raw(PayloadVersion::V4, junk).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    for n in 1..=10u64 {
        let (payload, root) =
            common::builder().payload(PayloadVersion::V4, &BlockSpec::new(n, now(), 3));
        sequencer
            .handle
            .sign_and_publish(payload, root)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Banned within the bound, and told as an event.
    let banned = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(NetworkEvent::PeerBanned { peer, .. }) = bans.recv().await {
                return peer;
            }
        }
    })
    .await
    .expect("attacker banned within 10 s");
    assert_eq!(banned, attacker.peer_id());
    attack.await.unwrap();
    eventually(Duration::from_secs(5), "attacker disconnected", || async {
        !honest[0]
            .handle
            .peers()
            .await
            .unwrap()
            .iter()
            .any(|p| p.peer_id == attacker.peer_id())
    })
    .await;
    // Every honest node received every valid block.
    for (i, node) in honest.iter().enumerate() {
        eventually(Duration::from_secs(5), "honest delivery", || async {
            node.handle.stats().await.unwrap().accepted == 10
        })
        .await;
        assert_eq!(node.handle.stats().await.unwrap().accepted, 10, "node {i}");
    }
    // Reconnection is refused after the handshake, and no connection stays up.
    let denied_before = honest[0].handle.stats().await.unwrap().accepts_denied;
    let _ = attacker.handle.dial(honest[0].addr.clone()).await;
    eventually(Duration::from_secs(5), "reconnection refused", || async {
        honest[0].handle.stats().await.unwrap().accepts_denied > denied_before
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!honest[0]
        .handle
        .peers()
        .await
        .unwrap()
        .iter()
        .any(|p| p.peer_id == attacker.peer_id()));
    let lists = honest[0].handle.block_lists().await.unwrap();
    assert_eq!(
        lists
            .banned_peers
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>(),
        vec![attacker.peer_id()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_ip_is_refused_before_the_handshake() {
    let target = spawn_node(false, fast_tcp).await;
    let dialer = spawn_node(false, fast_tcp).await;
    target
        .handle
        .gate(GateOp::BlockIp("127.0.0.1".parse::<IpAddr>().unwrap()))
        .await
        .unwrap();
    assert!(dialer.handle.dial(target.addr.clone()).await.is_err());
    let stats = target.handle.stats().await.unwrap();
    assert_eq!((stats.accepts_denied, stats.accepts_allowed), (1, 0));
    // Blocking a subnet closes live connections from inside it.
    target
        .handle
        .gate(GateOp::UnblockIp("127.0.0.1".parse().unwrap()))
        .await
        .unwrap();
    dialer
        .handle
        .dial(target.addr.clone())
        .await
        .expect("allowed again");
    target
        .handle
        .gate(GateOp::BlockSubnet("127.0.0.0/8".parse().unwrap()))
        .await
        .unwrap();
    eventually(Duration::from_secs(5), "connection closed", || async {
        target.handle.peers().await.unwrap().is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_a_peer_closes_and_refuses_it() {
    let target = spawn_node(false, fast).await;
    let other = spawn_node(false, fast).await;
    other.handle.dial(target.addr.clone()).await.unwrap();
    target
        .handle
        .gate(GateOp::BlockPeer(other.peer_id()))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "blocked peer disconnected",
        || async { target.handle.peers().await.unwrap().is_empty() },
    )
    .await;
    // Outbound dials to it are refused by the gater.
    let err = target.handle.dial(other.addr.clone()).await.unwrap_err();
    assert!(err.to_string().contains("blocked"), "{err}");
}

/// A peer that connects and disconnects in a loop is banned once it passes the reconnect limit
/// (10 inbound connections a minute); a peer that connected twice is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_reconnecting_in_a_loop_is_banned() {
    let target = spawn_node(false, fast).await;
    let mut events = target.handle.subscribe_events();
    let looper = spawn_node(false, fast).await;
    let honest = spawn_node(false, fast).await;
    for _ in 0..2 {
        honest.handle.dial(target.addr.clone()).await.unwrap();
        honest.handle.disconnect(target.peer_id()).await.unwrap();
        eventually(Duration::from_secs(5), "honest peer gone", || async {
            let peers = target.handle.peers().await.unwrap();
            peers.iter().all(|p| p.peer_id != honest.peer_id())
        })
        .await;
    }
    honest.handle.dial(target.addr.clone()).await.unwrap();

    // The target may close a refused connection only after the looper's side of it is up, so
    // the loop runs on and the ban is read from the target's events.
    for _ in 0..16 {
        if looper.handle.dial(target.addr.clone()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = looper.handle.disconnect(target.peer_id()).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let banned = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.recv().await {
                Ok(NetworkEvent::PeerBanned { peer, .. }) => break peer,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("a PeerBanned event");
    assert_eq!(banned, looper.peer_id());
    // Banned: its next connection is closed at once.
    let _ = looper.handle.dial(target.addr.clone()).await;
    eventually(Duration::from_secs(5), "looper disconnected", || async {
        let peers = target.handle.peers().await.unwrap();
        peers.iter().all(|p| p.peer_id != looper.peer_id())
    })
    .await;
    let peers = target.handle.peers().await.unwrap();
    assert!(
        peers.iter().any(|p| p.peer_id == honest.peer_id()),
        "honest peer kept"
    );
    assert!(
        peers.iter().all(|p| p.peer_id != looper.peer_id()),
        "looper still connected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_and_block_lists_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("opmesh-peerstore-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("peerstore.json");
    let key = Keypair::generate_secp256k1();
    let blocked = libp2p::PeerId::random();
    let with_store = |c: &mut NodeSetup| {
        fast(c);
        c.node.keypair = key.clone();
        c.peers.peerstore_path = Some(path.clone());
    };
    let node = spawn_node(false, with_store).await;
    node.handle.gate(GateOp::BlockPeer(blocked)).await.unwrap();
    node.handle
        .gate(GateOp::BlockSubnet("10.0.0.0/8".parse().unwrap()))
        .await
        .unwrap();
    node.handle
        .gate(GateOp::BlockIp("192.0.2.1".parse().unwrap()))
        .await
        .unwrap();
    node.handle.shutdown().await;
    assert!(path.exists(), "peerstore written at shutdown");

    let restarted = spawn_node(false, with_store).await;
    let lists = restarted.handle.block_lists().await.unwrap();
    assert_eq!(lists.peers, vec![blocked]);
    assert_eq!(lists.subnets, vec!["10.0.0.0/8".parse().unwrap()]);
    assert_eq!(lists.ips, vec!["192.0.2.1".parse::<IpAddr>().unwrap()]);
    restarted.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_peers_fill_up_to_lo_and_never_past_hi() {
    let limits = PeerLimits {
        lo: 3,
        hi: 5,
        grace: Duration::from_millis(200),
        max_concurrent_dials: 4,
    };
    let mut nodes = Vec::new();
    for _ in 0..8 {
        nodes.push(
            spawn_node(false, |c| {
                fast(c);
                c.peers.limits = limits;
            })
            .await,
        );
    }
    // Every node learns of every other, as discovery would tell it.
    for node in &nodes {
        for other in &nodes {
            if other.peer_id() != node.peer_id() {
                let candidate = DialCandidate {
                    peer_id: other.peer_id(),
                    addr: transport_addr(other),
                    enr: None,
                };
                node.handle.add_candidate(candidate).await.unwrap();
            }
        }
    }
    eventually(
        Duration::from_secs(15),
        "every node has lo..=hi peers",
        || async {
            let mut ok = true;
            for node in &nodes {
                let n = node.handle.stats().await.unwrap().connected_peers;
                ok &= (3..=5).contains(&n);
            }
            ok
        },
    )
    .await;
    // And it stays that way.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for node in &nodes {
        let n = node.handle.stats().await.unwrap().connected_peers;
        assert!(n <= 5, "{n} peers");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_peer_is_redialed_after_it_restarts_and_survives_trimming() {
    let key = Keypair::generate_secp256k1();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let static_config = |c: &mut NodeSetup| {
        fast_tcp(c);
        c.node.keypair = key.clone();
        c.node.listen_addrs = vec![listen.clone()];
    };
    let peer = spawn_node(false, static_config).await;
    let static_addr = peer.addr.clone();
    let hub = spawn_node(false, |c| {
        fast_tcp(c);
        c.peers.static_peers = vec![static_addr.clone()];
        c.peers.limits = PeerLimits {
            lo: 1,
            hi: 2,
            grace: Duration::from_millis(100),
            max_concurrent_dials: 4,
        };
    })
    .await;
    let connected_to_static = || async {
        hub.handle
            .peers()
            .await
            .unwrap()
            .iter()
            .any(|p| p.peer_id == peer.peer_id())
    };
    eventually(
        Duration::from_secs(5),
        "static peer dialed at start",
        connected_to_static,
    )
    .await;
    // Crowd the hub past hi: trimming must spare the static peer.
    let mut crowd = Vec::new();
    for _ in 0..4 {
        let node = spawn_node(false, fast_tcp).await;
        // A dial reusing the listen port as its source can hit EADDRINUSE while parallel
        // tests churn ports on loopback; retry rather than fail on the environment.
        let mut dialed = false;
        for _ in 0..5 {
            if node.handle.dial(hub.addr.clone()).await.is_ok() {
                dialed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(dialed, "crowd node could not dial the hub");
        crowd.push(node);
    }
    eventually(Duration::from_secs(5), "trimmed to lo", || async {
        hub.handle.stats().await.unwrap().connected_peers <= 2
    })
    .await;
    assert!(connected_to_static().await, "static peer was trimmed");
    // Restart the static peer on the same address: the hub redials it.
    peer.handle.shutdown().await;
    eventually(Duration::from_secs(5), "static peer gone", || async {
        !connected_to_static().await
    })
    .await;
    let _restarted = spawn_node(false, static_config).await;
    eventually(
        Duration::from_secs(15),
        "static peer redialed",
        connected_to_static,
    )
    .await;
}

/// The protocols a node lists for itself (`opp2p_self`) are exactly those its peers receive
/// over identify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_protocols_are_what_identify_announces() {
    for serve in [true, false] {
        let a = spawn_node(false, |c| c.gossip.serve_payload_by_number = serve).await;
        let b = spawn_node(false, fast).await;
        b.handle.dial(a.addr.clone()).await.unwrap();
        let mut announced = Vec::new();
        for _ in 0..100 {
            let peers = b.handle.peers().await.unwrap();
            announced = peers
                .iter()
                .find(|p| p.peer_id == a.peer_id())
                .map(|p| p.protocols.clone())
                .unwrap_or_default();
            if !announced.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!announced.is_empty(), "no identify from a");
        announced.sort();
        assert_eq!(a.handle.local_protocols(), announced.as_slice());
        assert_eq!(
            announced
                .iter()
                .any(|p| p.starts_with("/opstack/req/payload_by_number/")),
            serve
        );
    }
}
