//! The stateless part of block validation: everything but the per-height record.

use std::time::Duration;

use alloy_primitives::{keccak256, Address, Signature, B256};
use alloy_rpc_types_engine::{
    ExecutionPayloadV1, ExecutionPayloadV2, ExecutionPayloadV3, PayloadError,
};
use op_alloy_rpc_types_engine::{
    OpExecutionPayload, OpExecutionPayloadV4, OpNetworkPayloadEnvelope, PayloadHash,
};
use opmesh_primitives::{ChainConfig, Fork};
use ssz::Decode;

use super::{
    block_hash::compute_block_hash,
    clock::ClockCheck,
    overlap::{both, spare_core, InFlight, MIN_OVERLAP_BYTES},
    reason::{BlockRef, Invalid, Reason},
    signature::{recover_signer, SIGNATURE_LEN},
    signers::{SignerMatch, Signers},
};
use crate::{
    config::ValidationLevel,
    encoding::{decompress, read_frame, Frame, SnappyError, MIN_GOSSIP_SIZE},
    PayloadVersion,
};

/// Default age beyond which a block is rejected (`--p2p.gossip.timestamp.threshold`).
pub const DEFAULT_TIMESTAMP_THRESHOLD: Duration = Duration::from_secs(60);

/// How far in the future a block timestamp may be.
pub const MAX_FUTURE_DRIFT_SECS: u64 = 5;

/// Largest `extra_data` a payload may carry (op-node's SSZ decoder refuses more).
pub const MAX_EXTRA_DATA: usize = 32;

/// A block that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBlock {
    /// The decoded envelope: payload, signature, payload hash, parent beacon root.
    pub envelope: OpNetworkPayloadEnvelope,
    /// The topic version it arrived on.
    pub version: PayloadVersion,
}

impl ValidatedBlock {
    /// Number and hash of the block.
    pub fn block_ref(&self) -> BlockRef {
        BlockRef {
            number: self.envelope.payload.block_number(),
            hash: self.envelope.payload.block_hash(),
        }
    }

    /// The payload timestamp.
    pub fn timestamp(&self) -> u64 {
        self.envelope.payload.timestamp()
    }
}

/// The checks that need no memory of earlier messages, in op-node's order, cheapest first:
/// size bound → snappy → length → signature → signer → SSZ → timestamp window → block hash →
/// version rules.
///
/// Cheap to clone and `Send`: the gossip driver runs it on a blocking pool, in parallel,
/// and applies the per-height record ([`super::SeenBlocks`]) afterwards in order.
#[derive(Debug, Clone)]
pub struct PayloadChecker {
    chain: ChainConfig,
    signers: Signers,
    timestamp_threshold_secs: u64,
    level: ValidationLevel,
    overlap: bool,
    clock: ClockCheck,
    clock_offset_secs: i64,
}

impl PayloadChecker {
    /// A checker for `chain` that trusts the signers of `signers`: a [`Signers`], or a
    /// `watch::Receiver<Option<Address>>` of the configured signer (op-node's default grace
    /// after a change).
    pub fn new(chain: ChainConfig, signers: impl Into<Signers>) -> Self {
        Self {
            chain,
            signers: signers.into(),
            timestamp_threshold_secs: DEFAULT_TIMESTAMP_THRESHOLD.as_secs(),
            level: ValidationLevel::Full,
            overlap: false,
            clock: ClockCheck::default(),
            clock_offset_secs: 0,
        }
    }

    /// Shifts the time every check is made at by `secs`: a skewed clock for the network lab
    /// (the hidden `--p2p.debug.clock-offset`). Never on a real network.
    pub fn with_clock_offset(mut self, secs: i64) -> Self {
        self.clock_offset_secs = secs;
        self
    }

    /// The clock check fed by this checker's blocks.
    pub const fn clock(&self) -> &ClockCheck {
        &self.clock
    }

    /// Sets how much validation runs; [`ValidationLevel::None`] only decodes (the network
    /// lab's gossip-cost baseline).
    pub fn with_level(mut self, level: ValidationLevel) -> Self {
        self.level = level;
        self
    }

    /// Hashes a large block's payload on a helper thread beside the SSZ decode and block hash
    /// when fewer checks are running than there are cores (off by default).
    ///
    /// It shortens a valid large block's check on an otherwise idle machine, but the decode and
    /// block hash then run before the signature is known, so junk with a bad signature costs
    /// them too, and on a machine whose cores are busy with other work the two threads only
    /// compete (measured: 3x the wall time for bad-signature junk; see docs/benchmarks.md).
    pub fn with_overlap(mut self, overlap: bool) -> Self {
        self.overlap = overlap;
        self
    }

    /// Sets the maximum block age (rounded down to whole seconds, as op-node compares).
    pub fn with_timestamp_threshold(mut self, threshold: Duration) -> Self {
        self.timestamp_threshold_secs = threshold.as_secs();
        self
    }

    /// The chain this checker validates for.
    pub const fn chain(&self) -> &ChainConfig {
        &self.chain
    }

    /// The current unsafe-block signer.
    pub fn signer(&self) -> Option<Address> {
        self.signers.current()
    }

    /// The signer set: the current signer and the previous one in its grace period.
    pub const fn signers(&self) -> &Signers {
        &self.signers
    }

    /// Runs every stateless check on the raw gossip `data` received on the `version` topic at
    /// unix time `now`.
    pub fn check(
        &self,
        version: PayloadVersion,
        data: &[u8],
        now: u64,
    ) -> Result<ValidatedBlock, Invalid> {
        // 1. Size bound, then snappy.
        let decoded = decompress(data).map_err(snappy_invalid)?;
        self.check_decoded(version, &decoded, now)
    }

    /// [`Self::check`] on a message the gossip transform already decoded into a frame
    /// ([`crate::encoding::decode_frame`]): the same verdicts, without decompressing again.
    pub fn check_frame(
        &self,
        version: PayloadVersion,
        frame: &[u8],
        now: u64,
    ) -> Result<ValidatedBlock, Invalid> {
        match read_frame(frame) {
            Frame::Decoded(decoded) => self.check_decoded(version, decoded, now),
            Frame::Undecodable { error, .. } => Err(snappy_invalid(error)),
        }
    }

    /// The checks after snappy, on the decoded message.
    fn check_decoded(
        &self,
        version: PayloadVersion,
        decoded: &[u8],
        now: u64,
    ) -> Result<ValidatedBlock, Invalid> {
        // The lab's skewed clock, on both entry points (the driver uses `check_frame`).
        let now = now.saturating_add_signed(self.clock_offset_secs);
        // 2. Length.
        if decoded.len() < MIN_GOSSIP_SIZE {
            return Err(Invalid::undecoded(Reason::TooShort));
        }
        let (signature, signed) = decoded.split_at(SIGNATURE_LEN);
        let signature: &[u8; SIGNATURE_LEN] = signature
            .try_into()
            .map_err(|_| Invalid::undecoded(Reason::TooShort))?;
        if self.level == ValidationLevel::None {
            return decode_only(version, signature, signed);
        }

        // 3. Signature over the exact signed bytes, 4. signer. With `with_overlap`, a large
        // block's payload hash runs beside steps 5 and 7 when a core is free (see `overlap`);
        // the verdict is the same either way.
        let _in_flight = InFlight::enter();
        let (payload_hash, mut ahead) =
            if self.overlap && signed.len() >= MIN_OVERLAP_BYTES && spare_core() {
                let (hash, ahead) = both(|| keccak256(signed), || Ahead::compute(version, signed));
                (PayloadHash(hash), Some(ahead))
            } else {
                (PayloadHash(keccak256(signed)), None)
            };
        let signing_hash = payload_hash.signature_message(self.chain.chain_id);
        let recovered = recover_signer(signature, &signing_hash)
            .ok_or(Invalid::undecoded(Reason::BadSignature))?;
        // The current signer, or the previous one during its grace after a rotation.
        match self.signers.check(recovered, now) {
            SignerMatch::Current | SignerMatch::Grace => {}
            SignerMatch::NoSigner => return Err(Invalid::undecoded(Reason::NoSigner)),
            SignerMatch::Unknown => return Err(Invalid::undecoded(Reason::WrongSigner)),
        }

        // 5. SSZ decode with the topic's version.
        let decoded = match ahead.as_mut() {
            Some(ahead) => ahead.decoded.take(),
            None => decode_payload(version, signed),
        };
        let (parent_beacon_block_root, payload) =
            decoded.ok_or(Invalid::undecoded(Reason::BadSsz))?;
        let block = BlockRef {
            number: payload.block_number(),
            hash: payload.block_hash(),
        };
        let invalid = |reason| Invalid {
            reason,
            block: Some(block),
        };

        // 6. Timestamp window.
        let timestamp = payload.timestamp();
        let too_old = timestamp < now.saturating_sub(self.timestamp_threshold_secs);
        let too_new = timestamp > now.saturating_add(MAX_FUTURE_DRIFT_SECS);
        // Correctly signed blocks outside the window from everyone = this clock is off.
        self.clock.observe(timestamp, now, !too_old && !too_new);
        if too_old {
            return Err(invalid(Reason::TooOld));
        }
        if too_new {
            return Err(invalid(Reason::TooNew));
        }

        // 7. Block hash.
        let computed = match ahead.and_then(|ahead| ahead.block_hash) {
            Some(computed) => computed,
            None => compute_block_hash(&payload, parent_beacon_block_root),
        };
        let computed = computed.map_err(|e| {
            invalid(match e {
                PayloadError::BaseFee(_) => Reason::BaseFeeOverflow,
                _ => Reason::BadSsz,
            })
        })?;
        if computed != block.hash {
            return Err(invalid(Reason::BlockHashMismatch));
        }

        // 8. Version rules. V1 has no withdrawals and V1/V2 no blob fields by construction of
        // the decoder; V3/V4 always carry the parent beacon root, V4 the withdrawals root.
        if let Some(v2) = payload.as_v2() {
            if !v2.withdrawals.is_empty() {
                return Err(invalid(Reason::WithdrawalsNotEmpty));
            }
        }
        if let Some(v3) = payload.as_v3() {
            if v3.excess_blob_gas != 0 {
                return Err(invalid(Reason::ExcessBlobGasNonZero));
            }
            // Jovian stores the DA footprint in blobGasUsed (op-node PR #17940).
            if v3.blob_gas_used != 0 && !self.chain.forks.is_active(Fork::Jovian, timestamp) {
                return Err(invalid(Reason::BlobGasUsedNonZero));
            }
        }

        // A fully valid block from the new signer ends the previous signer's grace.
        self.signers.verified(recovered, now);
        let signature = Signature::from_bytes_and_parity(&signature[..64], signature[64] == 1);
        Ok(ValidatedBlock {
            envelope: OpNetworkPayloadEnvelope {
                payload,
                signature,
                payload_hash,
                parent_beacon_block_root,
            },
            version,
        })
    }
}

/// Steps 5 and 7 computed ahead, beside the payload hash.
struct Ahead {
    /// The SSZ decode (step 5), taken by the check.
    decoded: Option<(Option<B256>, OpExecutionPayload)>,
    /// The recomputed block hash (step 7), if the payload decoded.
    block_hash: Option<Result<B256, PayloadError>>,
}

impl Ahead {
    fn compute(version: PayloadVersion, signed: &[u8]) -> Self {
        let decoded = decode_payload(version, signed);
        let block_hash = decoded
            .as_ref()
            .map(|(root, payload)| compute_block_hash(payload, *root));
        Self {
            decoded,
            block_hash,
        }
    }
}

/// The verdict on a message that is not snappy within the size bound.
fn snappy_invalid(error: SnappyError) -> Invalid {
    Invalid::undecoded(match error {
        SnappyError::TooLarge(_) => Reason::Oversized,
        SnappyError::BadHeader | SnappyError::BadBody => Reason::BadSnappy,
    })
}

/// [`ValidationLevel::None`]: the SSZ payload as it is, no check, no payload hash.
fn decode_only(
    version: PayloadVersion,
    signature: &[u8; SIGNATURE_LEN],
    signed: &[u8],
) -> Result<ValidatedBlock, Invalid> {
    let (parent_beacon_block_root, payload) =
        decode_payload(version, signed).ok_or(Invalid::undecoded(Reason::BadSsz))?;
    let signature = Signature::from_bytes_and_parity(&signature[..64], signature[64] == 1);
    Ok(ValidatedBlock {
        envelope: OpNetworkPayloadEnvelope {
            payload,
            signature,
            payload_hash: PayloadHash(B256::ZERO),
            parent_beacon_block_root,
        },
        version,
    })
}

/// Decodes the bytes after the signature as the SSZ payload of `version`.
///
/// `None` when the bytes are not a valid encoding, including `extra_data` longer than 32 bytes.
pub fn decode_payload(
    version: PayloadVersion,
    signed: &[u8],
) -> Option<(Option<B256>, OpExecutionPayload)> {
    let (root, body) = if version.has_parent_beacon_root() {
        if signed.len() < 32 {
            return None;
        }
        let (root, body) = signed.split_at(32);
        (Some(B256::from_slice(root)), body)
    } else {
        (None, signed)
    };
    let payload = match version {
        PayloadVersion::V1 => {
            OpExecutionPayload::V1(ExecutionPayloadV1::from_ssz_bytes(body).ok()?)
        }
        PayloadVersion::V2 => {
            OpExecutionPayload::V2(ExecutionPayloadV2::from_ssz_bytes(body).ok()?)
        }
        PayloadVersion::V3 => {
            OpExecutionPayload::V3(ExecutionPayloadV3::from_ssz_bytes(body).ok()?)
        }
        PayloadVersion::V4 => {
            OpExecutionPayload::V4(OpExecutionPayloadV4::from_ssz_bytes(body).ok()?)
        }
    };
    if payload.as_v1().extra_data.len() > MAX_EXTRA_DATA {
        return None;
    }
    Some((root, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{BlockSpec, InvalidKind, PayloadBuilder};
    use crate::validation::SequencerKey;

    #[test]
    fn decode_only_level_skips_every_check_but_decoding() {
        let key = SequencerKey::from_bytes(&keccak256(b"decode only").0).expect("key");
        let builder = PayloadBuilder::new(ChainConfig::new(901), key);
        let (_signer, rx) = tokio::sync::watch::channel(Some(builder.key().address()));
        let full = PayloadChecker::new(ChainConfig::new(901), rx);
        let none = full.clone().with_level(ValidationLevel::None);
        let spec = BlockSpec::new(7, 1_700_000_000, 3);
        let version = PayloadVersion::for_timestamp(&builder.chain().forks, spec.timestamp);
        let now = spec.timestamp + 3600;
        for kind in [InvalidKind::WrongSigner, InvalidKind::BlockHashMismatch] {
            let data = builder.invalid(kind, version, &spec);
            assert!(full.check(version, &data, spec.timestamp).is_err());
            let block = none.check(version, &data, now).expect("decodes");
            assert_eq!(block.block_ref().number, 7);
        }
        for kind in [
            InvalidKind::SnappyBomb,
            InvalidKind::BadSsz,
            InvalidKind::TooShort,
        ] {
            let data = builder.invalid(kind, version, &spec);
            let reason = none.check(version, &data, now).expect_err("undecodable");
            assert_eq!(reason.reason, kind.expected_reason());
        }
    }

    #[test]
    fn the_clock_offset_applies_to_raw_and_framed_messages() {
        let key = SequencerKey::from_bytes(&keccak256(b"clock offset").0).expect("key");
        let builder = PayloadBuilder::new(ChainConfig::new(901), key);
        let (_signer, rx) = tokio::sync::watch::channel(Some(builder.key().address()));
        let spec = BlockSpec::new(7, 1_700_000_000, 3);
        let version = PayloadVersion::for_timestamp(&builder.chain().forks, spec.timestamp);
        let data = builder.block(&spec).message;
        let frame = crate::encoding::decode_frame(&data);
        let now = spec.timestamp;
        for (offset, reason) in [
            (-30, Some(Reason::TooNew)),
            (90, Some(Reason::TooOld)),
            (0, None),
        ] {
            let checker =
                PayloadChecker::new(ChainConfig::new(901), rx.clone()).with_clock_offset(offset);
            let raw = checker.check(version, &data, now).err().map(|e| e.reason);
            let framed = checker
                .check_frame(version, &frame, now)
                .err()
                .map(|e| e.reason);
            assert_eq!(raw, reason, "raw, offset {offset}");
            assert_eq!(framed, reason, "framed, offset {offset}");
        }
    }

    #[test]
    fn overlap_gives_the_same_verdicts() {
        let key = SequencerKey::from_bytes(&keccak256(b"overlap").0).expect("key");
        let builder = PayloadBuilder::new(ChainConfig::new(901), key);
        let (_signer, rx) = tokio::sync::watch::channel(Some(builder.key().address()));
        let plain = PayloadChecker::new(ChainConfig::new(901), rx);
        let overlap = plain.clone().with_overlap(true);
        // 400 transactions: over the 64 KiB from which the overlap applies.
        let spec = BlockSpec::new(7, 1_700_000_000, 400);
        let version = PayloadVersion::for_timestamp(&builder.chain().forks, spec.timestamp);
        let valid = builder.block(&spec).message;
        assert_eq!(
            plain.check(version, &valid, spec.timestamp),
            overlap.check(version, &valid, spec.timestamp)
        );
        assert!(overlap.check(version, &valid, spec.timestamp).is_ok());
        for kind in InvalidKind::ALL {
            let data = builder.invalid(kind, version, &spec);
            let expected = plain.check(version, &data, spec.timestamp).map(|_| ());
            let got = overlap.check(version, &data, spec.timestamp).map(|_| ());
            assert_eq!(got, expected, "{kind:?}");
        }
    }
}
