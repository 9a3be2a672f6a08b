//! `opmesh validate`: validates captured gossip messages with one validator, in order.

use std::{
    io::{self, BufRead, BufWriter, Write},
    sync::mpsc,
    time::{Duration, SystemTime},
};

use alloy_primitives::{hex, Address};
use clap::Args;
use opmesh_gossip::{
    encoding::decode_frame, message_id::frame_message_id, parse_block_topic, unix_seconds,
    validation::PayloadChecker, BlockValidator, PayloadVersion,
};
use opmesh_primitives::parse_go_duration;
use serde::Serialize;
use tokio::sync::watch;

use crate::chain_args::ChainArgs;

/// Flags of `opmesh validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The unsafe-block signer. Without it every block is IGNOREd (no_signer), as op-node does.
    #[arg(long = "p2p.unsafe.block.signer", value_name = "ADDR")]
    signer: Option<Address>,
    /// The current time as unix seconds (default: the clock, read for each line).
    #[arg(long = "now", value_name = "UNIX_SECONDS")]
    now: Option<u64>,
    /// Maximum block age, Go duration syntax.
    #[arg(long = "p2p.gossip.timestamp.threshold", value_name = "DURATION", default_value = "60s", value_parser = parse_go_duration)]
    timestamp_threshold: Duration,
}

/// One output line.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Verdict {
    verdict: &'static str,
    reason: Option<&'static str>,
    number: Option<u64>,
    block_hash: Option<String>,
    /// The gossipsub message id opmesh gives this message on this topic (hex), as op-node's
    /// `BuildMsgIdFn` computes it; absent when the line does not parse.
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
}

impl Verdict {
    fn malformed() -> Self {
        Self {
            verdict: "reject",
            reason: Some("malformed_input"),
            number: None,
            block_hash: None,
            message_id: None,
        }
    }
}

/// How many parsed lines may wait for the validator: enough to keep both threads busy, few
/// enough that a large input is never held in memory (a 1000-tx line is ~0.8 MB decoded).
const PARSED_AHEAD: usize = 2;

/// Reads `TOPIC HEX` lines from stdin and writes one JSON verdict per line to stdout, in
/// input order. Two threads: one reads, hex-decodes, decompresses and computes the message
/// id of the next line while the other validates this one, so on a machine with a free core
/// the command takes about the validator's time per message.
pub fn run(args: ValidateArgs) -> Result<(), Box<dyn std::error::Error>> {
    let resolved = args.chain.resolve_with_preset()?;
    let chain = resolved.chain;
    let signer = args
        .signer
        .or_else(|| resolved.preset.and_then(|p| p.unsafe_block_signer));
    let (_signer_tx, signer_rx) = watch::channel(signer);
    let checker =
        PayloadChecker::new(chain, signer_rx).with_timestamp_threshold(args.timestamp_threshold);
    let mut validator = BlockValidator::from_checker(checker);
    let (parsed_tx, parsed_rx) = mpsc::sync_channel(PARSED_AHEAD);
    let chain_id = chain.chain_id;
    let reader = std::thread::Builder::new()
        .name("validate-input".into())
        .spawn(move || read_lines(io::stdin().lock(), chain_id, parsed_tx))?;
    // On a write error (stdout closed) the command ends at once, without waiting for input.
    write_verdicts(&mut validator, parsed_rx, args.now)?;
    reader.join().map_err(|_| "the input reader panicked")??;
    Ok(())
}

/// Reads lines until the end of `input`, sending each non-blank one parsed.
fn read_lines(
    mut input: impl BufRead,
    chain_id: u64,
    parsed: mpsc::SyncSender<Parsed>,
) -> io::Result<()> {
    // One line buffer and one message buffer for the whole run: a line costs no allocation
    // there once they have grown to the largest line.
    let mut line = Vec::new();
    let mut data = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        if parsed.send(parse_line(chain_id, &line, &mut data)).is_err() {
            return Ok(());
        }
    }
}

/// Validates each parsed line in order and writes its verdict, flushed per line.
fn write_verdicts(
    validator: &mut BlockValidator,
    parsed: mpsc::Receiver<Parsed>,
    now: Option<u64>,
) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for line in parsed {
        let now = now.unwrap_or_else(|| unix_seconds(SystemTime::now()));
        serde_json::to_writer(&mut out, &validate_parsed(validator, line, now))?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(())
}

/// One input line, made ready for the validator.
#[derive(Debug)]
enum Parsed {
    /// Not `TOPIC HEX`, or not a block topic.
    Malformed,
    /// A block topic of another chain.
    OtherChain {
        /// Hex message id.
        message_id: String,
    },
    /// A message on one of this chain's block topics.
    Block {
        /// The topic's payload version.
        version: PayloadVersion,
        /// The message decoded once ([`decode_frame`]).
        frame: Vec<u8>,
        /// Hex message id.
        message_id: String,
    },
}

/// Splits and decodes one `TOPIC HEX` line; `data` is the reused buffer the hex is decoded into.
fn parse_line(chain_id: u64, line: &[u8], data: &mut Vec<u8>) -> Parsed {
    // The topic is the short first field; the rest, trimmed, is the hex. Only the topic is
    // scanned byte by byte: whitespace inside the (long) hex field, a third field included,
    // fails the hex decoding below and makes the line malformed as well.
    let line = line.trim_ascii();
    let topic_end = line
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(line.len());
    let (topic, hex_data) = (&line[..topic_end], line[topic_end..].trim_ascii_start());
    if topic.is_empty() || hex_data.is_empty() {
        return Parsed::Malformed;
    }
    let Ok(topic) = std::str::from_utf8(topic) else {
        return Parsed::Malformed;
    };
    let hex_data = hex_data.strip_prefix(b"0x").unwrap_or(hex_data);
    if hex_data.len() % 2 != 0 {
        return Parsed::Malformed;
    }
    // const-hex (alloy's `hex`): SIMD decoding straight into the reused buffer.
    data.resize(hex_data.len() / 2, 0);
    if hex::decode_to_slice(hex_data, data).is_err() {
        return Parsed::Malformed;
    }
    let Some((topic_chain, version)) = parse_block_topic(topic) else {
        return Parsed::Malformed;
    };
    // One snappy decode for both the message id and the checks, as the node's gossip does.
    let frame = decode_frame(data);
    let message_id = hex::encode(frame_message_id(topic, &frame));
    if topic_chain != chain_id {
        return Parsed::OtherChain { message_id };
    }
    Parsed::Block {
        version,
        frame,
        message_id,
    }
}

/// The verdict on one parsed line at `now`.
fn validate_parsed(validator: &mut BlockValidator, parsed: Parsed, now: u64) -> Verdict {
    let (version, frame, message_id) = match parsed {
        Parsed::Malformed => return Verdict::malformed(),
        Parsed::OtherChain { message_id } => {
            return Verdict {
                verdict: "reject",
                reason: Some("unknown_topic"),
                number: None,
                block_hash: None,
                message_id: Some(message_id),
            }
        }
        Parsed::Block {
            version,
            frame,
            message_id,
        } => (version, frame, Some(message_id)),
    };
    match validator.validate_frame(version, &frame, now) {
        Ok(block) => {
            let block = block.block_ref();
            Verdict {
                verdict: "accept",
                reason: None,
                number: Some(block.number),
                block_hash: Some(block.hash.to_string()),
                message_id,
            }
        }
        Err(invalid) => Verdict {
            verdict: invalid.verdict().label(),
            reason: Some(invalid.reason.label()),
            number: invalid.block.map(|b| b.number),
            block_hash: invalid.block.map(|b| b.hash.to_string()),
            message_id,
        },
    }
}
