//! Encoding signed envelopes for the wire, and signing payloads as the sequencer.

use alloy_primitives::B256;
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpNetworkPayloadEnvelope, PayloadHash};
use opmesh_primitives::ForkSchedule;
use ssz::Encode;

use crate::{
    encoding::compress,
    validation::{signature_bytes, SequencerKey},
    PayloadVersion,
};

/// Why an envelope cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The payload variant is not the one the fork schedule requires at its timestamp; peers
    /// would fail to decode it on that topic.
    #[error("payload is {payload} but its timestamp {timestamp} belongs on the {expected} topic")]
    VersionMismatch {
        /// The payload's own version.
        payload: PayloadVersion,
        /// The version the fork schedule requires.
        expected: PayloadVersion,
        /// The payload timestamp.
        timestamp: u64,
    },
    /// A v3/v4 payload without a parent beacon block root, or a v1/v2 payload with one.
    #[error("{0} payloads {1} a parent beacon block root")]
    ParentBeaconRoot(PayloadVersion, &'static str),
    /// The encoded message exceeds the 10 MiB gossip limit.
    #[error("encoded message is {0} bytes, above the 10 MiB gossip limit")]
    TooLarge(usize),
}

/// The version of a payload variant.
pub const fn payload_version(payload: &OpExecutionPayload) -> PayloadVersion {
    match payload {
        OpExecutionPayload::V1(_) => PayloadVersion::V1,
        OpExecutionPayload::V2(_) => PayloadVersion::V2,
        OpExecutionPayload::V3(_) => PayloadVersion::V3,
        OpExecutionPayload::V4(_) => PayloadVersion::V4,
    }
}

/// The payload's version, if it is the one the fork schedule requires at its timestamp.
pub fn check_version(
    payload: &OpExecutionPayload,
    forks: &ForkSchedule,
) -> Result<PayloadVersion, EnvelopeError> {
    let version = payload_version(payload);
    let timestamp = payload.timestamp();
    let expected = PayloadVersion::for_timestamp(forks, timestamp);
    if version != expected {
        return Err(EnvelopeError::VersionMismatch {
            payload: version,
            expected,
            timestamp,
        });
    }
    Ok(version)
}

/// The bytes that follow the signature: the parent beacon root for v3/v4, then the SSZ payload.
pub fn signed_bytes(
    payload: &OpExecutionPayload,
    parent_beacon_block_root: Option<B256>,
) -> Result<Vec<u8>, EnvelopeError> {
    let version = payload_version(payload);
    let mut out = Vec::with_capacity(32 + payload.ssz_bytes_len());
    match (version.has_parent_beacon_root(), parent_beacon_block_root) {
        (true, Some(root)) => out.extend_from_slice(root.as_slice()),
        (false, None) => {}
        (true, None) => return Err(EnvelopeError::ParentBeaconRoot(version, "need")),
        (false, Some(_)) => return Err(EnvelopeError::ParentBeaconRoot(version, "cannot carry")),
    }
    payload.ssz_append(&mut out);
    Ok(out)
}

/// A signed envelope ready to publish: its topic version and snappy-compressed wire bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBlock {
    /// The decoded envelope.
    pub envelope: OpNetworkPayloadEnvelope,
    /// The topic version.
    pub version: PayloadVersion,
    /// The gossip message: `snappy(signature ‖ [root] ‖ ssz(payload))`.
    pub message: Vec<u8>,
}

impl EncodedBlock {
    /// Encodes an already signed envelope, checking its version against `forks`.
    pub fn encode(
        envelope: OpNetworkPayloadEnvelope,
        forks: &ForkSchedule,
    ) -> Result<Self, EnvelopeError> {
        let version = check_version(&envelope.payload, forks)?;
        let signed = signed_bytes(&envelope.payload, envelope.parent_beacon_block_root)?;
        Ok(Self::assemble(envelope, version, &signed))
    }

    /// Signs `payload` with the sequencer `key` for `chain_id` the way op-node does
    /// (`SignAndPublishL2Payload`) and encodes it. The payload's version is not checked
    /// against a fork schedule: use [`Self::encode`] on the result's envelope for that.
    pub fn sign(
        key: &SequencerKey,
        chain_id: u64,
        payload: OpExecutionPayload,
        parent_beacon_block_root: Option<B256>,
    ) -> Result<Self, EnvelopeError> {
        let version = payload_version(&payload);
        let signed = signed_bytes(&payload, parent_beacon_block_root)?;
        let payload_hash = PayloadHash::from(signed.as_slice());
        let signature = key.sign_hash(&payload_hash.signature_message(chain_id));
        let envelope = OpNetworkPayloadEnvelope {
            payload,
            signature,
            payload_hash,
            parent_beacon_block_root,
        };
        Ok(Self::assemble(envelope, version, &signed))
    }

    fn assemble(
        envelope: OpNetworkPayloadEnvelope,
        version: PayloadVersion,
        signed: &[u8],
    ) -> Self {
        let mut raw = Vec::with_capacity(65 + signed.len());
        raw.extend_from_slice(&signature_bytes(&envelope.signature));
        raw.extend_from_slice(signed);
        Self {
            envelope,
            version,
            message: compress(&raw),
        }
    }

    /// Checks the encoded size against the gossip limit.
    pub fn check_size(&self) -> Result<(), EnvelopeError> {
        if self.message.len() > crate::MAX_GOSSIP_SIZE {
            return Err(EnvelopeError::TooLarge(self.message.len()));
        }
        Ok(())
    }
}
