//! One read of the unsafe-block signer from L1: the `SystemConfig` storage slot at the latest
//! L1 block, pinned by hash (by number, the hash re-checked after, where the endpoint takes no
//! block hashes) and, where the endpoint serves `eth_getProof`, verified against
//! that block's state root.

use std::time::Duration;

use alloy_primitives::{b256, keccak256, Address, B256, U256};
use alloy_provider::transport::TransportError;
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag, EIP1186AccountProofResponse};
use alloy_trie::{proof::verify_proof, Nibbles, TrieAccount, EMPTY_ROOT_HASH, KECCAK_EMPTY};
use opmesh_metrics::L1ReadResult;
use std::future::IntoFuture;
use tracing::warn;

/// The storage slot of `SystemConfig` that holds the unsafe-block signer: op-node's
/// `UnsafeBlockSignerAddressSystemConfigStorageSlot`, which is
/// `keccak256("systemconfig.unsafeblocksigner")` itself (kona's comment says "- 1", but its
/// constant is this same value).
pub const UNSAFE_BLOCK_SIGNER_SLOT: B256 =
    b256!("0x65a7ed542fb37fe237fdfbdd70b31598523fe5b32879e307bae27a0bd9581c08");

/// How long one L1 request may take.
pub const L1_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A successful read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerRead {
    /// The signer in the slot.
    pub signer: Address,
    /// The L1 block read at.
    pub block_number: u64,
    /// Its hash (the read is pinned to it).
    pub block_hash: B256,
    /// Whether the value was verified with `eth_getProof` against the block's state root.
    pub proven: bool,
}

/// Why a read failed. The last known signer stays in force whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum L1ReadError {
    /// The endpoint could not be reached or did not answer in time.
    #[error("L1 endpoint unreachable: {0}")]
    Unreachable(String),
    /// The endpoint answered something unusable.
    #[error("unusable answer from L1: {0}")]
    BadResponse(String),
    /// The proof did not verify.
    #[error(
        "eth_getProof answer does not verify against the state root of L1 block {block}: {reason}"
    )]
    BadProof {
        /// The L1 block number.
        block: u64,
        /// What did not verify.
        reason: String,
    },
    /// The slot is empty at that block.
    #[error("SystemConfig {system_config} holds no unsafe-block signer at L1 block {block}: wrong --l1 endpoint or wrong l1_system_config_address?")]
    NoSigner {
        /// The contract read.
        system_config: Address,
        /// The L1 block number.
        block: u64,
    },
    /// The endpoint serves another chain.
    #[error("L1 endpoint serves chain {got}, the rollup's L1 is chain {expected}")]
    WrongChain {
        /// The rollup's L1 chain id.
        expected: u64,
        /// What the endpoint said.
        got: u64,
    },
}

impl L1ReadError {
    /// The metric label of this failure.
    pub const fn result(&self) -> L1ReadResult {
        match self {
            Self::Unreachable(_) => L1ReadResult::Unreachable,
            Self::BadResponse(_) => L1ReadResult::BadResponse,
            Self::BadProof { .. } => L1ReadResult::BadProof,
            Self::NoSigner { .. } => L1ReadResult::NoSigner,
            Self::WrongChain { .. } => L1ReadResult::WrongChain,
        }
    }
}

/// Whether the endpoint serves `eth_getProof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofSupport {
    /// Not tried yet.
    Unknown,
    /// It does: every read is verified.
    Yes,
    /// It does not: reads use `eth_getStorageAt`.
    No,
}

/// Reads the signer slot of one `SystemConfig` through an alloy provider (HTTP or WebSocket).
#[derive(Debug, Clone)]
pub struct L1Reader {
    provider: DynProvider,
    system_config: Address,
    expected_chain_id: Option<u64>,
    chain_checked: bool,
    proofs: ProofSupport,
    pinning: Pinning,
}

impl L1Reader {
    /// Connects to `url` (`http(s)://` or `ws(s)://`).
    pub async fn connect(
        url: &str,
        system_config: Address,
        expected_chain_id: Option<u64>,
    ) -> Result<Self, L1ReadError> {
        let provider = tokio::time::timeout(
            L1_REQUEST_TIMEOUT,
            ProviderBuilder::new()
                .disable_recommended_fillers()
                .connect(url),
        )
        .await
        .map_err(|_| L1ReadError::Unreachable("connect timed out".into()))?
        .map_err(|e| L1ReadError::Unreachable(e.to_string()))?;
        Ok(Self {
            provider: provider.erased(),
            system_config,
            expected_chain_id,
            chain_checked: false,
            proofs: ProofSupport::Unknown,
            pinning: Pinning::Unknown,
        })
    }

    /// Whether the endpoint serves `eth_getProof`, as far as known.
    pub const fn proof_support(&self) -> ProofSupport {
        self.proofs
    }

    /// The underlying provider.
    pub const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Reads the signer at the latest L1 block.
    pub async fn read(&mut self) -> Result<SignerRead, L1ReadError> {
        if !self.chain_checked {
            if let Some(expected) = self.expected_chain_id {
                let got = timed(self.provider.get_chain_id()).await?;
                if got != expected {
                    return Err(L1ReadError::WrongChain { expected, got });
                }
            }
            self.chain_checked = true;
        }
        let block = timed(self.provider.get_block_by_number(BlockNumberOrTag::Latest))
            .await?
            .ok_or_else(|| L1ReadError::BadResponse("no latest block".into()))?;
        let header = &block.header;
        let (number, hash, state_root) = (header.number, header.hash, header.state_root);

        let mut value = None;
        if self.proofs != ProofSupport::No {
            match self.pinned(number, hash, Query::Proof).await? {
                Ok(Answer::Proof(response)) => {
                    self.proofs = ProofSupport::Yes;
                    let slot = verify_signer_proof(&response, state_root, self.system_config)
                        .map_err(|reason| L1ReadError::BadProof {
                            block: number,
                            reason,
                        })?;
                    value = Some((slot, true));
                }
                Err(e) if e.as_error_resp().is_some() && self.proofs == ProofSupport::Unknown => {
                    // An error *answer* (not a transport failure) the first time: the endpoint
                    // does not serve eth_getProof. Say it once, read unproven from now on.
                    warn!(
                        error = %e,
                        "the L1 endpoint does not serve eth_getProof; the unsafe-block signer is read with eth_getStorageAt, unverified"
                    );
                    self.proofs = ProofSupport::No;
                }
                Ok(Answer::Storage(_)) => {
                    return Err(L1ReadError::BadResponse("unexpected answer".into()))
                }
                Err(e) => return Err(rpc_error(e)),
            }
        }
        let (value, proven) = match value {
            Some(v) => v,
            None => match self.pinned(number, hash, Query::Storage).await? {
                Ok(Answer::Storage(slot)) => (slot, false),
                Ok(Answer::Proof(_)) => {
                    return Err(L1ReadError::BadResponse("unexpected answer".into()))
                }
                Err(e) => return Err(rpc_error(e)),
            },
        };
        if self.pinning == Pinning::ByNumber {
            // Read by number: make sure the block is still the one whose hash (and state root)
            // was taken, or an L1 reorg slipped in between.
            let again = timed(self.provider.get_block_by_number(number.into()))
                .await?
                .map(|b| b.header.hash);
            if again != Some(hash) {
                return Err(L1ReadError::BadResponse(format!(
                    "L1 block {number} changed during the read (reorg); read again later"
                )));
            }
        }
        let signer = signer_from_slot(value).ok_or_else(|| {
            L1ReadError::BadResponse(format!(
                "slot value {value:#x} at L1 block {number} is not an address"
            ))
        })?;
        if signer.is_zero() {
            return Err(L1ReadError::NoSigner {
                system_config: self.system_config,
                block: number,
            });
        }
        Ok(SignerRead {
            signer,
            block_number: number,
            block_hash: hash,
            proven,
        })
    }

    /// Runs `query` at block `number` / `hash`: by hash (EIP-1898) where the endpoint takes it,
    /// else by number (ganache 7 takes only numbers and tags; the caller then re-checks the
    /// hash). The outer error is a timeout, the inner one the endpoint's answer.
    async fn pinned(
        &mut self,
        number: u64,
        hash: B256,
        query: Query,
    ) -> Result<Result<Answer, TransportError>, L1ReadError> {
        if self.pinning != Pinning::ByNumber {
            let answer = self.query(BlockId::hash(hash), query).await?;
            match answer {
                Err(e) if e.as_error_resp().is_some() && self.pinning == Pinning::Unknown => {
                    // Maybe the block hash is what the endpoint refuses: try the number.
                    let by_number = self.query(BlockId::number(number), query).await?;
                    if by_number.is_ok() {
                        warn!(
                            error = %e,
                            "the L1 endpoint does not take block hashes as block parameters (EIP-1898); signer reads are pinned by block number and the block hash checked after"
                        );
                        self.pinning = Pinning::ByNumber;
                        return Ok(by_number);
                    }
                    // Both fail: keep the first answer; the method itself is refused.
                    return Ok(Err(e));
                }
                Ok(answer) => {
                    self.pinning = Pinning::ByHash;
                    return Ok(Ok(answer));
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        self.query(BlockId::number(number), query).await
    }

    async fn query(
        &self,
        at: BlockId,
        query: Query,
    ) -> Result<Result<Answer, TransportError>, L1ReadError> {
        let answer = match query {
            Query::Proof => tokio::time::timeout(
                L1_REQUEST_TIMEOUT,
                self.provider
                    .get_proof(self.system_config, vec![UNSAFE_BLOCK_SIGNER_SLOT])
                    .block_id(at)
                    .into_future(),
            )
            .await
            .map(|r| r.map(|p| Answer::Proof(Box::new(p)))),
            Query::Storage => tokio::time::timeout(
                L1_REQUEST_TIMEOUT,
                self.provider
                    .get_storage_at(self.system_config, UNSAFE_BLOCK_SIGNER_SLOT.into())
                    .block_id(at)
                    .into_future(),
            )
            .await
            .map(|r| r.map(Answer::Storage)),
        };
        answer.map_err(|_| L1ReadError::Unreachable("request timed out".into()))
    }
}

/// What to ask the endpoint.
#[derive(Debug, Clone, Copy)]
enum Query {
    Proof,
    Storage,
}

/// What it answered.
enum Answer {
    Proof(Box<EIP1186AccountProofResponse>),
    Storage(U256),
}

/// How reads are pinned to a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pinning {
    Unknown,
    ByHash,
    ByNumber,
}

async fn timed<T>(
    call: impl std::future::IntoFuture<Output = Result<T, TransportError>>,
) -> Result<T, L1ReadError> {
    match tokio::time::timeout(L1_REQUEST_TIMEOUT, call.into_future()).await {
        Err(_) => Err(L1ReadError::Unreachable("request timed out".into())),
        Ok(result) => result.map_err(rpc_error),
    }
}

fn rpc_error(e: TransportError) -> L1ReadError {
    if e.as_error_resp().is_some() || e.is_deser_error() {
        L1ReadError::BadResponse(e.to_string())
    } else {
        L1ReadError::Unreachable(e.to_string())
    }
}

/// The address in a signer slot value: its low 20 bytes; `None` when the high 12 are not zero.
pub fn signer_from_slot(value: U256) -> Option<Address> {
    let bytes = value.to_be_bytes::<32>();
    bytes[..12]
        .iter()
        .all(|b| *b == 0)
        .then(|| Address::from_slice(&bytes[12..]))
}

/// Verifies an `eth_getProof` answer for the signer slot of `system_config` against
/// `state_root` and returns the slot value: the account proof (account RLP under
/// `keccak256(address)` in the state trie), then the storage proof (value RLP under
/// `keccak256(slot)` in the account's storage trie). Absent account or slot = exclusion proof.
pub fn verify_signer_proof(
    response: &EIP1186AccountProofResponse,
    state_root: B256,
    system_config: Address,
) -> Result<U256, String> {
    if response.address != system_config {
        return Err(format!(
            "proof is for {}, not {system_config}",
            response.address
        ));
    }
    let empty = response.nonce == 0
        && response.balance.is_zero()
        && response.code_hash == KECCAK_EMPTY
        && response.storage_hash == EMPTY_ROOT_HASH;
    let account = TrieAccount::new(
        response.nonce,
        response.balance,
        response.storage_hash,
        response.code_hash,
    );
    let expected = (!empty).then(|| alloy_rlp::encode(account));
    verify_proof(
        state_root,
        Nibbles::unpack(keccak256(system_config)),
        expected,
        &response.account_proof,
    )
    .map_err(|e| format!("account proof: {e}"))?;
    let storage = response
        .storage_proof
        .iter()
        .find(|p| p.key.as_b256() == UNSAFE_BLOCK_SIGNER_SLOT)
        .ok_or("no proof for the signer slot")?;
    let expected = (!storage.value.is_zero()).then(|| alloy_rlp::encode(storage.value));
    verify_proof(
        response.storage_hash,
        Nibbles::unpack(keccak256(UNSAFE_BLOCK_SIGNER_SLOT)),
        expected,
        &storage.proof,
    )
    .map_err(|e| format!("storage proof: {e}"))?;
    Ok(storage.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_keccak_of_the_name() {
        assert_eq!(
            keccak256("systemconfig.unsafeblocksigner"),
            UNSAFE_BLOCK_SIGNER_SLOT
        );
    }

    #[test]
    fn slot_values_that_are_not_addresses_are_refused() {
        let a = Address::repeat_byte(0x42);
        let mut word = [0u8; 32];
        word[12..].copy_from_slice(a.as_slice());
        assert_eq!(signer_from_slot(U256::from_be_bytes(word)), Some(a));
        word[0] = 1;
        assert_eq!(signer_from_slot(U256::from_be_bytes(word)), None);
        assert_eq!(signer_from_slot(U256::ZERO), Some(Address::ZERO));
    }
}
