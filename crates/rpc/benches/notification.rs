//! Building the `opp2p_subscribeUnsafePayloads` notification of a 1000-transaction block.
//!
//! - `notification_1000tx/fast`: [`UnsafePayloadNotification::new`], the envelope written with
//!   the transactions array hex-encoded into a buffer sized once;
//! - `notification_1000tx/serde`: the same envelope through `serde_json::value::to_raw_value`,
//!   what `new` did before (each transaction hex-encoded through `core::fmt` and scanned for
//!   escapes).
//!
//! Both produce the same bytes (checked before timing). Run with
//! `cargo bench -p opmesh-rpc --bench notification`; results are in `docs/benchmarks.md`.

use std::hint::black_box;

use alloy_primitives::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use libp2p::PeerId;
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use opmesh_rpc::UnsafePayloadNotification;

#[path = "../src/test_envelope.rs"]
mod test_envelope;

/// A v4 envelope of `count` transactions of 262 pseudo-random bytes each (the lab's block).
fn envelope(count: usize) -> OpExecutionPayloadEnvelope {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let transactions = (0..count)
        .map(|_| {
            Bytes::from_iter((0..262).map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            }))
        })
        .collect();
    test_envelope::envelope(4, transactions, Bytes::new())
}

fn notification(c: &mut Criterion) {
    let envelope = envelope(1000);
    let peer = PeerId::random();
    let fast = UnsafePayloadNotification::new(&envelope, peer, 1).expect("serializes");
    let serde = serde_json::value::to_raw_value(&envelope).expect("serializes");
    assert_eq!(
        fast.envelope.get(),
        serde.get(),
        "the fast path must write serde's bytes"
    );

    let mut group = c.benchmark_group("notification_1000tx");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fast", |b| {
        b.iter(|| UnsafePayloadNotification::new(black_box(&envelope), peer, 1))
    });
    group.bench_function("serde", |b| {
        b.iter(|| serde_json::value::to_raw_value(black_box(&envelope)))
    });
    group.finish();
}

criterion_group!(benches, notification);
criterion_main!(benches);
