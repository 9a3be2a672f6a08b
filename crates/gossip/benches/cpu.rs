//! Block validation measured in thread CPU time and in instructions, so that a loaded machine
//! does not decide the result.
//!
//! Wall-clock benchmarks on a shared 2-core machine move by ±20 % with other people's builds.
//! This bench times each case with `CLOCK_THREAD_CPUTIME_ID` (the CPU time of the measuring
//! thread only: time the thread spends preempted by other processes is not counted) and prints
//! the wall time beside it. With `--iters N` it instead runs each selected case exactly `N` times
//! inside [`measured`] and times nothing, for `valgrind --tool=callgrind
//! --toggle-collect='*measured*'`: the instruction count divided by `N` is the cost per call,
//! whatever the load. The cases use only APIs that also existed before issue 14, except those
//! between the `new-api` markers, so the same file builds at the old commit for a before/after
//! pair (see docs/benchmarks.md).
//!
//! ```sh
//! cargo bench -p opmesh-gossip --bench cpu -- [--samples S] [--iters N] [FILTER...]
//! ```
//!
//! A case runs when its name contains one of the FILTER strings (all cases without one).

#![allow(unsafe_code)]

use std::{hint::black_box, time::Instant};

use alloy_primitives::{keccak256, Address};
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind, PayloadBuilder},
    encoding::decompress,
    validation::{
        compute_block_hash, decode_payload, recover_signer, signing_hash, SequencerKey,
        SIGNATURE_LEN,
    },
    PayloadChecker, PayloadVersion,
};
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

const CHAIN_ID: u64 = 901;
/// Block timestamp, also the checker's clock.
const TIMESTAMP: u64 = 1_750_000_000;
/// Distinct blocks the cache-cold case cycles over.
const POOL: u64 = 32;
/// CPU time of one timed sample, in nanoseconds.
const SAMPLE_NS: u64 = 20_000_000;
/// CPU time spent warming a case up before its samples, in nanoseconds.
const WARM_UP_NS: u64 = 300_000_000;

/// A case's work: one call per invocation.
type Work = Box<dyn FnMut()>;

/// A case: its name and how to build its work.
type Case = (&'static str, fn(&Setup) -> Work);

/// Builds the messages every case needs.
struct Setup {
    builder: PayloadBuilder,
    checker: PayloadChecker,
    // Keeps the signer channel open for the life of the bench.
    _signer: watch::Sender<Option<Address>>,
}

impl Setup {
    fn new() -> Self {
        let chain = ChainConfig::new(CHAIN_ID);
        let key = SequencerKey::from_bytes(&keccak256(b"opmesh bench sequencer").0)
            .expect("valid secret key");
        let (signer, signer_rx) = watch::channel(Some(key.address()));
        Self {
            builder: PayloadBuilder::new(chain, key),
            checker: PayloadChecker::new(chain, signer_rx),
            _signer: signer,
        }
    }

    fn valid(&self, number: u64, transactions: usize) -> Vec<u8> {
        let block = self
            .builder
            .block(&BlockSpec::new(number, TIMESTAMP, transactions));
        assert_eq!(block.version, PayloadVersion::V4);
        block.message
    }

    /// A checker call on `message` that must give `expect_ok`.
    fn check(&self, message: Vec<u8>, expect_ok: bool) -> Work {
        let checker = self.checker.clone();
        assert_eq!(
            checker
                .check(PayloadVersion::V4, &message, TIMESTAMP)
                .is_ok(),
            expect_ok
        );
        Box::new(move || {
            black_box(checker.check(PayloadVersion::V4, black_box(&message), TIMESTAMP)).ok();
        })
    }

    fn junk(&self, kind: InvalidKind) -> Work {
        let spec = BlockSpec::new(1, TIMESTAMP, 1000);
        self.check(self.builder.invalid(kind, PayloadVersion::V4, &spec), false)
    }

    /// The decoded 1000-tx message.
    fn decoded_1000(&self) -> Vec<u8> {
        decompress(&self.valid(1, 1000)).expect("valid snappy")
    }
}

/// A received copy of a block as the node handles it: message id, then the checks. The one
/// function whose body differs in the build at the old commit (there: `compute_message_id` on
/// the wire bytes, then `check`, each decompressing).
fn receive_copy(checker: &PayloadChecker, topic: &str, wire: &[u8]) -> bool {
    let frame = opmesh_gossip::encoding::decode_frame(wire);
    black_box(opmesh_gossip::message_id::frame_message_id(topic, &frame));
    checker
        .check_frame(PayloadVersion::V4, &frame, TIMESTAMP)
        .is_ok()
}

/// Every case: its name and how to build its work.
fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = vec![
        ("checker/valid_v4/0", |s| s.check(s.valid(1, 0), true)),
        ("checker/valid_v4/100", |s| s.check(s.valid(1, 100), true)),
        ("checker/valid_v4/1000", |s| s.check(s.valid(1, 1000), true)),
        ("checker/pool_v4/1000", |s| {
            let checker = s.checker.clone();
            let pool: Vec<Vec<u8>> = (1..=POOL).map(|n| s.valid(n, 1000)).collect();
            let mut next = 0;
            Box::new(move || {
                let message = &pool[next % pool.len()];
                next += 1;
                assert!(checker
                    .check(PayloadVersion::V4, black_box(message), TIMESTAMP)
                    .is_ok());
            })
        }),
        ("relay/receive_copy_1000tx", |s| {
            let checker = s.checker.clone();
            let wire = s.valid(1, 1000);
            let topic = opmesh_gossip::block_topic(CHAIN_ID, PayloadVersion::V4);
            assert!(receive_copy(&checker, &topic, &wire));
            Box::new(move || assert!(receive_copy(&checker, &topic, black_box(&wire))))
        }),
        ("checker/junk/bad_signature_1000tx", |s| {
            s.junk(InvalidKind::BadSignature)
        }),
        ("checker/junk/wrong_signer_1000tx", |s| {
            s.junk(InvalidKind::WrongSigner)
        }),
        ("checker/junk/bad_snappy", |s| {
            s.junk(InvalidKind::BadSnappy)
        }),
        ("checker/junk/snappy_bomb", |s| {
            s.junk(InvalidKind::SnappyBomb)
        }),
        ("floor/recover_signer", |s| {
            let decoded = s.decoded_1000();
            let signature: [u8; SIGNATURE_LEN] =
                decoded[..SIGNATURE_LEN].try_into().expect("65-byte prefix");
            let hash = signing_hash(CHAIN_ID, &decoded[SIGNATURE_LEN..]);
            assert!(recover_signer(&signature, &hash).is_some());
            Box::new(move || {
                black_box(recover_signer(black_box(&signature), black_box(&hash)));
            })
        }),
        ("floor/keccak256_decoded_1000tx", |s| {
            let decoded = s.decoded_1000();
            Box::new(move || {
                black_box(keccak256(black_box(decoded.as_slice())));
            })
        }),
        ("floor/snappy_decompress_1000tx", |s| {
            let message = s.valid(1, 1000);
            Box::new(move || {
                black_box(decompress(black_box(&message)).ok());
            })
        }),
        ("parts/ssz_decode_1000tx", |s| {
            let decoded = s.decoded_1000();
            Box::new(move || {
                black_box(decode_payload(
                    PayloadVersion::V4,
                    black_box(&decoded[SIGNATURE_LEN..]),
                ));
            })
        }),
        ("parts/block_hash_1000tx", |s| {
            let decoded = s.decoded_1000();
            let (root, payload) =
                decode_payload(PayloadVersion::V4, &decoded[SIGNATURE_LEN..]).expect("SSZ");
            assert_eq!(
                compute_block_hash(&payload, root).ok(),
                Some(payload.block_hash())
            );
            Box::new(move || {
                black_box(compute_block_hash(black_box(&payload), root).ok());
            })
        }),
    ];
    cases.extend(new_api::cases()); // new-api
    cases
}

// new-api-begin: cases that need the issue-14 APIs; cut out of the build at the old commit.
mod new_api {
    use std::hint::black_box;

    use alloy_primitives::{keccak256, Bytes, B256};
    use alloy_trie::root::ordered_trie_root_encoded;
    use opmesh_gossip::{
        validation::{
            decode_payload, keccak_lanes::keccak256_many, transactions_root, TrieLeaves,
            SIGNATURE_LEN,
        },
        PayloadVersion,
    };

    use super::{Case, Setup};

    fn transactions(s: &Setup) -> Vec<Bytes> {
        let decoded = s.decoded_1000();
        let (_, payload) =
            decode_payload(PayloadVersion::V4, &decoded[SIGNATURE_LEN..]).expect("SSZ");
        payload.as_v1().transactions.clone()
    }

    fn leaf_nodes(s: &Setup) -> Vec<Vec<u8>> {
        let txs = transactions(s);
        let leaves = TrieLeaves::encode(&txs).expect("hashed leaves");
        leaves.nodes()
    }

    pub(super) fn cases() -> Vec<Case> {
        vec![
            ("parts/transactions_root_1000tx", |s| {
                let txs = transactions(s);
                assert_eq!(transactions_root(&txs), ordered_trie_root_encoded(&txs));
                Box::new(move || {
                    black_box(transactions_root(black_box(&txs)));
                })
            }),
            ("parts/transactions_root_alloy_1000tx", |s| {
                let txs = transactions(s);
                Box::new(move || {
                    black_box(ordered_trie_root_encoded(black_box(&txs)));
                })
            }),
            ("parts/trie_leaves_encode_1000tx", |s| {
                let txs = transactions(s);
                Box::new(move || {
                    black_box(TrieLeaves::encode(black_box(&txs)));
                })
            }),
            ("floor/keccak_lanes_trie_leaves_1000tx", |s| {
                let nodes = leaf_nodes(s);
                let mut hashes = vec![B256::ZERO; nodes.len()];
                Box::new(move || {
                    let refs: Vec<&[u8]> = nodes.iter().map(Vec::as_slice).collect();
                    keccak256_many(black_box(&refs), &mut hashes);
                    black_box(&hashes);
                })
            }),
            ("floor/keccak_scalar_trie_leaves_1000tx", |s| {
                let nodes = leaf_nodes(s);
                Box::new(move || {
                    for node in &nodes {
                        black_box(keccak256(black_box(node)));
                    }
                })
            }),
        ]
    }
}
// new-api-end

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID unavailable");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Runs `work` `n` times: the only function callgrind collects in with
/// `--toggle-collect='*measured*'`.
#[inline(never)]
fn measured(work: &mut dyn FnMut(), n: u64) {
    for _ in 0..n {
        work();
    }
}

/// Median of a sorted slice.
fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// Formats nanoseconds per call with a unit.
fn show(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.4} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Warms `work` up, then times `samples` samples of equal iteration counts.
fn time_case(name: &str, work: &mut dyn FnMut(), samples: usize) {
    let start = thread_cpu_ns();
    let mut iters = 0u64;
    while thread_cpu_ns() - start < WARM_UP_NS {
        measured(work, 1);
        iters += 1;
    }
    let per_call = (thread_cpu_ns() - start) / iters.max(1);
    let n = (SAMPLE_NS / per_call.max(1)).max(1);
    let mut cpu = Vec::with_capacity(samples);
    let mut wall = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (c0, w0) = (thread_cpu_ns(), Instant::now());
        measured(work, n);
        wall.push(w0.elapsed().as_nanos() as f64 / n as f64);
        cpu.push((thread_cpu_ns() - c0) as f64 / n as f64);
    }
    cpu.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    println!(
        "{name:<42} cpu median {:>11}  min {:>11}  max {:>11}   wall median {:>11}   ({samples} x {n})",
        show(median(&cpu)),
        show(cpu[0]),
        show(cpu[cpu.len() - 1]),
        show(median(&wall)),
    );
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let mut samples = 25usize;
    let mut iters = None;
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--samples" => samples = args.next().and_then(|v| v.parse().ok()).unwrap_or(25),
            "--iters" => iters = args.next().and_then(|v| v.parse().ok()),
            // `cargo bench` passes `--bench`; other flags are ignored.
            flag if flag.starts_with("--") => {}
            filter => filters.push(filter.to_owned()),
        }
    }
    let setup = Setup::new();
    println!("# load average at start: {}", load());
    for (name, build) in cases() {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let mut work = build(&setup);
        match iters {
            Some(n) => {
                measured(&mut work, n);
                println!("{name}: {n} calls in `measured`");
            }
            None => time_case(name, &mut work, samples.max(1)),
        }
    }
    println!("# load average at end: {}", load());
}
