//! A payload envelope of each version for tests and benchmarks (included by path from the
//! unit tests and from `benches/notification.rs`).

use alloy_primitives::{Bloom, Bytes, B256, U256};
use alloy_rpc_types_engine::{ExecutionPayloadV1, ExecutionPayloadV2, ExecutionPayloadV3};
use op_alloy_rpc_types_engine::{
    OpExecutionPayload, OpExecutionPayloadEnvelope, OpExecutionPayloadV4,
};

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

/// An envelope of payload `version` (1–4) with these transactions and extra data; the other
/// fields are fixed.
pub fn envelope(version: u8, transactions: Vec<Bytes>, extra: Bytes) -> OpExecutionPayloadEnvelope {
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
