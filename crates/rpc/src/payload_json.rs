//! Engine-API JSON of an unsafe payload envelope, written fast.
//!
//! The transactions are nearly all of a block's bytes. Serde writes each one through
//! `collect_str`: hex in small chunks through `core::fmt`, every chunk scanned for characters to
//! escape, the output growing by reallocation. For a 1000-transaction block that was a few
//! milliseconds per block per node in the lab, where every node streams every block to its
//! `opp2p_subscribeUnsafePayloads` subscriber. Here serde writes the envelope without its
//! transactions, and the transactions array is written into a buffer sized once, with the
//! SIMD hex encoder; hex digits never need escaping. The output is byte-for-byte serde's
//! (tested against it), and anything unexpected falls back to serde.

use alloy_primitives::hex;
use op_alloy_rpc_types_engine::OpExecutionPayloadEnvelope;
use serde_json::value::RawValue;

/// What serde writes for the envelope once its transactions are taken out.
const EMPTY_TRANSACTIONS: &str = "\"transactions\":[]";

/// Serializes `envelope` to JSON, identical to `serde_json::to_string(envelope)`.
pub(crate) fn envelope_to_raw_json(
    envelope: &OpExecutionPayloadEnvelope,
) -> Result<Box<RawValue>, serde_json::Error> {
    let transactions = &envelope.execution_payload.as_v1().transactions;
    if transactions.is_empty() {
        return serde_json::value::to_raw_value(envelope);
    }
    // Cloning the envelope clones the transactions' reference counts, not their bytes.
    let mut shell = envelope.clone();
    shell.execution_payload.as_v1_mut().transactions.clear();
    let head = serde_json::to_string(&shell)?;
    let Some(split) =
        single_match(&head, EMPTY_TRANSACTIONS).map(|at| at + EMPTY_TRANSACTIONS.len() - 1)
    else {
        return serde_json::value::to_raw_value(envelope);
    };

    // `"0x` + hex + `"` per transaction, and a comma between two.
    let array_len: usize = transactions.iter().map(|tx| tx.len() * 2 + 5).sum();
    let mut out = Vec::with_capacity(head.len() + array_len);
    out.extend_from_slice(&head.as_bytes()[..split]);
    for (i, tx) in transactions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"0x");
        let start = out.len();
        out.resize(start + tx.len() * 2, 0);
        if hex::encode_to_slice(tx, &mut out[start..]).is_err() {
            return serde_json::value::to_raw_value(envelope);
        }
        out.push(b'"');
    }
    out.extend_from_slice(&head.as_bytes()[split..]);
    let Ok(json) = String::from_utf8(out) else {
        return serde_json::value::to_raw_value(envelope);
    };
    RawValue::from_string(json)
}

/// The position of `needle` in `haystack` if it occurs exactly once.
fn single_match(haystack: &str, needle: &str) -> Option<usize> {
    let at = haystack.find(needle)?;
    haystack[at + 1..].find(needle).is_none().then_some(at)
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bloom, Bytes, B256, U256};
    use alloy_rpc_types_engine::{ExecutionPayloadV1, ExecutionPayloadV2, ExecutionPayloadV3};
    use op_alloy_rpc_types_engine::{OpExecutionPayload, OpExecutionPayloadV4};
    use proptest::prelude::*;

    use super::*;

    fn v1(transactions: Vec<Bytes>, extra_data: Bytes) -> ExecutionPayloadV1 {
        ExecutionPayloadV1 {
            parent_hash: B256::repeat_byte(1),
            fee_recipient: Default::default(),
            state_root: B256::repeat_byte(2),
            receipts_root: B256::repeat_byte(3),
            logs_bloom: Bloom::default(),
            prev_randao: B256::repeat_byte(4),
            block_number: 7,
            gas_limit: 30_000_000,
            gas_used: 21_000,
            timestamp: 1_700_000_000,
            extra_data,
            base_fee_per_gas: U256::from(7u64),
            block_hash: B256::repeat_byte(5),
            transactions,
        }
    }

    fn envelope(version: u8, transactions: Vec<Bytes>, extra: Bytes) -> OpExecutionPayloadEnvelope {
        let payload_inner = v1(transactions, extra);
        let v2 = ExecutionPayloadV2 {
            payload_inner,
            withdrawals: vec![],
        };
        let v3 = ExecutionPayloadV3 {
            payload_inner: v2,
            blob_gas_used: 0,
            excess_blob_gas: 0,
        };
        let (execution_payload, root) = match version {
            1 => (OpExecutionPayload::V1(v3.payload_inner.payload_inner), None),
            2 => (OpExecutionPayload::V2(v3.payload_inner), None),
            3 => (OpExecutionPayload::V3(v3), Some(B256::repeat_byte(9))),
            _ => (
                OpExecutionPayload::V4(OpExecutionPayloadV4 {
                    payload_inner: v3,
                    withdrawals_root: B256::repeat_byte(8),
                }),
                Some(B256::repeat_byte(9)),
            ),
        };
        OpExecutionPayloadEnvelope {
            execution_payload,
            parent_beacon_block_root: root,
        }
    }

    fn assert_same_as_serde(envelope: &OpExecutionPayloadEnvelope) {
        let fast = envelope_to_raw_json(envelope).expect("serializes");
        let serde = serde_json::to_string(envelope).expect("serializes");
        assert_eq!(fast.get(), serde);
    }

    #[test]
    fn every_version_matches_serde() {
        let txs = vec![
            Bytes::from_static(&[0x02, 0xab, 0xff]),
            Bytes::new(),
            Bytes::from(vec![0; 300]),
        ];
        for version in 1..=4 {
            assert_same_as_serde(&envelope(version, txs.clone(), Bytes::from_static(b"x")));
            assert_same_as_serde(&envelope(version, vec![], Bytes::new()));
        }
    }

    #[test]
    fn falls_back_to_serde_when_the_marker_is_ambiguous() {
        // Only our own test can put the marker in another field; the output must still be serde's.
        assert_eq!(single_match("ab ab", "ab"), None);
        assert_eq!(single_match("xaby", "ab"), Some(1));
        assert_eq!(single_match("xy", "ab"), None);
    }

    proptest! {
        #[test]
        fn random_blocks_match_serde(
            version in 1u8..=4,
            txs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..40),
            extra in proptest::collection::vec(any::<u8>(), 0..32),
        ) {
            let txs = txs.into_iter().map(Bytes::from).collect();
            assert_same_as_serde(&envelope(version, txs, Bytes::from(extra)));
        }
    }
}
