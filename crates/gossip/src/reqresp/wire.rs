//! The `payload_by_number` wire format (op-node `op-node/p2p/sync.go`).
//!
//! ```text
//! request:  block_number: u64 LE                 (8 bytes, then the asker closes its side)
//! response: result: u8                           (0 success, 1 not found, 2 invalid, 3 unknown)
//!           on success only:
//!           version: u32 LE                      (0 = ExecutionPayload, 1 = Ecotone envelope)
//!           framed snappy stream of the payload  (v0: SSZ(payload); v1: parent_beacon_root ‖ SSZ(payload))
//! ```
//!
//! Everything read or written is limited to [`MAX_RESPONSE_SIZE`] (10 MiB), compressed and
//! decompressed, like op-node's `io.LimitReader`s.

use std::{
    io::{self, Read, Write},
    sync::Arc,
};

use alloy_primitives::B256;
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpNetworkPayloadEnvelope};

use crate::envelope::{payload_version, signed_bytes, EnvelopeError};

/// Largest response, compressed or decompressed: 10 MiB (op-node `maxGossipSize`).
pub const MAX_RESPONSE_SIZE: usize = crate::MAX_GOSSIP_SIZE;

/// Length of a well-formed request: one little-endian `u64`.
pub const REQUEST_LEN: usize = 8;

/// Response version 0: the SSZ `ExecutionPayload` (Bedrock through Delta, v1/v2 payloads).
pub const VERSION_PAYLOAD: u32 = 0;

/// Response version 1: the Ecotone envelope, the 32-byte parent beacon block root followed by
/// the SSZ payload (v3 and Isthmus v4 payloads; op-node `ExecutionPayloadEnvelope.MarshalSSZ`).
pub const VERSION_ENVELOPE: u32 = 1;

/// The result byte that opens every response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 0: the payload follows.
    Success,
    /// 1: no payload at that number (op-node `ResultCodeNotFoundErr`).
    NotFound,
    /// 2: the request was malformed (op-node `ResultCodeInvalidErr`).
    InvalidRequest,
    /// 3: anything else, including "over the rate limit for too long" (op-node
    /// `ResultCodeUnknownErr`).
    Unknown,
    /// A code this implementation does not know (4..=255; 128 and above are reserved).
    Other(u8),
}

impl ResultCode {
    /// The byte on the wire.
    pub const fn as_byte(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::NotFound => 1,
            Self::InvalidRequest => 2,
            Self::Unknown => 3,
            Self::Other(b) => b,
        }
    }

    /// The code a byte stands for.
    pub const fn from_byte(byte: u8) -> Self {
        match byte {
            0 => Self::Success,
            1 => Self::NotFound,
            2 => Self::InvalidRequest,
            3 => Self::Unknown,
            b => Self::Other(b),
        }
    }
}

/// A request as read off the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadRequest {
    /// Exactly eight bytes: the block number asked for.
    Number(u64),
    /// Anything else: fewer or more than eight bytes (at most nine are kept). Answered with
    /// [`ResultCode::InvalidRequest`].
    Malformed(Vec<u8>),
}

impl PayloadRequest {
    /// Parses the whole request body.
    pub fn parse(bytes: &[u8]) -> Self {
        match <[u8; REQUEST_LEN]>::try_from(bytes) {
            Ok(number) => Self::Number(u64::from_le_bytes(number)),
            Err(_) => Self::Malformed(bytes.iter().copied().take(REQUEST_LEN + 1).collect()),
        }
    }

    /// The bytes a client sends for this request.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Number(n) => n.to_le_bytes().to_vec(),
            Self::Malformed(bytes) => bytes.clone(),
        }
    }

    /// The block number, for a well-formed request.
    pub const fn number(&self) -> Option<u64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Malformed(_) => None,
        }
    }
}

/// A payload as served: its response version and the bytes that get snappy-framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedPayload {
    /// [`VERSION_PAYLOAD`] or [`VERSION_ENVELOPE`].
    pub version: u32,
    /// Version 0: `SSZ(payload)`; version 1: `parent_beacon_block_root ‖ SSZ(payload)`.
    pub data: Vec<u8>,
}

impl ServedPayload {
    /// Encodes a payload: v1/v2 payloads as version 0, v3/v4 payloads (which carry a parent
    /// beacon block root) as version 1. These are exactly the bytes after the signature in
    /// the gossip message.
    pub fn from_payload(
        payload: &OpExecutionPayload,
        parent_beacon_block_root: Option<B256>,
    ) -> Result<Self, EnvelopeError> {
        let version = if payload_version(payload).has_parent_beacon_root() {
            VERSION_ENVELOPE
        } else {
            VERSION_PAYLOAD
        };
        let data = signed_bytes(payload, parent_beacon_block_root)?;
        Ok(Self { version, data })
    }

    /// Encodes the payload of a signed gossip envelope (the signature is not served).
    pub fn from_envelope(envelope: &OpNetworkPayloadEnvelope) -> Result<Self, EnvelopeError> {
        Self::from_payload(&envelope.payload, envelope.parent_beacon_block_root)
    }
}

/// A response, before encoding (server) or after decoding (client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadResponse {
    /// Result 0 and the payload.
    Payload(Arc<ServedPayload>),
    /// Any other result; nothing follows the result byte.
    Error(ResultCode),
}

impl PayloadResponse {
    /// The result code sent first.
    pub fn result_code(&self) -> ResultCode {
        match self {
            Self::Payload(_) => ResultCode::Success,
            Self::Error(code) => *code,
        }
    }
}

/// Why a response could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The response, or the payload inside it, exceeds 10 MiB.
    #[error("{0} bytes exceed the {MAX_RESPONSE_SIZE}-byte limit")]
    TooLarge(usize),
    /// Not even a result byte.
    #[error("empty response")]
    Empty,
    /// A success result without the four version bytes.
    #[error("success response without a version")]
    MissingVersion,
    /// The snappy frames are corrupt.
    #[error("corrupt snappy frames: {0}")]
    Snappy(String),
}

impl From<CodecError> for io::Error {
    fn from(e: CodecError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// The full response bytes.
pub fn encode_response(response: &PayloadResponse) -> Result<Vec<u8>, CodecError> {
    let payload = match response {
        PayloadResponse::Error(code) => return Ok(vec![code.as_byte()]),
        PayloadResponse::Payload(payload) => payload,
    };
    if payload.data.len() > MAX_RESPONSE_SIZE {
        return Err(CodecError::TooLarge(payload.data.len()));
    }
    let mut out = Vec::with_capacity(5 + payload.data.len() / 2);
    out.push(ResultCode::Success.as_byte());
    out.extend_from_slice(&payload.version.to_le_bytes());
    let mut encoder = snap::write::FrameEncoder::new(out);
    encoder
        .write_all(&payload.data)
        .map_err(|e| CodecError::Snappy(e.to_string()))?;
    let out = encoder
        .into_inner()
        .map_err(|e| CodecError::Snappy(e.error().to_string()))?;
    if out.len() > MAX_RESPONSE_SIZE {
        return Err(CodecError::TooLarge(out.len()));
    }
    Ok(out)
}

/// Decodes the full response bytes, bounding the decompressed payload to 10 MiB. Bytes after
/// a non-zero result are ignored (kona's shim sends a stray `00` after its `01`).
pub fn decode_response(bytes: &[u8]) -> Result<PayloadResponse, CodecError> {
    if bytes.len() > MAX_RESPONSE_SIZE {
        return Err(CodecError::TooLarge(bytes.len()));
    }
    let (&result, rest) = bytes.split_first().ok_or(CodecError::Empty)?;
    let code = ResultCode::from_byte(result);
    if code != ResultCode::Success {
        return Ok(PayloadResponse::Error(code));
    }
    let (version, framed) = rest
        .split_first_chunk::<4>()
        .ok_or(CodecError::MissingVersion)?;
    let mut data = Vec::new();
    snap::read::FrameDecoder::new(framed)
        .take(MAX_RESPONSE_SIZE as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| CodecError::Snappy(e.to_string()))?;
    if data.len() > MAX_RESPONSE_SIZE {
        return Err(CodecError::TooLarge(data.len()));
    }
    Ok(PayloadResponse::Payload(Arc::new(ServedPayload {
        version: u32::from_le_bytes(*version),
        data,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{builder::BlockSpec, PayloadVersion};
    use alloy_primitives::keccak256;
    use opmesh_primitives::ChainConfig;
    use ssz::Decode;

    fn builder() -> crate::builder::PayloadBuilder {
        let key = crate::validation::SequencerKey::from_bytes(&keccak256(b"codec test").0).unwrap();
        crate::builder::PayloadBuilder::new(ChainConfig::new(10), key)
    }

    #[test]
    fn error_responses_are_one_byte() {
        for (code, byte) in [
            (ResultCode::NotFound, 1u8),
            (ResultCode::InvalidRequest, 2),
            (ResultCode::Unknown, 3),
        ] {
            let bytes = encode_response(&PayloadResponse::Error(code)).unwrap();
            assert_eq!(bytes, vec![byte]);
            assert_eq!(
                decode_response(&bytes).unwrap(),
                PayloadResponse::Error(code)
            );
            assert_eq!(ResultCode::from_byte(byte), code);
        }
        assert_eq!(ResultCode::from_byte(200), ResultCode::Other(200));
        // kona's shim answers `01 00`.
        assert_eq!(
            decode_response(&[1, 0]).unwrap(),
            PayloadResponse::Error(ResultCode::NotFound)
        );
        assert_eq!(decode_response(&[]), Err(CodecError::Empty));
        assert_eq!(decode_response(&[0, 1]), Err(CodecError::MissingVersion));
    }

    #[test]
    fn success_carries_version_and_framed_snappy_ssz() {
        let builder = builder();
        for version in PayloadVersion::ALL {
            let block = builder.block_of_version(version, &BlockSpec::new(7, 1_700_000_000, 5));
            let served = ServedPayload::from_envelope(&block.envelope).unwrap();
            let expected_version = if version.has_parent_beacon_root() {
                1
            } else {
                0
            };
            assert_eq!(served.version, expected_version, "{version}");
            // The served bytes are the gossip message minus the signature.
            let raw = crate::encoding::decompress(&block.message).unwrap();
            assert_eq!(served.data, raw[65..], "{version}");

            let bytes =
                encode_response(&PayloadResponse::Payload(Arc::new(served.clone()))).unwrap();
            assert_eq!(bytes[0], 0);
            assert_eq!(bytes[1..5], expected_version.to_le_bytes());
            // A snappy framed stream starts with the stream identifier chunk.
            assert_eq!(&bytes[5..15], b"\xff\x06\x00\x00sNaPpY");
            let mut ssz = Vec::new();
            snap::read::FrameDecoder::new(&bytes[5..])
                .read_to_end(&mut ssz)
                .unwrap();
            assert_eq!(ssz, served.data);
            assert_eq!(
                decode_response(&bytes).unwrap(),
                PayloadResponse::Payload(Arc::new(served))
            );
        }
    }

    #[test]
    fn the_envelope_is_the_root_then_the_payload() {
        let builder = builder();
        let (payload, root) = builder.payload(PayloadVersion::V4, &BlockSpec::new(9, 1, 2));
        let served = ServedPayload::from_payload(&payload, root).unwrap();
        let root = root.unwrap();
        assert_eq!(served.data[..32], root[..]);
        let decoded =
            op_alloy_rpc_types_engine::OpExecutionPayloadV4::from_ssz_bytes(&served.data[32..])
                .unwrap();
        assert_eq!(
            decoded
                .payload_inner
                .payload_inner
                .payload_inner
                .block_number,
            9
        );
        assert!(matches!(
            ServedPayload::from_payload(&payload, None),
            Err(EnvelopeError::ParentBeaconRoot(..))
        ));
    }

    #[test]
    fn oversized_payloads_are_not_encoded() {
        let huge = PayloadResponse::Payload(Arc::new(ServedPayload {
            version: 0,
            data: vec![0; MAX_RESPONSE_SIZE + 1],
        }));
        assert_eq!(
            encode_response(&huge),
            Err(CodecError::TooLarge(MAX_RESPONSE_SIZE + 1))
        );
    }

    #[test]
    fn decoding_bounds_the_decompressed_size() {
        // 11 MiB of zeros compress to far below 10 MiB but decompress above it.
        let mut encoder = snap::write::FrameEncoder::new(vec![0, 0, 0, 0, 0]);
        encoder.write_all(&vec![0u8; 11 << 20]).unwrap();
        let bytes = encoder.into_inner().unwrap();
        assert!(bytes.len() < MAX_RESPONSE_SIZE);
        assert_eq!(
            decode_response(&bytes),
            Err(CodecError::TooLarge(MAX_RESPONSE_SIZE + 1))
        );
        assert!(matches!(
            decode_response(&[0, 0, 0, 0, 0, 1, 2, 3]),
            Err(CodecError::Snappy(_))
        ));
    }
}
