//! `opmesh validate` as a whole process against the in-process validator, on the same messages.
//!
//! - `validate_1000tx/in_process`: one [`BlockValidator`] validating 100 distinct valid v4
//!   blocks of 1000 transactions each (a new validator per iteration, so none is a repeat).
//! - `validate_1000tx/whole_process`: the `opmesh validate` binary started on a file holding the
//!   same 100 messages as `TOPIC 0xHEX` lines, until it exits: process start-up, reading and
//!   hex-decoding 54 MB of input, validating, writing 100 JSON verdicts.
//!
//! - `validate_1000tx/in_process_with_message_id`: in-process, the same steps the command takes
//!   per message after hex decoding: one snappy decode, the message id (SHA-256 of the decoded
//!   message), the checks.
//!
//! Both report time per message (throughput in elements = messages). The goal is whole-process
//! time within 10 % of in-process. Before criterion's wall-clock figures, the bench prints CPU
//! time per message, which other processes on a busy machine barely move: the in-process loops
//! timed with `CLOCK_THREAD_CPUTIME_ID`, the whole process as the user + system time of the
//! child (`getrusage(RUSAGE_CHILDREN)`); then wall time per message of `in_process` and
//! `whole_process` timed in 21 back-to-back pairs, with the median `whole / in` ratio per pair
//! (the command reads and decodes on a second thread, so its wall time can approach the
//! validator's while its CPU time cannot; pairing keeps a busy moment of the machine from
//! landing on one side only). Run with
//! `cargo bench -p opmesh --bench validate`; results are in `docs/benchmarks.md`.

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
    encoding::decode_frame,
    message_id::frame_message_id,
    validation::SequencerKey,
    BlockValidator, PayloadVersion,
};
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

const CHAIN_ID: u64 = 901;
/// Block timestamp, also the validator's clock.
const TIMESTAMP: u64 = 1_750_000_000;
/// As many as the baseline ("100 valid 1000-tx v4 blocks").
const MESSAGES: u64 = 100;
const TRANSACTIONS: usize = 1000;

struct Input {
    topic: String,
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
            topic,
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
    // What it takes to run the command by hand on the same kind of input.
    println!(
        "input: {MESSAGES} valid {TRANSACTIONS}-tx v4 blocks; opmesh validate --l2.chain-id {CHAIN_ID} --p2p.unsafe.block.signer {} --now {TIMESTAMP}",
        input.signer
    );
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

    let in_process = || {
        let mut validator = BlockValidator::new(chain, signer_rx.clone());
        for message in &input.messages {
            let accepted = validator.validate(PayloadVersion::V4, black_box(message), TIMESTAMP);
            assert!(accepted.is_ok());
        }
    };
    let with_message_id = || {
        let mut validator = BlockValidator::new(chain, signer_rx.clone());
        for message in &input.messages {
            let frame = decode_frame(black_box(message));
            black_box(frame_message_id(&input.topic, &frame));
            let accepted = validator.validate_frame(PayloadVersion::V4, &frame, TIMESTAMP);
            assert!(accepted.is_ok());
        }
    };

    cpu_time::report("in_process", "cpu", cpu_time::thread, &in_process);
    cpu_time::report(
        "in_process_with_message_id",
        "cpu",
        cpu_time::thread,
        &with_message_id,
    );
    cpu_time::report("whole_process", "cpu", cpu_time::children, &|| {
        input.run_process();
    });
    // Wall time: what an operator waits for. The command validates on one thread while
    // another reads and decodes the next line, so on a free core it approaches in_process.
    // The two are timed in pairs, one right after the other, so that both see the same
    // machine; the ratio per pair is the figure the target is about.
    cpu_time::report_pairs(
        ("in_process", &in_process),
        ("whole_process", &|| {
            input.run_process();
        }),
    );

    let mut group = c.benchmark_group("validate_1000tx");
    group.throughput(Throughput::Elements(MESSAGES));
    group.bench_function("in_process", |b| b.iter(in_process));
    group.bench_function("in_process_with_message_id", |b| b.iter(with_message_id));
    group.bench_function("whole_process", |b| b.iter(|| input.run_process()));
    group.finish();
}

/// Time per message: CPU time (robust to other processes taking the cores) or wall time.
#[allow(unsafe_code)]
mod cpu_time {
    use super::MESSAGES;

    /// Rounds of the whole run per figure.
    const ROUNDS: usize = 15;

    /// `clock` (a `clock_gettime` clock id) now, in nanoseconds.
    fn now(clock: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        assert_eq!(rc, 0, "clock {clock} unavailable");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// CPU time of the calling thread, in nanoseconds.
    pub fn thread() -> u64 {
        now(libc::CLOCK_THREAD_CPUTIME_ID)
    }

    /// The monotonic clock, in nanoseconds.
    pub fn wall() -> u64 {
        now(libc::CLOCK_MONOTONIC)
    }

    /// User + system time of every waited-for child process so far, in nanoseconds.
    pub fn children() -> u64 {
        // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable rusage.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
        assert_eq!(rc, 0, "getrusage failed");
        let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
        ns(usage.ru_utime) + ns(usage.ru_stime)
    }

    /// Prints the median, min and max time per message on `clock` (named `kind`) of
    /// `ROUNDS` runs of `run`.
    pub fn report(name: &str, kind: &str, clock: fn() -> u64, run: &dyn Fn()) {
        run();
        let mut per_message: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let start = clock();
                run();
                (clock() - start) as f64 / MESSAGES as f64 / 1e6
            })
            .collect();
        per_message.sort_by(f64::total_cmp);
        println!(
            "{kind} time per message, validate_1000tx/{name}: median {:.4} ms, min {:.4} ms, max {:.4} ms ({ROUNDS} runs of {MESSAGES} messages)",
            per_message[ROUNDS / 2],
            per_message[0],
            per_message[ROUNDS - 1]
        );
    }

    /// Times `first` and `second` in wall time, alternately, `PAIRS` times; prints each one's
    /// median and minimum time per message, the median, min and max of `second / first` per
    /// pair, and the ratio of the two minima (the least disturbed run of each: on a VM whose
    /// neighbours come and go, the per-pair ratios spread from 0.5 to 2).
    pub fn report_pairs(first: (&str, &dyn Fn()), second: (&str, &dyn Fn())) {
        const PAIRS: usize = 21;
        first.1();
        second.1();
        let time = |run: &dyn Fn()| {
            let start = wall();
            run();
            (wall() - start) as f64 / MESSAGES as f64 / 1e6
        };
        let mut firsts = Vec::with_capacity(PAIRS);
        let mut seconds = Vec::with_capacity(PAIRS);
        let mut ratios = Vec::with_capacity(PAIRS);
        for _ in 0..PAIRS {
            let (a, b) = (time(first.1), time(second.1));
            firsts.push(a);
            seconds.push(b);
            ratios.push(b / a);
        }
        for v in [&mut firsts, &mut seconds, &mut ratios] {
            v.sort_by(f64::total_cmp);
        }
        println!(
            "wall time per message, validate_1000tx/{}: median {:.4} ms, min {:.4} ms; validate_1000tx/{}: median {:.4} ms, min {:.4} ms ({PAIRS} pairs of {MESSAGES} messages)",
            first.0,
            firsts[PAIRS / 2],
            firsts[0],
            second.0,
            seconds[PAIRS / 2],
            seconds[0]
        );
        println!(
            "wall time ratio per pair, {} / {}: median {:.3}, min {:.3}, max {:.3}; ratio of the minima {:.3}",
            second.0,
            first.0,
            ratios[PAIRS / 2],
            ratios[0],
            ratios[PAIRS - 1],
            seconds[0] / firsts[0]
        );
    }
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
