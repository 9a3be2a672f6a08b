//! More than ten peers on loopback: none is penalised for sharing 127.0.0.1 (found by the
//! network lab, whose 16- and 32-node loopback networks banned every peer within a second).

mod common;

use std::time::Duration;

use common::*;

/// Real TCP on 127.0.0.1: these tests are about one shared IP.
fn fast(config: &mut NodeSetup) {
    tcp(config);
    config.gossip.maintenance_interval = Duration::from_millis(100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_loopback_peers_are_not_banned_for_ip_colocation() {
    // go-libp2p-pubsub leaves loopback addresses out of the IP colocation factor, so op-node
    // never penalises local peers; with 12 peers on 127.0.0.1 a colocation penalty would be
    // (12 - 10)² × -35 = -140, below the -100 ban threshold.
    let hub = spawn_node(false, fast).await;
    let mut spokes = Vec::new();
    for _ in 0..12 {
        let spoke = spawn_node(false, fast).await;
        hub.handle.dial(spoke.addr.clone()).await.expect("dial");
        spokes.push(spoke);
    }
    wait_subscribed(&hub.handle, 12).await;
    // Several maintenance ticks: bans would have happened by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = hub.handle.stats().await.expect("stats");
    assert_eq!(stats.bans, 0, "loopback peers were banned");
    assert_eq!(stats.connected_peers, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inbound_connections_from_one_ip_respect_the_limit() {
    // The gater allows 10 inbound connections per IP. Thirty peers on 127.0.0.1 dialing at
    // once must not all get in while their handshakes are still pending.
    let hub = spawn_node(false, fast).await;
    let mut spokes = Vec::new();
    for _ in 0..30 {
        spokes.push(spawn_node(false, fast).await);
    }
    let dials = spokes.iter().map(|s| s.handle.dial(hub.addr.clone()));
    let results = futures::future::join_all(dials).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = hub.handle.stats().await.expect("stats");
    assert!(
        stats.connected_peers <= 10,
        "{} inbound connections from 127.0.0.1 (limit 10); {accepted} dials succeeded",
        stats.connected_peers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_listen_port_is_refused_with_the_reason() {
    // libp2p's TransportError displays an I/O failure as an empty string; the operator must
    // read why (found by the lab, whose node died with "cannot listen on …: " and nothing more).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (_signer, signer_rx) = tokio::sync::watch::channel(Some(sequencer_key().address()));
    let node = opmesh_gossip::LocalNode::new(
        opmesh_primitives::ChainConfig::new(CHAIN_ID),
        libp2p::identity::Keypair::generate_secp256k1(),
        vec![format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()],
    );
    let result = opmesh_gossip::spawn(
        node,
        signer_rx.into(),
        opmesh_gossip::GossipConfig::default(),
        opmesh_gossip::PeersConfig::default(),
    );
    let Err(error) = result else {
        panic!("listening on a taken port succeeded");
    };
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on /ip4/127.0.0.1/tcp/{port}: ")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("in use"), "{message}");
}
