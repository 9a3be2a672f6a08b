//! The unsafe-block signer followed on a real L1 dev node (ganache 7 on loopback): the signer
//! slot of `SystemConfig` is written with ganache's storage RPC, a node reads it (verified
//! with `eth_getProof`), and a rotation A → B mid-run is picked up within seconds of the first B
//! block (its unknown signer triggers an early read), with A's blocks accepted in grace until
//! the first B block verifies and refused after, and no peer banned for relaying any of them.
//! Also without L1: a node with a stale fixed signer bans none of the peers relaying the new
//! signer's blocks, but still bans a peer sending a bad signature.

mod common;

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant, SystemTime},
};

use alloy_primitives::{address, keccak256, Address};
use futures::StreamExt;
use libp2p::{multiaddr::Protocol, Multiaddr};
use opmesh_discovery::NodeIdentity;
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind, PayloadBuilder},
    unix_seconds,
    validation::SequencerKey,
    PayloadStream, PayloadVersion,
};
use opmesh_network::{l1_signer::L1SignerConfig, Network, NetworkConfig, NetworkHandle};
use opmesh_primitives::ChainConfig;

use common::ganache::Ganache;

const CHAIN: u64 = 901;
const L1_CHAIN: u64 = 900;
const SYSTEM_CONFIG: Address = address!("0x229047fed2591dbec1ef1118d64f7af3db9eb290");

fn key(name: &str) -> SequencerKey {
    SequencerKey::from_bytes(&keccak256(name.as_bytes()).0).expect("key")
}

fn node_config(signer: Option<Address>) -> NetworkConfig {
    let mut config = NetworkConfig::new(ChainConfig::new(CHAIN), NodeIdentity::generate());
    config.listen.ip = Ipv4Addr::LOCALHOST.into();
    config.listen.tcp_port = 0;
    config.listen.udp_port = 0;
    config.discovery.enabled = false;
    config.signer.unsafe_block_signer = signer;
    config
}

async fn start(config: NetworkConfig) -> (NetworkHandle, PayloadStream) {
    Network::builder(config)
        .build()
        .expect("build")
        .start()
        .await
        .expect("start")
}

async fn dial_addr(handle: &NetworkHandle) -> Multiaddr {
    let mut addr = handle
        .gossip()
        .listen_addrs()
        .await
        .expect("listen")
        .into_iter()
        .next()
        .expect("an address");
    addr.push(Protocol::P2p(handle.peer_id()));
    addr
}

/// Publishes blocks signed with any key through one peer, numbering them.
struct Publisher {
    handle: NetworkHandle,
    next: u64,
}

impl Publisher {
    /// Publishes a fresh block signed by `key`; returns its hash.
    async fn publish(&mut self, key: &SequencerKey) -> alloy_primitives::B256 {
        self.next += 1;
        let builder = PayloadBuilder::new(ChainConfig::new(CHAIN), key.clone());
        let now = unix_seconds(SystemTime::now());
        let version = PayloadVersion::for_timestamp(&builder.chain().forks, now);
        let block = builder.block_of_version(version, &BlockSpec::new(self.next, now, 1));
        self.handle
            .gossip()
            .publish_raw(version, block.message)
            .await
            .expect("publish");
        block.envelope.payload.block_hash()
    }
}

/// Waits up to `within` for the block `hash` on `payloads`; other blocks are skipped.
async fn received(
    payloads: &mut PayloadStream,
    hash: alloy_primitives::B256,
    within: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, payloads.next()).await {
            Ok(Some(p)) if p.envelope.payload.block_hash() == hash => return true,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return false,
        }
    }
}

async fn wait_signer(handle: &NetworkHandle, want: Address, within: Duration) -> Duration {
    let start = Instant::now();
    while handle.signer() != Some(want) {
        assert!(
            start.elapsed() < within,
            "signer still {:?} after {within:?}",
            handle.signer()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_rotation_on_ganache_with_grace() {
    let ganache = Ganache::start(L1_CHAIN).await;
    let (a, b) = (key("rotation signer A"), key("rotation signer B"));
    ganache.set_signer(SYSTEM_CONFIG, a.address()).await;

    // The follower starts from a stale flag value and reads A from L1 at start. The periodic
    // reload stays at op-node's 10 minutes: what picks the rotation up below is the early
    // re-read that a block from an unknown signer triggers.
    let mut config = node_config(Some(Address::repeat_byte(0x5a)));
    let mut l1 = L1SignerConfig::new(ganache.http_url(), SYSTEM_CONFIG);
    l1.l1_chain_id = Some(L1_CHAIN);
    assert_eq!(l1.reload_interval, Duration::from_secs(600));
    config.signer.l1 = Some(l1);
    let (follower, mut payloads) = start(config).await;
    wait_signer(&follower, a.address(), Duration::from_secs(10)).await;
    let status = follower.l1_follower().expect("following L1").status();
    let read = status.last_read.expect("a read");
    assert!(read.proven, "ganache serves eth_getProof: {status:?}");
    assert_eq!(read.signer, a.address());

    let (publisher, _) = start(node_config(Some(a.address()))).await;
    publisher
        .gossip()
        .dial(dial_addr(&follower).await)
        .await
        .expect("dial");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut pubr = Publisher {
        handle: publisher.clone(),
        next: 0,
    };
    let h = pubr.publish(&a).await;
    assert!(
        received(&mut payloads, h, Duration::from_secs(5)).await,
        "A before the rotation"
    );

    // Rotate on L1. The follower learns of it from the first B block: refused (its signer is
    // unknown here yet), but it triggers an early L1 read.
    let changed_at = Instant::now();
    ganache.set_signer(SYSTEM_CONFIG, b.address()).await;
    let h = pubr.publish(&b).await;
    assert!(
        !received(&mut payloads, h, Duration::from_millis(500)).await,
        "B before the re-read"
    );
    let picked =
        changed_at.elapsed() + wait_signer(&follower, b.address(), Duration::from_secs(5)).await;
    let set = follower.signers();
    let (previous, until) = set.grace().expect("A in grace");
    assert_eq!(previous, a.address());
    assert!(until >= unix_seconds(SystemTime::now()) + 3 * 3600 - 5);

    // A's blocks still verify during the grace...
    let h = pubr.publish(&a).await;
    assert!(
        received(&mut payloads, h, Duration::from_secs(5)).await,
        "A in grace"
    );
    // ... B's verify, within seconds of the L1 change, and end A's grace ...
    let h = pubr.publish(&b).await;
    assert!(
        received(&mut payloads, h, Duration::from_secs(5)).await,
        "B after rotation"
    );
    let b_accepted = changed_at.elapsed();
    assert!(
        b_accepted < Duration::from_secs(8),
        "B accepted {b_accepted:?} after the L1 change"
    );
    assert_eq!(
        follower.signers().grace(),
        None,
        "the first B block ends the grace"
    );
    // ... and A's are refused after.
    let h = pubr.publish(&a).await;
    assert!(
        !received(&mut payloads, h, Duration::from_secs(2)).await,
        "A after grace"
    );
    eprintln!("signer picked up {picked:?} after the L1 change, first B block accepted after {b_accepted:?}");

    let stats = follower.stats().await.expect("stats");
    assert_eq!(stats.accepted, 3, "{stats:?}");
    assert_eq!(
        stats.rejected, 2,
        "B's block before the re-read and A's after the grace: {stats:?}"
    );
    // Neither refusal depends on anything but this node's signer: the peer that relayed them
    // keeps its score and its connection.
    assert_eq!(stats.bans, 0, "{stats:?}");
    let peers = follower.gossip().peers().await.expect("peers");
    let relay = peers
        .iter()
        .find(|p| p.peer_id == publisher.peer_id())
        .expect("the relay is still connected");
    assert!(relay.gossip_score.is_some_and(|s| s >= 0.0), "{relay:?}");

    publisher.shutdown().await;
    follower.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_l1_keeps_the_last_signer() {
    // Nothing listens on this port: every read fails, the flag's signer stays in force.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let signer = key("unreachable").address();
    let mut config = node_config(Some(signer));
    let mut l1 = L1SignerConfig::new(format!("http://127.0.0.1:{port}"), SYSTEM_CONFIG);
    l1.reload_interval = Duration::from_secs(1);
    config.signer.l1 = Some(l1);
    let (node, _payloads) = start(config).await;
    let follower = node.l1_follower().expect("following").clone();
    let mut status = follower.subscribe();
    tokio::time::timeout(
        Duration::from_secs(10),
        status.wait_for(|s| s.last_error.is_some()),
    )
    .await
    .expect("a failed read within 10 s")
    .expect("follower running");
    let status = follower.status();
    assert!(
        matches!(
            status.last_error,
            Some(opmesh_network::l1_signer::L1ReadError::Unreachable(_))
        ),
        "{status:?}"
    );
    assert_eq!(node.signer(), Some(signer));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_l1_chain_or_empty_slot_keeps_the_last_signer() {
    let ganache = Ganache::start(L1_CHAIN).await;
    let signer = key("wrong l1").address();
    // The rollup says its L1 is chain 1; ganache is 900.
    let mut config = node_config(Some(signer));
    let mut l1 = L1SignerConfig::new(ganache.http_url(), SYSTEM_CONFIG);
    l1.l1_chain_id = Some(1);
    config.signer.l1 = Some(l1);
    let (node, _payloads) = start(config).await;
    let follower = node.l1_follower().unwrap().clone();
    let mut status = follower.subscribe();
    let status = status
        .wait_for(|s| s.last_error.is_some())
        .await
        .unwrap()
        .clone();
    assert!(
        matches!(
            status.last_error,
            Some(opmesh_network::l1_signer::L1ReadError::WrongChain {
                expected: 1,
                got: 900
            })
        ),
        "{status:?}"
    );
    assert_eq!(node.signer(), Some(signer));
    node.shutdown().await;

    // Right chain, but nothing in the slot (wrong SystemConfig address).
    let mut config = node_config(Some(signer));
    config.signer.l1 = Some(L1SignerConfig::new(
        ganache.http_url(),
        Address::repeat_byte(9),
    ));
    let (node, _payloads) = start(config).await;
    let follower = node.l1_follower().unwrap().clone();
    let mut status = follower.subscribe();
    let status = status
        .wait_for(|s| s.last_error.is_some())
        .await
        .unwrap()
        .clone();
    assert!(
        matches!(
            status.last_error,
            Some(opmesh_network::l1_signer::L1ReadError::NoSigner { .. })
        ),
        "{status:?}"
    );
    assert_eq!(node.signer(), Some(signer));
    node.shutdown().await;
}

/// Waits up to `within` for `check` on `node`'s stats; returns the last stats either way.
async fn stats_until(
    node: &NetworkHandle,
    within: Duration,
    check: impl Fn(&opmesh_gossip::GossipStats) -> bool,
) -> opmesh_gossip::GossipStats {
    let deadline = Instant::now() + within;
    loop {
        let stats = node.stats().await.expect("stats");
        if check(&stats) || Instant::now() >= deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_signer_bans_no_relay_of_the_new_signer_but_still_bans_a_bad_signature() {
    // The chain rotated from A to B; this node still has A, fixed (no --l1). A sequencer
    // signing with B publishes through four relays that know B, as after a rotation.
    let (stale, current) = (key("stale signer A"), key("current signer B"));
    let (node, _payloads) = start(node_config(Some(stale.address()))).await;
    let node_addr = dial_addr(&node).await;
    let (sequencer, _sequencer_payloads) = start(node_config(Some(current.address()))).await;
    let sequencer_addr = dial_addr(&sequencer).await;
    let mut relays = Vec::new();
    for _ in 0..4 {
        let (relay, payloads) = start(node_config(Some(current.address()))).await;
        relay.gossip().dial(node_addr.clone()).await.expect("dial");
        relay
            .gossip()
            .dial(sequencer_addr.clone())
            .await
            .expect("dial");
        relays.push((relay, payloads));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 24 blocks of B, one every 500 ms (four times a 2 s chain's rate): every relay forwards
    // them, this node refuses each as `wrong_signer`.
    let mut pubr = Publisher {
        handle: sequencer.clone(),
        next: 0,
    };
    for _ in 0..24 {
        pubr.publish(&current).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats = stats_until(&node, Duration::from_secs(5), |s| s.rejected >= 24).await;
    eprintln!("stale node after the new signer's blocks: {stats:?}");
    assert!(
        stats.rejected >= 12,
        "the relays delivered B's blocks: {stats:?}"
    );
    assert_eq!(stats.accepted, 0, "{stats:?}");
    // Give a score-based ban its tick.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = node.stats().await.expect("stats");
    assert_eq!(stats.bans, 0, "no relay banned: {stats:?}");
    let peers = node.gossip().peers().await.expect("peers");
    for (relay, _) in &relays {
        let info = peers
            .iter()
            .find(|p| p.peer_id == relay.peer_id())
            .expect("every relay still connected");
        assert!(info.gossip_score.is_some_and(|s| s >= 0.0), "{info:?}");
    }

    // A bad signature is invalid for every node: its sender is banned, the relays stay.
    let (attacker, _attacker_payloads) = start(node_config(Some(current.address()))).await;
    attacker
        .gossip()
        .dial(node_addr.clone())
        .await
        .expect("dial");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let builder = PayloadBuilder::new(ChainConfig::new(CHAIN), current.clone());
    let now = unix_seconds(SystemTime::now());
    let version = PayloadVersion::for_timestamp(&builder.chain().forks, now);
    let junk = builder.invalid(
        InvalidKind::BadSignature,
        version,
        &BlockSpec::new(999, now, 1),
    );
    attacker
        .gossip()
        .publish_raw(version, junk)
        .await
        .expect("publish");
    let stats = stats_until(&node, Duration::from_secs(10), |s| s.bans >= 1).await;
    assert_eq!(
        stats.bans, 1,
        "the bad signature's sender banned: {stats:?}"
    );
    // The ban closes the attacker's connection; the close lands a moment after the ban.
    let deadline = Instant::now() + Duration::from_secs(5);
    let peers = loop {
        let peers = node.gossip().peers().await.expect("peers");
        if peers.iter().all(|p| p.peer_id != attacker.peer_id()) || Instant::now() >= deadline {
            break peers;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        peers.iter().all(|p| p.peer_id != attacker.peer_id()),
        "the banned attacker is still connected"
    );
    for (relay, _) in &relays {
        assert!(peers.iter().any(|p| p.peer_id == relay.peer_id()));
    }

    attacker.shutdown().await;
    for (relay, _) in relays {
        relay.shutdown().await;
    }
    sequencer.shutdown().await;
    node.shutdown().await;
}
