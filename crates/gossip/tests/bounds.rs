//! Resource bounds that keep one kind of peer from crowding out the rest (issue 12): a peer
//! flooding expensive invalid messages has a bounded share of the validation pipeline, and
//! peers that dial us can never take every connection slot. Real swarms over the memory
//! transport, the real validator.

mod common;

use std::time::Duration;

use common::*;
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind},
    validation::PipelineLimits,
    GateOp, PayloadVersion, PeerLimits, ScoringMode,
};

fn fast(setup: &mut NodeSetup) {
    setup.gossip.maintenance_interval = Duration::from_millis(100);
}

/// Messages the flooder sends in one burst: far more than the victim's whole pipeline.
const BURST: u64 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_cannot_starve_another_peers_blocks() {
    // The victim keeps the flooder connected (no scoring, no bans) and validates on a single
    // worker with a small pipeline (16 pending, 4 per peer: the defaults' shape at a size a
    // debug build can overrun in a test), so the flood's backlog fills it: only the per-peer
    // share keeps room for the sequencer's blocks.
    let mut victim = spawn_node(false, |setup: &mut NodeSetup| {
        setup.gossip.scoring = ScoringMode::None;
        setup.peers.bans.enabled = false;
        setup.gossip.pipeline = PipelineLimits {
            max_pending: 16,
            max_pending_per_peer: 4,
            workers: 1,
        };
    })
    .await;
    let sequencer = spawn_node(true, |_| {}).await;
    let flooder = spawn_node(false, |setup: &mut NodeSetup| {
        setup.gossip.mesh.flood_publish = true;
    })
    .await;
    sequencer.handle.dial(victim.addr.clone()).await.unwrap();
    flooder.handle.dial(victim.addr.clone()).await.unwrap();
    wait_subscribed(&victim.handle, 2).await;
    wait_subscribed(&sequencer.handle, 1).await;
    wait_subscribed(&flooder.handle, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Signed by the sequencer's key, so each passes the signature check and costs the victim
    // a block-hash computation over 100 transactions before it is rejected.
    let builder = builder();
    let t = now();
    let junk: Vec<Vec<u8>> = (0..BURST)
        .map(|i| {
            builder.invalid(
                InvalidKind::BlockHashMismatch,
                PayloadVersion::V4,
                &BlockSpec::new(1_000 + i, t, 100),
            )
        })
        .collect();
    let flood = {
        let handle = flooder.handle.clone();
        tokio::spawn(async move {
            for data in junk {
                handle
                    .publish_raw(PayloadVersion::V4, data)
                    .await
                    .expect("flooder publishes");
            }
        })
    };
    // The sequencer's blocks arrive in the middle of the flood.
    let mut hashes = Vec::new();
    for n in 1..=5u64 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let (payload, root) = builder.payload(PayloadVersion::V4, &BlockSpec::new(n, now(), 10));
        let published = sequencer
            .handle
            .sign_and_publish(payload, root)
            .await
            .expect("sequencer publishes");
        hashes.push(published.hash);
    }
    flood.await.unwrap();

    let mut received = Vec::new();
    while received.len() < hashes.len() {
        let Some(payload) = victim.next_payload(Duration::from_secs(20)).await else {
            break;
        };
        received.push(payload.envelope.payload.block_hash());
    }
    let stats = victim.handle.stats().await.unwrap();
    for hash in &hashes {
        assert!(
            received.contains(hash),
            "a sequencer block was lost in the flood: got {} of {}; {stats:?}",
            received.len(),
            hashes.len()
        );
    }
    // The flood did overrun its share (otherwise this test proved nothing).
    assert!(stats.throttled > 0, "{stats:?}");
    assert!(stats.rejected > 0, "{stats:?}");
}

/// Peers that dial us can hold at most `peers.hi - peers.lo / 2` slots: the rest stay for
/// peers the node dials itself. A protected peer still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_peers_cannot_take_every_slot() {
    let limits = |config: &mut NodeSetup| {
        fast(config);
        config.peers.limits = PeerLimits {
            lo: 2,
            hi: 3,
            ..PeerLimits::default()
        };
    };
    let target = spawn_node(false, limits).await;
    // min_outbound = 1, so two peers may dial in.
    let mut dialers = Vec::new();
    for _ in 0..3 {
        dialers.push(spawn_node(false, fast).await);
    }
    dialers[0]
        .handle
        .dial(target.addr.clone())
        .await
        .expect("first inbound");
    dialers[1]
        .handle
        .dial(target.addr.clone())
        .await
        .expect("second inbound");
    eventually(Duration::from_secs(5), "two inbound peers", || async {
        target.handle.peers().await.unwrap().len() == 2
    })
    .await;
    // The third is refused once its handshake tells who it is: whatever its dial reports,
    // it ends up without the connection.
    let _ = dialers[2].handle.dial(target.addr.clone()).await;
    eventually(
        Duration::from_secs(5),
        "third dialer left alone",
        || async { dialers[2].handle.peers().await.unwrap().is_empty() },
    )
    .await;
    assert_eq!(target.handle.peers().await.unwrap().len(), 2);
    // The target can still dial out to it: outbound slots are not taken by inbound peers.
    target
        .handle
        .dial(dialers[2].addr.clone())
        .await
        .expect("outbound dial");
    eventually(Duration::from_secs(5), "three peers", || async {
        target.handle.peers().await.unwrap().len() == 3
    })
    .await;
    // A protected peer is let in even when the inbound slots are full.
    let friend = spawn_node(false, fast).await;
    target
        .handle
        .gate(GateOp::Protect(friend.peer_id()))
        .await
        .unwrap();
    friend
        .handle
        .dial(target.addr.clone())
        .await
        .expect("protected peer gets in");
}
