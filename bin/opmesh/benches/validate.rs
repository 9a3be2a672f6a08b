//! `opmesh validate` as a whole process against the in-process validator, on the same messages.
//!
//! - `validate_1000tx/in_process`: one [`BlockValidator`] validating 50 distinct valid v4
//!   blocks of 1000 transactions each (a new validator per iteration, so none is a repeat).
//! - `validate_1000tx/whole_process`: the `opmesh validate` binary started on a file holding the
//!   same 50 messages as `TOPIC 0xHEX` lines, until it exits: process start-up, reading and
//!   hex-decoding 27 MB of input, validating, writing 50 JSON verdicts.
//!
//! Both report time per message (throughput in elements = messages). The goal is whole-process
//! time within 10 % of in-process. Run with `cargo bench -p opmesh --bench validate`; results
//! are in `docs/benchmarks.md`.

use std::{
    fs::File,
    hint::black_box,
    io::Write,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use alloy_primitives::{hex, keccak256};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opmesh_gossip::{
    block_topic,
    builder::{BlockSpec, PayloadBuilder},
    validation::SequencerKey,
    BlockValidator, PayloadVersion,
};
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

const CHAIN_ID: u64 = 901;
/// Block timestamp, also the validator's clock.
const TIMESTAMP: u64 = 1_750_000_000;
const MESSAGES: u64 = 50;
const TRANSACTIONS: usize = 1000;

struct Input {
    messages: Vec<Vec<u8>>,
    signer: String,
    path: PathBuf,
}

impl Input {
    fn new() -> Self {
        let chain = ChainConfig::new(CHAIN_ID);
        let key = SequencerKey::from_bytes(&keccak256(b"opmesh validate bench").0)
            .expect("valid secret key");
        let signer = key.address().to_string();
        let builder = PayloadBuilder::new(chain, key);
        let topic = block_topic(CHAIN_ID, PayloadVersion::V4);
        let path =
            std::env::temp_dir().join(format!("opmesh-validate-bench-{}.txt", std::process::id()));
        let mut file = File::create(&path).expect("temp file");
        let mut messages = Vec::new();
        for number in 1..=MESSAGES {
            let block = builder.block(&BlockSpec::new(number, TIMESTAMP, TRANSACTIONS));
            assert_eq!(block.version, PayloadVersion::V4);
            writeln!(file, "{topic} 0x{}", hex::encode(&block.message)).expect("write");
            messages.push(block.message);
        }
        Self {
            messages,
            signer,
            path,
        }
    }

    fn run_process(&self) -> Vec<u8> {
        let output = Command::new(env!("CARGO_BIN_EXE_opmesh"))
            .args([
                "validate",
                "--l2.chain-id",
                &CHAIN_ID.to_string(),
                "--p2p.unsafe.block.signer",
                &self.signer,
                "--now",
                &TIMESTAMP.to_string(),
            ])
            .stdin(File::open(&self.path).expect("input file"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .expect("opmesh runs");
        assert!(output.status.success());
        output.stdout
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn validate(c: &mut Criterion) {
    let input = Input::new();
    let (_signer_tx, signer_rx) = watch::channel(Some(
        input.signer.parse().expect("the builder's address parses"),
    ));
    let chain = ChainConfig::new(CHAIN_ID);
    // Every message is accepted, in both forms, before anything is timed.
    let out = String::from_utf8(input.run_process()).expect("UTF-8 verdicts");
    assert_eq!(out.lines().count() as u64, MESSAGES);
    assert!(out.lines().all(|l| l.contains("\"accept\"")), "{out}");
    let mut validator = BlockValidator::new(chain, signer_rx.clone());
    for message in &input.messages {
        validator
            .validate(PayloadVersion::V4, message, TIMESTAMP)
            .expect("valid block");
    }

    let mut group = c.benchmark_group("validate_1000tx");
    group.throughput(Throughput::Elements(MESSAGES));
    group.bench_function("in_process", |b| {
        b.iter(|| {
            let mut validator = BlockValidator::new(chain, signer_rx.clone());
            for message in &input.messages {
                let accepted =
                    validator.validate(PayloadVersion::V4, black_box(message), TIMESTAMP);
                assert!(accepted.is_ok());
            }
        })
    });
    group.bench_function("whole_process", |b| b.iter(|| input.run_process()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = validate
}
criterion_main!(benches);
