//! Cost of validating block messages.
//!
//! - `checker/valid_v4/{0,100,1000}`: the stateless [`PayloadChecker::check`] on valid v4
//!   blocks. The checker keeps no memory, so repeating one message measures real work (a
//!   [`BlockValidator`] would IGNORE the repeats as `already_seen` after the first one).
//! - `validator/fresh_v4/{0,100,1000}`: the full [`BlockValidator::validate`], each call on a
//!   block that validator has never seen (a pool of distinct pre-built blocks, a new validator
//!   whenever the pool wraps; only the `validate` calls are timed).
//! - `checker/junk/*`: what rejecting junk costs: bad signature, bad snappy, wrong signer and
//!   a snappy bomb (the signed junk is built on the 1000-tx block, the worst case).
//! - `checker/pool_v4/1000`: the checker cycling over the same distinct blocks, i.e. messages
//!   that are not already in the CPU caches.
//! - `floor/*`: the reference pieces junk is compared with: one signer recovery, one keccak256
//!   of the decoded 1000-tx message, and (for context) the snappy decompression of it.
//! - `parts/*`: the remaining steps of a valid 1000-tx check: SSZ decoding and recomputing the
//!   block hash (ordered trie over the raw transactions, header RLP, keccak), and within it the
//!   transactions root (ours with four-lane leaf hashing, alloy's for comparison, and the leaf
//!   encoding alone).
//! - `floor/keccak_{lanes,scalar}_trie_leaves_1000tx`: hashing the trie's 1000 leaf nodes and
//!   nothing else, with the four-lane keccak and one by one: the keccak floor of the root.
//!
//! Run with `cargo bench -p opmesh-gossip --bench validator`; results and the goals they are
//! checked against are in `docs/benchmarks.md`.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use alloy_primitives::{keccak256, Address, B256};
use alloy_trie::root::ordered_trie_root_encoded;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use opmesh_gossip::{
    builder::{BlockSpec, InvalidKind, PayloadBuilder},
    encoding::decompress,
    validation::{
        compute_block_hash, decode_payload, keccak_lanes::keccak256_many, recover_signer,
        signing_hash, transactions_root, SequencerKey, TrieLeaves, SIGNATURE_LEN,
    },
    BlockValidator, PayloadChecker, PayloadVersion, Reason,
};
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

const CHAIN_ID: u64 = 901;
/// Block timestamp, also the validator's clock.
const TIMESTAMP: u64 = 1_750_000_000;
const TX_COUNTS: [usize; 3] = [0, 100, 1000];
/// Distinct blocks per size for the full-validator bench.
const FRESH_POOL: u64 = 32;

struct Setup {
    builder: PayloadBuilder,
    checker: PayloadChecker,
    // Keeps the signer channel open for the life of the bench.
    _signer: watch::Sender<Option<Address>>,
    signer_rx: watch::Receiver<Option<Address>>,
}

impl Setup {
    fn new() -> Self {
        let chain = ChainConfig::new(CHAIN_ID);
        let key = SequencerKey::from_bytes(&keccak256(b"opmesh bench sequencer").0)
            .expect("valid secret key");
        let (signer, signer_rx) = watch::channel(Some(key.address()));
        Self {
            builder: PayloadBuilder::new(chain, key),
            checker: PayloadChecker::new(chain, signer_rx.clone()),
            _signer: signer,
            signer_rx,
        }
    }

    fn validator(&self) -> BlockValidator {
        BlockValidator::new(*self.builder.chain(), self.signer_rx.clone())
    }

    fn valid(&self, number: u64, transactions: usize) -> Vec<u8> {
        let block = self
            .builder
            .block(&BlockSpec::new(number, TIMESTAMP, transactions));
        assert_eq!(block.version, PayloadVersion::V4);
        block.message
    }
}

fn criterion_config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn valid_blocks(c: &mut Criterion) {
    let setup = Setup::new();
    let mut group = c.benchmark_group("checker/valid_v4");
    for transactions in TX_COUNTS {
        let message = setup.valid(1, transactions);
        let decoded_len = decompress(&message).expect("valid snappy").len();
        println!(
            "valid_v4/{transactions}: {} bytes compressed, {decoded_len} bytes decoded",
            message.len()
        );
        let block = setup
            .checker
            .check(PayloadVersion::V4, &message, TIMESTAMP)
            .expect("builder block is valid");
        assert_eq!(
            block.envelope.payload.as_v1().transactions.len(),
            transactions
        );

        group.throughput(Throughput::Bytes(message.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(transactions),
            &message,
            |b, message| {
                b.iter(|| {
                    setup
                        .checker
                        .check(PayloadVersion::V4, black_box(message), TIMESTAMP)
                })
            },
        );
    }
    group.finish();
}

fn fresh_blocks(c: &mut Criterion) {
    let setup = Setup::new();
    let pools: Vec<(usize, Vec<Vec<u8>>)> = TX_COUNTS
        .into_iter()
        .map(|transactions| {
            // Distinct heights, so neither the duplicate check nor the per-height limit fires.
            let pool: Vec<Vec<u8>> = (1..=FRESH_POOL)
                .map(|number| setup.valid(number, transactions))
                .collect();
            (transactions, pool)
        })
        .collect();

    let mut group = c.benchmark_group("validator/fresh_v4");
    for (transactions, pool) in &pools {
        let mut validator = setup.validator();
        for message in pool {
            validator
                .validate(PayloadVersion::V4, message, TIMESTAMP)
                .expect("fresh block is accepted");
        }
        assert_eq!(
            validator
                .validate(PayloadVersion::V4, &pool[0], TIMESTAMP)
                .expect_err("a repeat is not accepted")
                .reason,
            Reason::AlreadySeen
        );

        group.throughput(Throughput::Bytes(pool[0].len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(transactions),
            pool,
            |b, pool| {
                b.iter_custom(|iters| {
                    let mut elapsed = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        // A new validator (untimed) each time the pool wraps: every timed call
                        // sees a block its validator has not seen.
                        let mut validator = setup.validator();
                        let chunk = (iters - done).min(pool.len() as u64) as usize;
                        let start = Instant::now();
                        for message in &pool[..chunk] {
                            let accepted = validator.validate(
                                PayloadVersion::V4,
                                black_box(message),
                                TIMESTAMP,
                            );
                            assert!(accepted.is_ok());
                        }
                        elapsed += start.elapsed();
                        drop(validator);
                        done += chunk as u64;
                    }
                    elapsed
                })
            },
        );
    }
    group.finish();

    // The checker over the same pool: separates the cost of messages that are not already in
    // the CPU caches (32 x 270 kB for 1000 tx) from the validator's own bookkeeping.
    let mut group = c.benchmark_group("checker/pool_v4");
    for (transactions, pool) in pools.iter().filter(|(k, _)| *k == 1000) {
        group.throughput(Throughput::Bytes(pool[0].len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(transactions),
            pool,
            |b, pool| {
                let mut next = pool.iter().cycle();
                b.iter(|| {
                    let message = next.next().expect("cycle never ends");
                    setup
                        .checker
                        .check(PayloadVersion::V4, black_box(message), TIMESTAMP)
                })
            },
        );
    }
    group.finish();
}

fn junk(c: &mut Criterion) {
    let setup = Setup::new();
    let spec = BlockSpec::new(1, TIMESTAMP, 1000);
    let cases = [
        (
            "bad_signature_1000tx",
            InvalidKind::BadSignature,
            Reason::BadSignature,
        ),
        ("bad_snappy", InvalidKind::BadSnappy, Reason::BadSnappy),
        (
            "wrong_signer_1000tx",
            InvalidKind::WrongSigner,
            Reason::WrongSigner,
        ),
        ("snappy_bomb", InvalidKind::SnappyBomb, Reason::Oversized),
    ];
    let mut group = c.benchmark_group("checker/junk");
    for (name, kind, reason) in cases {
        let message = setup.builder.invalid(kind, PayloadVersion::V4, &spec);
        let outcome = setup
            .checker
            .check(PayloadVersion::V4, &message, TIMESTAMP)
            .expect_err("junk is rejected");
        assert_eq!(outcome.reason, reason, "{name}");
        println!("junk/{name}: {} bytes", message.len());

        group.bench_with_input(BenchmarkId::from_parameter(name), &message, |b, message| {
            b.iter(|| {
                setup
                    .checker
                    .check(PayloadVersion::V4, black_box(message), TIMESTAMP)
            })
        });
    }
    group.finish();
}

fn floor(c: &mut Criterion) {
    let setup = Setup::new();
    let message = setup.valid(1, 1000);
    let decoded = decompress(&message).expect("valid snappy");
    let signature: [u8; SIGNATURE_LEN] =
        decoded[..SIGNATURE_LEN].try_into().expect("65-byte prefix");
    let hash = signing_hash(CHAIN_ID, &decoded[SIGNATURE_LEN..]);
    assert_eq!(
        recover_signer(&signature, &hash),
        Some(setup.builder.key().address())
    );

    let mut group = c.benchmark_group("floor");
    group.bench_function("recover_signer", |b| {
        b.iter(|| recover_signer(black_box(&signature), black_box(&hash)))
    });
    group.throughput(Throughput::Bytes(decoded.len() as u64));
    group.bench_function("keccak256_decoded_1000tx", |b| {
        b.iter(|| keccak256(black_box(decoded.as_slice())))
    });
    group.throughput(Throughput::Bytes(message.len() as u64));
    group.bench_function("snappy_decompress_1000tx", |b| {
        b.iter(|| decompress(black_box(&message)))
    });
    group.finish();

    // The rest of a valid 1000-tx check, for the breakdown in docs/benchmarks.md.
    let signed = &decoded[SIGNATURE_LEN..];
    let (root, payload) = decode_payload(PayloadVersion::V4, signed).expect("valid SSZ");
    assert_eq!(
        compute_block_hash(&payload, root).expect("hashable"),
        payload.block_hash()
    );
    let mut group = c.benchmark_group("parts");
    group.throughput(Throughput::Bytes(signed.len() as u64));
    group.bench_function("ssz_decode_1000tx", |b| {
        b.iter(|| decode_payload(PayloadVersion::V4, black_box(signed)))
    });
    group.bench_function("block_hash_1000tx", |b| {
        b.iter(|| compute_block_hash(black_box(&payload), root))
    });
    // The block hash's steps: the transactions root (leaf encoding, leaf hashes, branches),
    // and alloy's own transactions root for comparison.
    let txs = &payload.as_v1().transactions;
    assert_eq!(transactions_root(txs), ordered_trie_root_encoded(txs));
    group.bench_function("transactions_root_1000tx", |b| {
        b.iter(|| transactions_root(black_box(txs)))
    });
    group.bench_function("transactions_root_alloy_1000tx", |b| {
        b.iter(|| ordered_trie_root_encoded(black_box(txs)))
    });
    group.bench_function("trie_leaves_encode_1000tx", |b| {
        b.iter(|| TrieLeaves::encode(black_box(txs)))
    });
    group.finish();

    // The keccak floor of the trie: hashing its 1000 leaf nodes and nothing else, with the
    // lanes the root uses and one by one with the scalar keccak.
    let leaves = TrieLeaves::encode(txs).expect("1000-tx leaves are hashed");
    let owned = leaves.nodes();
    let nodes: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let mut hashes = vec![B256::ZERO; nodes.len()];
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Bytes(
        nodes.iter().map(|n| n.len() as u64).sum(),
    ));
    group.bench_function("keccak_lanes_trie_leaves_1000tx", |b| {
        b.iter(|| keccak256_many(black_box(&nodes), &mut hashes))
    });
    group.bench_function("keccak_scalar_trie_leaves_1000tx", |b| {
        b.iter(|| {
            for node in &nodes {
                black_box(keccak256(node));
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = criterion_config();
    targets = valid_blocks, fresh_blocks, junk, floor
}
criterion_main!(benches);
