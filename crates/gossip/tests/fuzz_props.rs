//! Property tests over the same decode-and-validate code as the `validate` fuzz target
//! (`fuzz/`), on stable Rust and in CI.
//!
//! - arbitrary bytes on each of the four topic versions, raw or signed by the sequencer, never
//!   panic the validator and satisfy the harness invariants;
//! - `decompress` never returns or allocates more than `MAX_GOSSIP_SIZE` (checked with a
//!   counting allocator), and refuses an oversized declared length before allocating;
//! - mutations of a valid message are never accepted unless they decode to the same bytes;
//! - `compute_message_id` never panics, is deterministic and binds the topic.
//!
//! `PROPTEST_CASES=N` raises the case count of every property for a longer run.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::LazyLock,
};

use opmesh_gossip::{
    block_topic,
    builder::{BlockSpec, PayloadBuilder},
    encoding::{compress, decompress, SnappyError, MAX_GOSSIP_SIZE},
    message_id::compute_message_id,
    BlockValidator, PayloadVersion, Reason, Verdict,
};
use opmesh_primitives::ChainConfig;
use proptest::{prelude::*, test_runner::Config};
use tokio::sync::watch;

/// The fuzz target's harness, compiled here unchanged.
#[path = "../../../fuzz/src/lib.rs"]
mod harness;

use harness::{Mode, CHAIN_ID, NOW};

// ---------------------------------------------------------------------------------------------
// A global allocator that remembers, per thread, the largest single allocation.

struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the slot may be gone while a thread is being torn down.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let result = f();
    (result, LARGEST.with(Cell::get))
}

// ---------------------------------------------------------------------------------------------
// Fixtures and strategies.

/// `cases` by default, or `PROPTEST_CASES` when set.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        ..Config::default()
    }
}

/// A valid v4 block message (3 transactions) signed by the harness's sequencer key.
static VALID: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let builder = PayloadBuilder::new(ChainConfig::new(CHAIN_ID), harness::sequencer().clone());
    let block = builder.block(&BlockSpec::new(7, NOW, 3));
    assert_eq!(block.version, PayloadVersion::V4);
    block.message
});

fn fresh_validator() -> BlockValidator {
    let (_signer, signer_rx) = watch::channel(Some(harness::sequencer().address()));
    BlockValidator::new(ChainConfig::new(CHAIN_ID), signer_rx)
}

fn version() -> impl Strategy<Value = PayloadVersion> {
    prop::sample::select(PayloadVersion::ALL.to_vec())
}

/// Up to 64 KiB of arbitrary bytes.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=64 * 1024)
}

/// The varint snappy length header declaring `len`.
fn varint(mut len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out
}

/// A single-byte change to a message.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `bit` of the byte at `at` (modulo the length).
    Flip { at: usize, bit: u8 },
    /// Insert `byte` before position `at` (modulo length + 1).
    Insert { at: usize, byte: u8 },
    /// Keep only the first `len` bytes (modulo the length).
    Truncate { len: usize },
}

impl Mutation {
    fn apply(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        match *self {
            Self::Flip { at, bit } => out[at % data.len()] ^= 1 << (bit % 8),
            Self::Insert { at, byte } => out.insert(at % (data.len() + 1), byte),
            Self::Truncate { len } => out.truncate(len % data.len()),
        }
        out
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties.

#[test]
fn the_unmutated_message_is_accepted() {
    let run = harness::run(&[&[3u8][..], &VALID].concat()).expect("non-empty input");
    assert_eq!(run.mode, Mode::Raw);
    let block = run.outcome.expect("the builder's block is valid");
    assert_eq!(block.block_ref().number, 7);
    assert_eq!(
        harness::run(&[]).map(|run| run.message_id),
        None,
        "empty input"
    );
}

proptest! {
    #![proptest_config(config(48))]

    /// The fuzz target's input, in raw mode: arbitrary bytes are never accepted.
    #[test]
    fn arbitrary_raw_messages_never_panic(version in version(), data in bytes()) {
        let selector = version.topic_index();
        let run = harness::run(&[&[selector][..], &data].concat()).expect("non-empty input");
        prop_assert_eq!(run.version, version);
        prop_assert_eq!(run.mode, Mode::Raw);
        prop_assert_eq!(&run.message, &data);
        let invalid = run.outcome.expect_err("random bytes carry no sequencer signature");
        prop_assert_eq!(invalid.verdict(), Verdict::Reject);
    }

    /// Arbitrary payloads behind a valid snappy frame get as far as the signature check.
    #[test]
    fn arbitrary_compressed_messages_stop_at_the_signature(version in version(), data in bytes()) {
        let run = harness::run(&[&[version.topic_index()][..], &compress(&data)].concat())
            .expect("non-empty input");
        let invalid = run.outcome.expect_err("random bytes carry no sequencer signature");
        prop_assert!(
            matches!(
                invalid.reason,
                Reason::TooShort | Reason::BadSignature | Reason::WrongSigner
            ),
            "{}",
            invalid.reason
        );
        prop_assert_eq!(invalid.reason == Reason::TooShort, data.len() < 66);
    }

    /// The fuzz target's input, in signed mode: arbitrary payloads signed by the sequencer
    /// reach SSZ decoding and beyond without panicking.
    #[test]
    fn arbitrary_signed_payloads_never_panic(version in version(), data in bytes()) {
        let selector = version.topic_index() | 4;
        let run = harness::run(&[&[selector][..], &data].concat()).expect("non-empty input");
        prop_assert_eq!(run.mode, Mode::Signed);
        // The harness asserts the signature-related invariants; random SSZ is not a block.
        let invalid = run.outcome.expect_err("random bytes are not a valid payload");
        prop_assert!(
            data.is_empty() || invalid.reason == Reason::BadSsz || !harness::is_undecoded(invalid.reason),
            "{}",
            invalid.reason
        );
    }

    /// A signed valid payload with a byte changed, re-signed: decoding and block checks only
    /// accept it if it still describes the very same block.
    #[test]
    fn resigned_payload_mutations_never_panic(mutation in mutation()) {
        let raw = decompress(&VALID).expect("valid snappy");
        let signed = mutation.apply(&raw[65..]);
        let run = harness::run(&[&[3u8 | 4][..], &signed].concat()).expect("non-empty input");
        if let Ok(block) = &run.outcome {
            let original = harness::run(&[&[3u8][..], &VALID].concat())
                .expect("non-empty input")
                .outcome
                .expect("valid");
            prop_assert_eq!(&block.envelope.payload, &original.envelope.payload);
        }
    }

    /// `decompress` returns exactly the declared length, never more than the limit, and never
    /// allocates beyond the limit; an oversized declaration fails before allocating at all.
    #[test]
    fn decompress_is_bounded(
        data in prop_oneof![
            bytes(),
            (prop_oneof![0..=(MAX_GOSSIP_SIZE as u64 + 64), any::<u64>()], bytes())
                .prop_map(|(len, body)| [varint(len), body].concat()),
        ]
    ) {
        let declared = snap::raw::decompress_len(&data);
        let (result, largest) = largest_allocation(|| decompress(&data));
        prop_assert!(largest <= MAX_GOSSIP_SIZE, "allocated {largest} bytes");
        match declared {
            Err(_) => prop_assert_eq!(result, Err(SnappyError::BadHeader)),
            Ok(len) if len > MAX_GOSSIP_SIZE => {
                prop_assert_eq!(result, Err(SnappyError::TooLarge(len)));
                prop_assert_eq!(largest, 0, "allocated before refusing");
            }
            Ok(len) => match result {
                Ok(decoded) => prop_assert_eq!(decoded.len(), len),
                Err(e) => prop_assert_eq!(e, SnappyError::BadBody),
            },
        }
    }

    /// Compressed-level mutations of a valid message: accepted only when they decode to the
    /// original bytes (snappy has more than one encoding of some inputs), otherwise REJECTed.
    #[test]
    fn wire_mutations_are_never_accepted(mutation in mutation()) {
        let mutated = mutation.apply(&VALID);
        prop_assert_ne!(&mutated, &*VALID);
        let outcome = fresh_validator().validate(PayloadVersion::V4, &mutated, NOW);
        let same_bytes = decompress(&mutated).ok() == decompress(&VALID).ok();
        match outcome {
            Ok(_) => prop_assert!(same_bytes, "accepted a changed block message"),
            Err(invalid) => {
                prop_assert!(!same_bytes, "rejected the valid message as {}", invalid.reason);
                prop_assert_eq!(invalid.verdict(), Verdict::Reject);
            }
        }
    }

    /// Decoded-level mutations (signature or payload): never past the signature check.
    #[test]
    fn decoded_mutations_fail_the_signature(mutation in mutation()) {
        let raw = decompress(&VALID).expect("valid snappy");
        let mutated = compress(&mutation.apply(&raw));
        let invalid = fresh_validator()
            .validate(PayloadVersion::V4, &mutated, NOW)
            .expect_err("a changed message is not accepted");
        prop_assert!(
            matches!(
                invalid.reason,
                Reason::TooShort | Reason::BadSignature | Reason::WrongSigner
            ),
            "{}",
            invalid.reason
        );
        prop_assert_eq!(invalid.verdict(), Verdict::Reject);
    }

    /// Message ids never panic, are deterministic and bind the topic.
    #[test]
    fn message_ids_bind_the_topic(
        topic in ".{0,80}",
        version in version(),
        data in prop_oneof![bytes(), bytes().prop_map(|b| compress(&b))],
    ) {
        let id = compute_message_id(&topic, &data);
        prop_assert_eq!(id, compute_message_id(&topic, &data));
        prop_assert_ne!(id, compute_message_id(&format!("{topic}/"), &data));
        let block = block_topic(CHAIN_ID, version);
        prop_assert_ne!(
            compute_message_id(&block, &data),
            compute_message_id(&block_topic(CHAIN_ID + 1, version), &data)
        );
    }
}
