//! Recomputing a payload's block hash from its header fields and raw transaction bytes.

use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::B256;
use alloy_rpc_types_engine::{
    ExecutionPayloadV1, ExecutionPayloadV2, ExecutionPayloadV3, PayloadError,
};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpExecutionPayloadV4};

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
    let mut header = match header_fields(payload) {
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

/// The payload without its transactions: all the header needs once the transactions root is
/// known. Cloning the transaction list would touch every transaction's reference count (and
/// allocate a shared handle for each one on its first clone) only to drop them again.
fn header_fields(payload: &OpExecutionPayload) -> OpExecutionPayload {
    let v1 = |p: &ExecutionPayloadV1| ExecutionPayloadV1 {
        parent_hash: p.parent_hash,
        fee_recipient: p.fee_recipient,
        state_root: p.state_root,
        receipts_root: p.receipts_root,
        logs_bloom: p.logs_bloom,
        prev_randao: p.prev_randao,
        block_number: p.block_number,
        gas_limit: p.gas_limit,
        gas_used: p.gas_used,
        timestamp: p.timestamp,
        extra_data: p.extra_data.clone(),
        base_fee_per_gas: p.base_fee_per_gas,
        block_hash: p.block_hash,
        transactions: Vec::new(),
    };
    let v2 = |p: &ExecutionPayloadV2| ExecutionPayloadV2 {
        payload_inner: v1(&p.payload_inner),
        withdrawals: p.withdrawals.clone(),
    };
    let v3 = |p: &ExecutionPayloadV3| ExecutionPayloadV3 {
        payload_inner: v2(&p.payload_inner),
        blob_gas_used: p.blob_gas_used,
        excess_blob_gas: p.excess_blob_gas,
    };
    match payload {
        OpExecutionPayload::V1(p) => OpExecutionPayload::V1(v1(p)),
        OpExecutionPayload::V2(p) => OpExecutionPayload::V2(v2(p)),
        OpExecutionPayload::V3(p) => OpExecutionPayload::V3(v3(p)),
        OpExecutionPayload::V4(p) => OpExecutionPayload::V4(OpExecutionPayloadV4 {
            payload_inner: v3(&p.payload_inner),
            withdrawals_root: p.withdrawals_root,
        }),
    }
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
