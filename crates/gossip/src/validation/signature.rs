//! Block signatures: the signing hash, recovery of the signer, and signing with a sequencer key.

use alloy_primitives::{keccak256, Address, Signature, B256};
use op_alloy_rpc_types_engine::PayloadHash;
use secp256k1::{
    ecdsa::{RecoverableSignature, RecoveryId},
    Message, PublicKey, SecretKey, SECP256K1,
};

/// Length of the signature prefix of every block message: `r ‖ s ‖ v`.
pub const SIGNATURE_LEN: usize = 65;

/// The hash the unsafe-block signer signs: `keccak256(domain ‖ chain_id ‖ payload_hash)` with
/// the all-zero `SigningDomainBlocksV1` domain (op-alloy `PayloadHash::signature_message`).
pub fn signing_hash(chain_id: u64, signed_bytes: &[u8]) -> B256 {
    PayloadHash(keccak256(signed_bytes)).signature_message(chain_id)
}

/// Recovers the address that produced `signature` (65 bytes, recovery id 0 or 1 in the last
/// byte) over `hash`. `None` for any malformed signature.
pub fn recover_signer(signature: &[u8; SIGNATURE_LEN], hash: &B256) -> Option<Address> {
    // The spec allows y-parity 0 or 1 only; 27/28 and the "x overflow" ids 2/3 are refused.
    let recovery_id = match signature[64] {
        0 => RecoveryId::Zero,
        1 => RecoveryId::One,
        _ => return None,
    };
    let signature = RecoverableSignature::from_compact(&signature[..64], recovery_id).ok()?;
    let key = SECP256K1
        .recover_ecdsa(&Message::from_digest(hash.0), &signature)
        .ok()?;
    Some(address_of(&key))
}

/// The Ethereum address of a public key.
pub fn address_of(key: &PublicKey) -> Address {
    let uncompressed = key.serialize_uncompressed();
    Address::from_slice(&keccak256(&uncompressed[1..])[12..])
}

/// A secp256k1 key that signs blocks as the sequencer (op-node `--p2p.sequencer.key`).
#[derive(Clone)]
pub struct SequencerKey {
    secret: SecretKey,
    address: Address,
}

impl std::fmt::Debug for SequencerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequencerKey")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A sequencer key that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequencerKeyError {
    /// Not 32 bytes of hex.
    #[error("sequencer key must be 32 bytes of hex (64 hex digits, optional 0x)")]
    NotHex,
    /// Zero or not below the curve order.
    #[error("sequencer key is not a valid secp256k1 secret key")]
    OutOfRange,
}

impl SequencerKey {
    /// Parses a 32-byte hex key, with or without `0x`.
    pub fn from_hex(text: &str) -> Result<Self, SequencerKeyError> {
        let text = text.trim();
        let text = text.strip_prefix("0x").unwrap_or(text);
        let bytes: [u8; 32] = hex::decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SequencerKeyError::NotHex)?;
        Self::from_bytes(&bytes)
    }

    /// A key from its 32 secret bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SequencerKeyError> {
        let secret =
            SecretKey::from_byte_array(bytes).map_err(|_| SequencerKeyError::OutOfRange)?;
        let address = address_of(&secret.public_key(SECP256K1));
        Ok(Self { secret, address })
    }

    /// The address blocks signed with this key recover to.
    pub const fn address(&self) -> Address {
        self.address
    }

    /// Signs the bytes that follow the signature in a block message for `chain_id`.
    pub fn sign(&self, chain_id: u64, signed_bytes: &[u8]) -> Signature {
        let hash = signing_hash(chain_id, signed_bytes);
        self.sign_hash(&hash)
    }

    /// Signs a precomputed signing hash.
    pub fn sign_hash(&self, hash: &B256) -> Signature {
        let signature =
            SECP256K1.sign_ecdsa_recoverable(&Message::from_digest(hash.0), &self.secret);
        let (recovery_id, compact) = signature.serialize_compact();
        Signature::from_bytes_and_parity(&compact, recovery_id == RecoveryId::One)
    }
}

/// The 65 wire bytes of a signature: `r ‖ s ‖ y_parity`.
pub fn signature_bytes(signature: &Signature) -> [u8; SIGNATURE_LEN] {
    let mut bytes = signature.as_bytes();
    bytes[64] = u8::from(signature.v());
    bytes
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{address, b256};

    use super::*;

    const ANVIL_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn signing_hash_matches_op_alloy_vector() {
        let payload_hash = PayloadHash(keccak256([0x99u8; 32]));
        assert_eq!(
            payload_hash.signature_message(10),
            b256!("44a0e2b1aba1aae1771eddae1dcd2ad18a8cdac8891517153f03253e49d3f206")
        );
    }

    #[test]
    fn sign_then_recover() {
        let key = SequencerKey::from_hex(ANVIL_KEY).unwrap();
        assert_eq!(
            key.address(),
            address!("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
        );
        let hash = signing_hash(901, b"some payload");
        let signature = signature_bytes(&key.sign_hash(&hash));
        assert_eq!(recover_signer(&signature, &hash), Some(key.address()));
    }

    #[test]
    fn refuses_other_recovery_ids() {
        let key = SequencerKey::from_hex(ANVIL_KEY).unwrap();
        let hash = signing_hash(901, b"x");
        let mut signature = signature_bytes(&key.sign_hash(&hash));
        for v in [2u8, 3, 27, 28, 37] {
            signature[64] = v;
            assert_eq!(recover_signer(&signature, &hash), None, "v = {v}");
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(
            SequencerKey::from_hex("0x1234").unwrap_err(),
            SequencerKeyError::NotHex
        );
        assert_eq!(
            SequencerKey::from_hex(&"0".repeat(64)).unwrap_err(),
            SequencerKeyError::OutOfRange
        );
    }
}
