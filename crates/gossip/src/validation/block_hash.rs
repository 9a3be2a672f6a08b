//! Recomputing a payload's block hash from its header fields and raw transaction bytes.

use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::B256;
use alloy_rpc_types_engine::PayloadError;
use op_alloy_rpc_types_engine::OpExecutionPayload;

use super::tx_root::transactions_root;

/// Computes the hash of the block `payload` describes (op-node `CheckBlockHash`).
///
/// The transactions root is an ordered trie over the raw EIP-2718 bytes: no transaction is
/// decoded, and the trie's leaves are hashed several at a time ([`transactions_root`]). V2/V3
/// take the withdrawals root of the (empty) list, V4 the payload's own L2 withdrawals root and
/// the empty EIP-7685 requests hash; V3/V4 include the parent beacon block root from the
/// envelope.
pub fn compute_block_hash(
    payload: &OpExecutionPayload,
    parent_beacon_block_root: Option<B256>,
) -> Result<B256, PayloadError> {
    let root = transactions_root(&payload.as_v1().transactions);
    // Cloning shares the transaction buffers (`Bytes` is reference counted).
    let mut header = match payload.clone() {
        OpExecutionPayload::V1(v1) => v1.into_block_raw_with_transactions_root(root)?.header,
        OpExecutionPayload::V2(v2) => v2.into_block_raw_with_transactions_root(root)?.header,
        OpExecutionPayload::V3(v3) => v3.into_block_raw_with_transactions_root(root)?.header,
        OpExecutionPayload::V4(v4) => {
            // As op-alloy's `OpExecutionPayloadV4::into_block_raw`: the V3 block with the L2
            // withdrawals root in place of the L1 one.
            let mut header = v4
                .payload_inner
                .into_block_raw_with_transactions_root(root)?
                .header;
            header.withdrawals_root = Some(v4.withdrawals_root);
            header.requests_hash = Some(EMPTY_REQUESTS_HASH);
            header
        }
    };
    header.parent_beacon_block_root = parent_beacon_block_root;
    Ok(header.hash_slow())
}

#[cfg(test)]
mod tests {
    use alloy_primitives::keccak256;
    use opmesh_primitives::ChainConfig;

    use super::*;
    use crate::{
        builder::{BlockSpec, PayloadBuilder},
        validation::SequencerKey,
        PayloadVersion,
    };

    /// The hash alloy computes with its own transactions root, as before the lanes.
    fn alloy_block_hash(payload: &OpExecutionPayload, root: Option<B256>) -> B256 {
        let is_v4 = matches!(payload, OpExecutionPayload::V4(_));
        let mut header = payload.clone().into_block_raw().expect("hashable").header;
        header.parent_beacon_block_root = root;
        if is_v4 {
            header.requests_hash = Some(EMPTY_REQUESTS_HASH);
        }
        header.hash_slow()
    }

    #[test]
    fn equals_alloys_block_hash_for_every_version() {
        let key = SequencerKey::from_bytes(&keccak256(b"block hash").0).expect("key");
        let builder = PayloadBuilder::new(ChainConfig::new(901), key);
        for version in [
            PayloadVersion::V1,
            PayloadVersion::V2,
            PayloadVersion::V3,
            PayloadVersion::V4,
        ] {
            for transactions in [0, 3, 40, 300] {
                let spec = BlockSpec::new(5, 1_700_000_000, transactions);
                let (payload, root) = builder.payload(version, &spec);
                let hash = compute_block_hash(&payload, root).expect("hashable");
                assert_eq!(hash, alloy_block_hash(&payload, root), "{version:?}");
            }
        }
    }
}
