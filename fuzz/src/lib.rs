//! The decode-and-validate harness behind the `validate` fuzz target.
//!
//! The same file is compiled into `crates/gossip/tests/fuzz_props.rs` (by `#[path]`), so the
//! stable property test runs exactly the code the nightly fuzzer runs. It therefore uses only
//! crates that opmesh-gossip itself depends on.
//!
//! Input layout: the first byte `b` selects the topic version (`b % 4`: v1..v4) and the mode
//! (`b & 4`):
//! - [`Mode::Raw`]: the rest is the gossip message exactly as received from a peer;
//! - [`Mode::Signed`]: the rest is the signed part (`[parent beacon root] ‖ ssz(payload)`), which
//!   the harness signs as the sequencer and snappy-compresses, so the fuzzer gets past the
//!   signature check and explores SSZ decoding, the timestamp window, the block hash and the
//!   version rules.
//!
//! [`run`] then validates the message with a fresh [`BlockValidator`], computes its gossip
//! message id, and asserts the invariants every outcome must satisfy.

use std::sync::OnceLock;

use alloy_primitives::keccak256;
use opmesh_gossip::{
    block_topic,
    encoding::{compress, MAX_GOSSIP_SIZE, MIN_GOSSIP_SIZE},
    message_id::compute_message_id,
    validation::{
        signature_bytes, SequencerKey, DEFAULT_TIMESTAMP_THRESHOLD, MAX_FUTURE_DRIFT_SECS,
        SIGNATURE_LEN,
    },
    BlockValidator, Invalid, PayloadVersion, Reason, ValidatedBlock,
};
use opmesh_primitives::ChainConfig;
use tokio::sync::watch;

/// The chain id the harness validates for.
pub const CHAIN_ID: u64 = 901;

/// The validator's clock (unix seconds).
pub const NOW: u64 = 1_750_000_000;

/// The mode bit of the first input byte.
const SIGNED_MODE_BIT: u8 = 4;

/// How the bytes after the selector byte become a gossip message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The bytes are the wire message.
    Raw,
    /// The bytes are the signed part; the harness signs and compresses them.
    Signed,
}

/// What one input did.
#[derive(Debug)]
pub struct Run {
    /// The topic version the message was validated as.
    pub version: PayloadVersion,
    /// How the message was made from the input.
    pub mode: Mode,
    /// The wire message that was validated.
    pub message: Vec<u8>,
    /// The validator's outcome.
    pub outcome: Result<ValidatedBlock, Invalid>,
    /// The gossip message id of `message` on the version's topic.
    pub message_id: [u8; 20],
}

/// The sequencer key the harness signs with and the validator trusts.
pub fn sequencer() -> &'static SequencerKey {
    static KEY: OnceLock<SequencerKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SequencerKey::from_bytes(&keccak256(b"opmesh fuzz sequencer").0)
            .expect("a keccak digest is a valid secp256k1 secret key")
    })
}

/// Builds the message `input` describes, validates it and checks the invariants (panicking on
/// a violation, which the fuzzer reports as a crash). `None` for an empty input.
pub fn run(input: &[u8]) -> Option<Run> {
    let (&selector, rest) = input.split_first()?;
    let version = PayloadVersion::ALL[usize::from(selector % 4)];
    let mode = if selector & SIGNED_MODE_BIT == 0 {
        Mode::Raw
    } else {
        Mode::Signed
    };
    let message = match mode {
        Mode::Raw => rest.to_vec(),
        Mode::Signed => {
            let signature = sequencer().sign(CHAIN_ID, rest);
            let mut raw = signature_bytes(&signature).to_vec();
            raw.extend_from_slice(rest);
            compress(&raw)
        }
    };

    let (_signer, signer_rx) = watch::channel(Some(sequencer().address()));
    let mut validator = BlockValidator::new(ChainConfig::new(CHAIN_ID), signer_rx);
    let outcome = validator.validate(version, &message, NOW);
    let message_id = compute_message_id(&block_topic(CHAIN_ID, version), &message);

    let run = Run {
        version,
        mode,
        message,
        outcome,
        message_id,
    };
    check_invariants(&run, rest.len());
    Some(run)
}

/// Whether a reason is given before the payload decodes (so the outcome names no block).
pub const fn is_undecoded(reason: Reason) -> bool {
    matches!(
        reason,
        Reason::Oversized
            | Reason::BadSnappy
            | Reason::TooShort
            | Reason::BadSignature
            | Reason::NoSigner
            | Reason::WrongSigner
            | Reason::BadSsz
    )
}

fn check_invariants(run: &Run, signed_len: usize) {
    match &run.outcome {
        Ok(block) => {
            assert_eq!(block.version, run.version, "accepted on another topic");
            let age = DEFAULT_TIMESTAMP_THRESHOLD.as_secs();
            assert!(
                (NOW - age..=NOW + MAX_FUTURE_DRIFT_SECS).contains(&block.timestamp()),
                "accepted a block outside the timestamp window: {}",
                block.timestamp()
            );
        }
        Err(invalid) => {
            assert_ne!(
                invalid.reason,
                Reason::UnknownTopic,
                "validate never sees topics"
            );
            assert_ne!(invalid.reason, Reason::NoSigner, "the signer is configured");
            assert_ne!(
                invalid.reason,
                Reason::AlreadySeen,
                "the validator is fresh"
            );
            assert_ne!(
                invalid.reason,
                Reason::TooManyBlocks,
                "the validator is fresh"
            );
            assert_eq!(
                invalid.block.is_none(),
                is_undecoded(invalid.reason),
                "{} names a block iff the payload decoded",
                invalid.reason
            );
            if run.mode == Mode::Signed && signed_len + SIGNATURE_LEN <= MAX_GOSSIP_SIZE {
                // Correctly signed by the trusted key and well-formed snappy: only the payload
                // itself can be wrong.
                assert!(
                    !matches!(
                        invalid.reason,
                        Reason::Oversized
                            | Reason::BadSnappy
                            | Reason::BadSignature
                            | Reason::WrongSigner
                    ),
                    "a sequencer-signed message was rejected as {}",
                    invalid.reason
                );
                if invalid.reason == Reason::TooShort {
                    assert!(signed_len + SIGNATURE_LEN < MIN_GOSSIP_SIZE);
                }
            }
        }
    }
}
