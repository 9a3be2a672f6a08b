//! Recomputing a payload's block hash from its header fields and raw transaction bytes.

use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::B256;
use alloy_rpc_types_engine::PayloadError;
use op_alloy_rpc_types_engine::OpExecutionPayload;

/// Computes the hash of the block `payload` describes (op-node `CheckBlockHash`).
///
/// The transactions root is an ordered trie over the raw EIP-2718 bytes: no transaction is
/// decoded. V2/V3 take the withdrawals root of the (empty) list, V4 the payload's own L2
/// withdrawals root and the empty EIP-7685 requests hash; V3/V4 include the parent beacon
/// block root from the envelope.
pub fn compute_block_hash(
    payload: &OpExecutionPayload,
    parent_beacon_block_root: Option<B256>,
) -> Result<B256, PayloadError> {
    let is_v4 = matches!(payload, OpExecutionPayload::V4(_));
    // Cloning shares the transaction buffers (`Bytes` is reference counted).
    let mut header = payload.clone().into_block_raw()?.header;
    header.parent_beacon_block_root = parent_beacon_block_root;
    if is_v4 {
        header.requests_hash = Some(EMPTY_REQUESTS_HASH);
    }
    Ok(header.hash_slow())
}
