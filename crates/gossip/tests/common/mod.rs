//! Helpers for tests that run real gossip nodes: on libp2p's in-process memory transport by
//! default (no sockets), on TCP over 127.0.0.1 with [`tcp`].
#![allow(dead_code)]

use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::{keccak256, Address};
use futures::StreamExt;
use libp2p::{identity::Keypair, multiaddr::Protocol, Multiaddr, PeerId};
use opmesh_gossip::{
    builder::PayloadBuilder, unix_seconds, validation::SequencerKey, GossipConfig, GossipHandle,
    LocalNode, MeshParams, PayloadStream, PeersConfig, ReceivedPayload,
};
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

pub const CHAIN_ID: u64 = 901;

pub fn sequencer_key() -> SequencerKey {
    SequencerKey::from_bytes(&keccak256(b"opmesh test sequencer").0).unwrap()
}

pub fn builder() -> PayloadBuilder {
    PayloadBuilder::new(ChainConfig::new(CHAIN_ID), sequencer_key())
}

pub fn now() -> u64 {
    unix_seconds(SystemTime::now())
}

pub struct TestNode {
    pub handle: GossipHandle,
    pub payloads: PayloadStream,
    pub addr: Multiaddr,
    pub signer: watch::Sender<Option<Address>>,
}

impl TestNode {
    pub fn peer_id(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    /// Waits up to `timeout` for the next validated payload.
    pub async fn next_payload(&mut self, timeout: Duration) -> Option<ReceivedPayload> {
        tokio::time::timeout(timeout, self.payloads.next())
            .await
            .ok()
            .flatten()
    }
}

/// What a test node is started with; the `configure` closure of [`spawn_node`] changes it.
pub struct NodeSetup {
    /// Chain, key and listen addresses.
    pub node: LocalNode,
    /// Gossip knobs.
    pub gossip: GossipConfig,
    /// Peer-management knobs.
    pub peers: PeersConfig,
}

/// Puts the node on TCP, listening on a free port of 127.0.0.1 (for what needs real sockets:
/// IP rules, TCP dial errors, fixed ports), keeping its key.
pub fn tcp(setup: &mut NodeSetup) {
    setup.node = LocalNode::new(
        setup.node.chain,
        setup.node.keypair.clone(),
        vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
    );
}

/// Starts a node on the memory transport with a short heartbeat (`configure` can put it on
/// TCP with [`tcp`]); `sequencer` gives it the sequencer key.
pub async fn spawn_node(sequencer: bool, configure: impl FnOnce(&mut NodeSetup)) -> TestNode {
    let (signer, signer_rx) = watch::channel(Some(sequencer_key().address()));
    let mut setup = NodeSetup {
        node: LocalNode::in_memory(ChainConfig::new(CHAIN_ID), Keypair::generate_secp256k1()),
        gossip: GossipConfig::default(),
        peers: PeersConfig::default(),
    };
    setup.gossip.mesh = MeshParams {
        heartbeat: Duration::from_millis(100),
        ..MeshParams::default()
    };
    if sequencer {
        setup.gossip.sequencer_key = Some(sequencer_key());
    }
    configure(&mut setup);
    let NodeSetup {
        node,
        gossip,
        peers,
    } = setup;
    let (handle, _task, payloads) =
        opmesh_gossip::spawn(node, signer_rx.into(), gossip, peers).expect("driver starts");
    let listen = handle.listen_addrs().await.expect("listening");
    let addr = listen[0]
        .clone()
        .with(Protocol::P2p(handle.local_peer_id()));
    TestNode {
        handle,
        payloads,
        addr,
        signer,
    }
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Waits until every connected peer of `node` is subscribed to all four block topics.
pub async fn wait_subscribed(node: &GossipHandle, expected_peers: usize) {
    eventually(Duration::from_secs(10), "peers subscribed", || async {
        let peers = node.peers().await.unwrap();
        peers.len() >= expected_peers && peers.iter().all(|p| p.topics.len() == 4)
    })
    .await;
}
