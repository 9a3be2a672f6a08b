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
    use alloy_primitives::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::test_envelope::envelope;

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
