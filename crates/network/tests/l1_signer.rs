//! The unsafe-block signer followed on a real L1 dev node (ganache 7 on loopback): the signer
//! slot of `SystemConfig` is written with ganache's storage RPC, a node reads it (verified
//! with `eth_getProof`), and a rotation A → B mid-run is picked up within seconds, with A's
//! blocks accepted in grace until the first B block verifies and refused after.

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
    builder::{BlockSpec, PayloadBuilder},
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
    config.listen_ip = Ipv4Addr::LOCALHOST.into();
    config.tcp_port = 0;
    config.udp_port = 0;
    config.discovery = false;
    config.unsafe_block_signer = signer;
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

    // The follower starts from a stale flag value and reads A from L1. The periodic reload is
    // short here, as a stand-in for the ConfigUpdate log or the unknown-signer trigger.
    let mut config = node_config(Some(Address::repeat_byte(0x5a)));
    let mut l1 = L1SignerConfig::new(ganache.http_url(), SYSTEM_CONFIG);
    l1.l1_chain_id = Some(L1_CHAIN);
    l1.reload_interval = Duration::from_secs(1);
    config.l1_signer = Some(l1);
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

    // Rotate on L1.
    let changed_at = Instant::now();
    ganache.set_signer(SYSTEM_CONFIG, b.address()).await;
    let picked = wait_signer(&follower, b.address(), Duration::from_secs(5)).await;
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
        stats.rejected, 1,
        "only A's block after the grace: {stats:?}"
    );

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
    config.l1_signer = Some(l1);
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
    config.l1_signer = Some(l1);
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
    config.l1_signer = Some(L1SignerConfig::new(
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
