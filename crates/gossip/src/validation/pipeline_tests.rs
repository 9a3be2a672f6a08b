//! The pipeline's bounds, panic handling and per-height record.

use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::keccak256;
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

use super::*;
use crate::{
    builder::{BlockSpec, PayloadBuilder},
    validation::{Reason, SequencerKey},
};

fn builder() -> PayloadBuilder {
    let key = SequencerKey::from_bytes(&keccak256(b"pipeline tests").0).expect("key");
    PayloadBuilder::new(ChainConfig::new(901), key)
}

/// A checker for the builder's blocks that panics on an empty message.
fn pipeline(limits: PipelineLimits) -> (ValidationPipeline<Vec<u8>>, PayloadBuilder) {
    let builder = builder();
    let (_, signer) = watch::channel(Some(builder.key().address()));
    let checker = PayloadChecker::new(ChainConfig::new(901), signer);
    let pipeline = ValidationPipeline::new(limits, move |version, data: &Vec<u8>, now| {
        assert!(!data.is_empty(), "a bug in the checker");
        checker.check(version, data, now)
    });
    (pipeline, builder)
}

fn job<I>(source: PeerId, n: u64, data: I) -> Job<I> {
    Job {
        message_id: MessageId::new(&n.to_be_bytes()),
        source,
        version: PayloadVersion::V1,
        received_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        input: data,
    }
}

fn block(builder: &PayloadBuilder, n: u64) -> Vec<u8> {
    builder
        .block_of_version(PayloadVersion::V1, &BlockSpec::new(n, 1_700_000_000, 1))
        .message
}

fn limits(max_pending: usize, per_peer: usize) -> PipelineLimits {
    PipelineLimits {
        max_pending,
        max_pending_per_peer: per_peer,
        workers: 2,
    }
}

/// Issue 12 §2: one peer flooding the pipeline holds at most its share, so another peer's
/// block is still taken and accepted.
#[tokio::test]
async fn a_flooding_peer_holds_only_its_share_and_another_peers_block_is_accepted() {
    let (mut pipeline, builder) = pipeline(limits(256, 32));
    let flooder = PeerId::random();
    let honest = PeerId::random();
    let junk = vec![0xffu8; 100];
    let taken = (0..1000u64)
        .filter(|n| pipeline.submit(job(flooder, *n, junk.clone())).is_ok())
        .count();
    assert_eq!(taken, 32);
    assert_eq!(
        pipeline.submit(job(flooder, 1001, junk.clone())),
        Err(Throttled::PeerShare)
    );
    pipeline
        .submit(job(honest, 2000, block(&builder, 7)))
        .expect("the honest block is taken");
    let mut honest_valid = 0;
    for _ in 0..33 {
        let checked = pipeline.next().await;
        match (checked.source == honest, &checked.outcome) {
            (true, Outcome::Valid(b)) => {
                assert_eq!(b.block_ref().number, 7);
                honest_valid += 1;
            }
            (false, Outcome::Invalid(i)) => assert_eq!(i.reason, Reason::BadSnappy),
            (_, other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(honest_valid, 1);
    assert_eq!(pipeline.pending(), 0);
    assert_eq!(pipeline.pending_from(&flooder), 0);
    assert!(
        pipeline.submit(job(flooder, 3000, junk)).is_ok(),
        "share freed"
    );
}

#[tokio::test]
async fn beyond_the_global_bound_every_peer_is_throttled() {
    let (mut pipeline, _) = pipeline(limits(4, 3));
    let (a, b) = (PeerId::random(), PeerId::random());
    for n in 0..3 {
        pipeline.submit(job(a, n, vec![1])).unwrap();
    }
    pipeline.submit(job(b, 10, vec![1])).unwrap();
    assert_eq!(pipeline.submit(job(b, 11, vec![1])), Err(Throttled::Full));
    pipeline.next().await;
    assert!(pipeline.submit(job(b, 12, vec![1])).is_ok());
}

/// Issue 12 §2: a panic inside a validation job reports the message (rejected) and frees
/// its slot.
#[tokio::test]
async fn a_panicking_job_is_reported_and_frees_its_slot() {
    let (mut pipeline, builder) = pipeline(limits(1, 1));
    let peer = PeerId::random();
    pipeline.submit(job(peer, 1, Vec::new())).unwrap();
    assert_eq!(pipeline.submit(job(peer, 2, vec![1])), Err(Throttled::Full));
    let checked = pipeline.next().await;
    assert!(matches!(checked.outcome, Outcome::Panicked), "{checked:?}");
    assert_eq!(checked.message_id, MessageId::new(&1u64.to_be_bytes()));
    assert_eq!(pipeline.pending(), 0);
    // The worker survived and the slot is free.
    pipeline.submit(job(peer, 3, block(&builder, 9))).unwrap();
    assert!(matches!(pipeline.next().await.outcome, Outcome::Valid(_)));
}

#[tokio::test]
async fn a_block_seen_before_is_ignored_as_a_duplicate() {
    let (mut pipeline, builder) = pipeline(limits(8, 8));
    let peer = PeerId::random();
    let data = block(&builder, 5);
    pipeline.submit(job(peer, 1, data.clone())).unwrap();
    pipeline.submit(job(peer, 2, data)).unwrap();
    let outcomes = [pipeline.next().await.outcome, pipeline.next().await.outcome];
    let valid = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Valid(_)))
        .count();
    let seen = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Invalid(i) if i.reason == Reason::AlreadySeen))
        .count();
    assert_eq!((valid, seen), (1, 1));
}

#[tokio::test]
async fn no_more_jobs_run_at_once_than_there_are_workers() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (r, m) = (Arc::clone(&running), Arc::clone(&most));
    let mut pipeline = ValidationPipeline::new(limits(64, 64), move |_, _: &u8, _| {
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        r.fetch_sub(1, Ordering::SeqCst);
        Err(Invalid::undecoded(Reason::BadSnappy))
    });
    let peer = PeerId::random();
    for n in 0..20u64 {
        pipeline.submit(job(peer, n, 0u8)).unwrap();
    }
    for _ in 0..20 {
        pipeline.next().await;
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "{most} jobs at once with 2 workers"
    );
}
