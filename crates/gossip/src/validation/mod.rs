//! Validation of signed execution-payload envelopes, as the OP Stack specifies and op-node
//! implements it.
//!
//! [`BlockValidator`] is pure and synchronous: the caller passes the current time in, the
//! unsafe-block signer lives in a [`tokio::sync::watch`] channel so it can change at runtime,
//! and every outcome carries a typed [`Reason`] with a stable label.

mod block_hash;
mod checker;
mod clock;
pub mod keccak_lanes;
mod overlap;
pub mod pipeline;
mod reason;
mod seen;
mod signature;
mod signers;
mod trie_levels;
mod tx_root;

use opmesh_primitives::ChainConfig;

pub use block_hash::compute_block_hash;
pub use checker::{
    decode_payload, PayloadChecker, ValidatedBlock, DEFAULT_TIMESTAMP_THRESHOLD, MAX_EXTRA_DATA,
    MAX_FUTURE_DRIFT_SECS,
};
pub use clock::{
    ClockCheck, ClockEstimator, ClockVerdict, CLOCK_MAX_SAMPLES, CLOCK_MIN_EVIDENCE,
    CLOCK_WINDOW_SECS,
};
pub use pipeline::{PipelineLimits, ValidationPipeline};
pub use reason::{acceptance, BlockRef, Invalid, Reason, Verdict};
pub use seen::{SeenBlocks, MAX_BLOCKS_PER_HEIGHT, SEEN_HEIGHTS};
pub use signature::{
    address_of, recover_signer, signature_bytes, signing_hash, SequencerKey, SequencerKeyError,
    SIGNATURE_LEN,
};
pub use signers::{
    GraceEnd, SignerChange, SignerMatch, SignerSet, Signers, UnknownSigners, DEFAULT_SIGNER_GRACE,
};
pub use tx_root::{transactions_root, TrieLeaves};

use crate::PayloadVersion;

/// Validates block messages in order, remembering what it has seen.
///
/// One validator serves all four topics, so duplicates and per-height limits apply across them.
#[derive(Debug)]
pub struct BlockValidator {
    checker: PayloadChecker,
    seen: SeenBlocks,
}

impl BlockValidator {
    /// A validator for `chain` that trusts the signers of `signer` (see [`PayloadChecker::new`]).
    pub fn new(chain: ChainConfig, signer: impl Into<Signers>) -> Self {
        Self::from_checker(PayloadChecker::new(chain, signer))
    }

    /// A validator around a configured checker.
    pub fn from_checker(checker: PayloadChecker) -> Self {
        Self {
            checker,
            seen: SeenBlocks::default(),
        }
    }

    /// The stateless checks.
    pub const fn checker(&self) -> &PayloadChecker {
        &self.checker
    }

    /// Validates the raw gossip `data` received on the `version` topic at unix time `now`.
    pub fn validate(
        &mut self,
        version: PayloadVersion,
        data: &[u8],
        now: u64,
    ) -> Result<ValidatedBlock, Invalid> {
        let block = self.checker.check(version, data, now)?;
        self.record(block)
    }

    /// [`Self::validate`] on a message already decoded into a frame
    /// ([`crate::encoding::decode_frame`]), as the gossip transform hands it on.
    pub fn validate_frame(
        &mut self,
        version: PayloadVersion,
        frame: &[u8],
        now: u64,
    ) -> Result<ValidatedBlock, Invalid> {
        let block = self.checker.check_frame(version, frame, now)?;
        self.record(block)
    }

    /// Applies the per-height limit and duplicate check to a block that passed the stateless
    /// checks, and records it.
    pub fn record(&mut self, block: ValidatedBlock) -> Result<ValidatedBlock, Invalid> {
        let block_ref = block.block_ref();
        self.seen
            .check_and_record(block_ref.number, block_ref.hash)
            .map_err(|reason| Invalid {
                reason,
                block: Some(block_ref),
            })?;
        Ok(block)
    }
}
