//! Valid and invalid block messages on demand, for tests, benchmarks and the devnet's block
//! producer.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, TxKind, B256, U256};
use alloy_rpc_types_engine::{ExecutionPayloadV1, ExecutionPayloadV2, ExecutionPayloadV3};
use op_alloy_rpc_types_engine::{OpExecutionPayload, OpExecutionPayloadV4};
use opmesh_primitives::ChainConfig;

use crate::{
    encoding::compress,
    envelope::{EncodedBlock, EnvelopeError},
    validation::{compute_block_hash, Reason, SequencerKey},
    PayloadVersion,
};

/// Bytes of calldata per synthetic transaction: with the EIP-1559 envelope and signature a
/// transaction is about 270 bytes, the size the performance notes measured.
pub const DEFAULT_TX_INPUT_LEN: usize = 160;

/// What block to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpec {
    /// Block number.
    pub number: u64,
    /// Block timestamp (unix seconds).
    pub timestamp: u64,
    /// Parent hash.
    pub parent_hash: B256,
    /// Number of transactions.
    pub transactions: usize,
    /// Calldata bytes per transaction.
    pub tx_input_len: usize,
}

impl BlockSpec {
    /// Block `number` at `timestamp` with `transactions` transactions of realistic size.
    pub fn new(number: u64, timestamp: u64, transactions: usize) -> Self {
        Self {
            number,
            timestamp,
            parent_hash: keccak256(number.saturating_sub(1).to_be_bytes()),
            transactions,
            tx_input_len: DEFAULT_TX_INPUT_LEN,
        }
    }
}

/// Makes signed execution payloads with correct block hashes.
#[derive(Debug, Clone)]
pub struct PayloadBuilder {
    chain: ChainConfig,
    key: SequencerKey,
}

impl PayloadBuilder {
    /// A builder for `chain` signing with `key`.
    pub fn new(chain: ChainConfig, key: SequencerKey) -> Self {
        Self { chain, key }
    }

    /// The signing key.
    pub const fn key(&self) -> &SequencerKey {
        &self.key
    }

    /// The chain.
    pub const fn chain(&self) -> &ChainConfig {
        &self.chain
    }

    /// A valid signed block of the version the fork schedule gives at `spec.timestamp`.
    pub fn block(&self, spec: &BlockSpec) -> EncodedBlock {
        let version = PayloadVersion::for_timestamp(&self.chain.forks, spec.timestamp);
        self.block_of_version(version, spec)
    }

    /// A valid signed block of `version`.
    pub fn block_of_version(&self, version: PayloadVersion, spec: &BlockSpec) -> EncodedBlock {
        let (payload, root) = self.payload(version, spec);
        self.seal_and_sign(payload, root, &self.key)
    }

    /// An unsigned payload of `version` with a correct block hash, and the parent beacon
    /// block root that goes with it (v3/v4).
    pub fn payload(
        &self,
        version: PayloadVersion,
        spec: &BlockSpec,
    ) -> (OpExecutionPayload, Option<B256>) {
        let transactions = self.transactions(spec);
        let v1 = ExecutionPayloadV1 {
            parent_hash: spec.parent_hash,
            fee_recipient: Address::repeat_byte(0x42),
            state_root: keccak256([b"state".as_slice(), &spec.number.to_le_bytes()].concat()),
            receipts_root: keccak256(b"receipts"),
            logs_bloom: Bloom::ZERO,
            prev_randao: keccak256(spec.number.to_le_bytes()),
            block_number: spec.number,
            gas_limit: 30_000_000,
            gas_used: 21_000 * spec.transactions as u64,
            timestamp: spec.timestamp,
            extra_data: Bytes::new(),
            base_fee_per_gas: U256::from(1_000_000u64),
            block_hash: B256::ZERO,
            transactions,
        };
        let v2 = || ExecutionPayloadV2 {
            payload_inner: v1.clone(),
            withdrawals: Vec::new(),
        };
        let v3 = || ExecutionPayloadV3 {
            payload_inner: v2(),
            blob_gas_used: 0,
            excess_blob_gas: 0,
        };
        let root = keccak256(spec.timestamp.to_be_bytes());
        let mut payload = match version {
            PayloadVersion::V1 => (OpExecutionPayload::V1(v1.clone()), None),
            PayloadVersion::V2 => (OpExecutionPayload::V2(v2()), None),
            PayloadVersion::V3 => (OpExecutionPayload::V3(v3()), Some(root)),
            PayloadVersion::V4 => (
                OpExecutionPayload::V4(OpExecutionPayloadV4 {
                    payload_inner: v3(),
                    withdrawals_root: keccak256(b"l2 withdrawals"),
                }),
                Some(root),
            ),
        };
        seal(&mut payload.0, payload.1);
        payload
    }

    /// Sets the correct block hash on `payload` and signs it with `key`.
    pub fn seal_and_sign(
        &self,
        mut payload: OpExecutionPayload,
        root: Option<B256>,
        key: &SequencerKey,
    ) -> EncodedBlock {
        seal(&mut payload, root);
        self.sign(payload, root, key)
    }

    /// Signs `payload` as it is (its block hash is not touched).
    pub fn sign(
        &self,
        payload: OpExecutionPayload,
        root: Option<B256>,
        key: &SequencerKey,
    ) -> EncodedBlock {
        match EncodedBlock::sign(key, self.chain.chain_id, payload, root) {
            Ok(block) => block,
            // The builder always pairs v3/v4 with a root and v1/v2 without one.
            Err(EnvelopeError::ParentBeaconRoot(..)) | Err(_) => {
                unreachable!("builder payloads always carry the right parent beacon root")
            }
        }
    }

    /// Signed EIP-1559 transactions with pseudo-random calldata (so snappy cannot shrink them
    /// much, as with real traffic).
    fn transactions(&self, spec: &BlockSpec) -> Vec<Bytes> {
        (0..spec.transactions)
            .map(|i| {
                let seed =
                    keccak256([spec.number.to_le_bytes(), (i as u64).to_le_bytes()].concat());
                let mut input = Vec::with_capacity(spec.tx_input_len + 32);
                let mut block = seed;
                while input.len() < spec.tx_input_len {
                    block = keccak256(block);
                    input.extend_from_slice(block.as_slice());
                }
                input.truncate(spec.tx_input_len);
                let tx = TxEip1559 {
                    chain_id: self.chain.chain_id,
                    nonce: spec.number * 10_000 + i as u64,
                    gas_limit: 21_000 + 16 * spec.tx_input_len as u64,
                    max_fee_per_gas: 2_000_000,
                    max_priority_fee_per_gas: 1_000,
                    to: TxKind::Call(Address::from_slice(&seed[..20])),
                    value: U256::from(i),
                    access_list: Default::default(),
                    input: input.into(),
                };
                let signature = self.key.sign_hash(&tx.signature_hash());
                TxEnvelope::from(tx.into_signed(signature))
                    .encoded_2718()
                    .into()
            })
            .collect()
    }
}

/// Writes the correct block hash into `payload`.
pub fn seal(payload: &mut OpExecutionPayload, root: Option<B256>) {
    // Builder payloads have small extra data and a u64 base fee, so hashing cannot fail; a
    // caller-tampered payload that cannot be hashed keeps its old hash.
    if let Ok(hash) = compute_block_hash(payload, root) {
        payload.as_v1_mut().block_hash = hash;
    }
}

/// The kinds of invalid message the builder can make, each with the reason a validator
/// must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidKind {
    /// Bytes that are not snappy.
    BadSnappy,
    /// A snappy header declaring 4 GiB.
    SnappyBomb,
    /// Valid snappy of 64 bytes.
    TooShort,
    /// A signature with `r = 0`.
    BadSignature,
    /// Signed by a key other than the builder's.
    WrongSigner,
    /// A truncated SSZ payload, properly signed.
    BadSsz,
    /// A timestamp 61 s before the spec's.
    TooOld,
    /// A timestamp 6 s after the spec's.
    TooNew,
    /// A block hash that does not match.
    BlockHashMismatch,
    /// A v2+ payload with one withdrawal.
    WithdrawalsNotEmpty,
    /// A v3+ payload with `excessBlobGas` 1.
    ExcessBlobGas,
    /// A v3+ payload with `blobGasUsed` 1 (invalid before Jovian).
    BlobGasUsed,
}

impl InvalidKind {
    /// Every kind.
    pub const ALL: [Self; 12] = [
        Self::BadSnappy,
        Self::SnappyBomb,
        Self::TooShort,
        Self::BadSignature,
        Self::WrongSigner,
        Self::BadSsz,
        Self::TooOld,
        Self::TooNew,
        Self::BlockHashMismatch,
        Self::WithdrawalsNotEmpty,
        Self::ExcessBlobGas,
        Self::BlobGasUsed,
    ];

    /// The reason a validator gives for this kind (with the builder's key as signer and the
    /// validator's clock at `spec.timestamp`).
    pub const fn expected_reason(self) -> Reason {
        match self {
            Self::BadSnappy => Reason::BadSnappy,
            Self::SnappyBomb => Reason::Oversized,
            Self::TooShort => Reason::TooShort,
            Self::BadSignature => Reason::BadSignature,
            Self::WrongSigner => Reason::WrongSigner,
            Self::BadSsz => Reason::BadSsz,
            Self::TooOld => Reason::TooOld,
            Self::TooNew => Reason::TooNew,
            Self::BlockHashMismatch => Reason::BlockHashMismatch,
            Self::WithdrawalsNotEmpty => Reason::WithdrawalsNotEmpty,
            Self::ExcessBlobGas => Reason::ExcessBlobGasNonZero,
            Self::BlobGasUsed => Reason::BlobGasUsedNonZero,
        }
    }

    /// Whether this kind can be made for `version` (withdrawal and blob rules need v2/v3+).
    pub const fn applies_to(self, version: PayloadVersion) -> bool {
        match self {
            Self::WithdrawalsNotEmpty => !matches!(version, PayloadVersion::V1),
            Self::ExcessBlobGas | Self::BlobGasUsed => version.has_parent_beacon_root(),
            _ => true,
        }
    }
}

impl PayloadBuilder {
    /// The wire bytes of an invalid message of `kind`, for `version` and `spec`.
    pub fn invalid(&self, kind: InvalidKind, version: PayloadVersion, spec: &BlockSpec) -> Vec<u8> {
        match kind {
            InvalidKind::BadSnappy => vec![0xff; 100],
            InvalidKind::SnappyBomb => vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x00],
            InvalidKind::TooShort => compress(&[7u8; 64]),
            InvalidKind::BadSignature => {
                let block = self.block_of_version(version, spec);
                let mut raw = crate::encoding::decompress(&block.message).unwrap_or_default();
                raw[..32].fill(0);
                compress(&raw)
            }
            InvalidKind::WrongSigner => {
                let other = SequencerKey::from_bytes(&keccak256(b"not the sequencer").0)
                    .unwrap_or_else(|_| self.key.clone());
                let (payload, root) = self.payload(version, spec);
                self.sign(payload, root, &other).message
            }
            InvalidKind::BadSsz => {
                let (payload, root) = self.payload(version, spec);
                let mut signed = crate::envelope::signed_bytes(&payload, root).unwrap_or_default();
                signed.truncate(signed.len() / 2);
                let signature = self.key.sign(self.chain.chain_id, &signed);
                let mut raw = crate::validation::signature_bytes(&signature).to_vec();
                raw.extend_from_slice(&signed);
                compress(&raw)
            }
            InvalidKind::TooOld | InvalidKind::TooNew => {
                let mut spec = *spec;
                spec.timestamp = if kind == InvalidKind::TooOld {
                    spec.timestamp - 61
                } else {
                    spec.timestamp + 6
                };
                self.block_of_version(version, &spec).message
            }
            InvalidKind::BlockHashMismatch => {
                let (mut payload, root) = self.payload(version, spec);
                payload.as_v1_mut().block_hash = keccak256(b"wrong");
                self.sign(payload, root, &self.key).message
            }
            InvalidKind::WithdrawalsNotEmpty
            | InvalidKind::ExcessBlobGas
            | InvalidKind::BlobGasUsed => {
                let (mut payload, root) = self.payload(version, spec);
                if kind == InvalidKind::WithdrawalsNotEmpty {
                    if let Some(v2) = payload.as_v2_mut() {
                        v2.withdrawals.push(Withdrawal {
                            index: 1,
                            validator_index: 2,
                            address: Address::repeat_byte(3),
                            amount: 4,
                        });
                    }
                } else if let Some(v3) = payload.as_v3_mut() {
                    if kind == InvalidKind::ExcessBlobGas {
                        v3.excess_blob_gas = 1;
                    } else {
                        v3.blob_gas_used = 1;
                    }
                }
                self.seal_and_sign(payload, root, &self.key).message
            }
        }
    }
}
