//! Validation outcomes of block messages and their stable labels, shared by the validator
//! (`opmesh-gossip`), which gives them, and the peer manager (`opmesh-peers`), whose policy
//! may treat reasons differently.

use std::fmt;

/// What gossipsub is told about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Valid: deliver and forward.
    Accept,
    /// Not forwarded, sender not penalised.
    Ignore,
    /// Invalid: not forwarded, sender penalised.
    Reject,
}

impl Verdict {
    /// `accept`, `ignore` or `reject`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Ignore => "ignore",
            Self::Reject => "reject",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a message was not accepted. Each reason has one verdict and a stable short label used
/// in logs, metrics and the CLI; labels never change once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The snappy header declares more than 10 MiB.
    Oversized,
    /// Unreadable snappy header or corrupt body.
    BadSnappy,
    /// Fewer than 66 decoded bytes.
    TooShort,
    /// The topic is not one of this chain's four block topics.
    UnknownTopic,
    /// The signature is malformed, has a recovery id other than 0/1, or recovers no key.
    BadSignature,
    /// No unsafe-block signer is configured: the block cannot be judged (op-node IGNOREs).
    NoSigner,
    /// Signed by someone other than the unsafe-block signer.
    WrongSigner,
    /// The payload does not decode as the topic's SSZ version (or `extra_data` > 32 bytes).
    BadSsz,
    /// The timestamp is older than the configured threshold (default 60 s).
    TooOld,
    /// The timestamp is more than 5 s in the future.
    TooNew,
    /// The base fee does not fit in 64 bits, so no header can carry it.
    BaseFeeOverflow,
    /// The block hash does not match the one recomputed from the header fields.
    BlockHashMismatch,
    /// A v2+ payload carries withdrawals.
    WithdrawalsNotEmpty,
    /// A v3+ payload has a non-zero `excessBlobGas`.
    ExcessBlobGasNonZero,
    /// A v3+ payload before Jovian has a non-zero `blobGasUsed`.
    BlobGasUsedNonZero,
    /// More than five distinct blocks were already seen at this height.
    TooManyBlocks,
    /// This block hash was already seen at this height.
    AlreadySeen,
}

impl Reason {
    /// Every reason, for pre-registering metrics and for exhaustive tests.
    pub const ALL: [Self; 17] = [
        Self::Oversized,
        Self::BadSnappy,
        Self::TooShort,
        Self::UnknownTopic,
        Self::BadSignature,
        Self::NoSigner,
        Self::WrongSigner,
        Self::BadSsz,
        Self::TooOld,
        Self::TooNew,
        Self::BaseFeeOverflow,
        Self::BlockHashMismatch,
        Self::WithdrawalsNotEmpty,
        Self::ExcessBlobGasNonZero,
        Self::BlobGasUsedNonZero,
        Self::TooManyBlocks,
        Self::AlreadySeen,
    ];

    /// The verdict this reason gives.
    pub const fn verdict(self) -> Verdict {
        match self {
            Self::NoSigner | Self::AlreadySeen => Verdict::Ignore,
            _ => Verdict::Reject,
        }
    }

    /// The stable short label.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::BadSnappy => "bad_snappy",
            Self::TooShort => "too_short",
            Self::UnknownTopic => "unknown_topic",
            Self::BadSignature => "bad_signature",
            Self::NoSigner => "no_signer",
            Self::WrongSigner => "wrong_signer",
            Self::BadSsz => "bad_ssz",
            Self::TooOld => "too_old",
            Self::TooNew => "too_new",
            Self::BaseFeeOverflow => "base_fee_overflow",
            Self::BlockHashMismatch => "block_hash_mismatch",
            Self::WithdrawalsNotEmpty => "withdrawals_not_empty",
            Self::ExcessBlobGasNonZero => "excess_blob_gas_nonzero",
            Self::BlobGasUsedNonZero => "blob_gas_used_nonzero",
            Self::TooManyBlocks => "too_many_blocks",
            Self::AlreadySeen => "already_seen",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn labels_are_unique_snake_case() {
        let labels: HashSet<_> = Reason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reason::ALL.len());
        for label in labels {
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{label}"
            );
        }
    }

    #[test]
    fn only_no_signer_and_duplicates_are_ignored() {
        let ignored: Vec<_> = Reason::ALL
            .into_iter()
            .filter(|r| r.verdict() == Verdict::Ignore)
            .collect();
        assert_eq!(ignored, vec![Reason::NoSigner, Reason::AlreadySeen]);
    }
}
