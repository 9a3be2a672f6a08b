//! Validation outcomes of block messages and their stable labels, shared by the validator
//! (`opmesh-gossip`), which gives them, and the peer manager (`opmesh-peers`), whose policy
//! may treat reasons differently.

use std::fmt;

/// A verdict on a message: what gossipsub is told ([`Reason::gossip_verdict`]), or the
/// validator's judgement shown in metrics and the CLI ([`Reason::verdict`]).
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

    /// The verdict this reason gives: op-node's, used for the `result` label of metrics, the
    /// CLI (`opmesh validate`) and the per-peer counts. What gossipsub is told can be milder:
    /// see [`Self::gossip_verdict`].
    pub const fn verdict(self) -> Verdict {
        match self {
            Self::NoSigner | Self::AlreadySeen => Verdict::Ignore,
            _ => Verdict::Reject,
        }
    }

    /// Whether this rejection depends on this node's own view rather than on the message:
    /// a signer it does not recognise (its signer may be stale, or the chain just rotated),
    /// a timestamp outside its clock's window (its clock may be off), more than five blocks at
    /// one height (what it has seen). Another node may accept the same message, so an honest
    /// peer relays it; every other rejection holds for any node that reads the bytes.
    pub const fn is_local_view(self) -> bool {
        matches!(
            self,
            Self::WrongSigner | Self::TooOld | Self::TooNew | Self::TooManyBlocks
        )
    }

    /// What gossipsub is told about a message refused for this reason.
    ///
    /// Local-view rejections ([`Self::is_local_view`]) are IGNOREd: not forwarded, but without
    /// gossipsub's invalid-message penalty (P4), which opmesh weighs so that one rejection bans
    /// the sender. op-node REJECTs them, but it runs no topic scoring, so its REJECT costs the
    /// relaying peer nothing; for propagation REJECT and IGNORE are the same (neither is
    /// forwarded). A peer that sends many of them is banned by the peer manager's rate rule
    /// instead. Every other reason keeps its [`Self::verdict`].
    pub const fn gossip_verdict(self) -> Verdict {
        if self.is_local_view() {
            Verdict::Ignore
        } else {
            self.verdict()
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

    #[test]
    fn only_local_view_rejections_are_softened_for_gossipsub() {
        let local: Vec<_> = Reason::ALL
            .into_iter()
            .filter(|r| r.is_local_view())
            .collect();
        assert_eq!(
            local,
            vec![
                Reason::WrongSigner,
                Reason::TooOld,
                Reason::TooNew,
                Reason::TooManyBlocks
            ]
        );
        for reason in Reason::ALL {
            let expected = if reason.is_local_view() {
                Verdict::Ignore
            } else {
                reason.verdict()
            };
            assert_eq!(reason.gossip_verdict(), expected, "{reason}");
            if reason.is_local_view() {
                // The label stays a rejection everywhere it is shown.
                assert_eq!(reason.verdict(), Verdict::Reject, "{reason}");
            }
        }
        // Invalid for every node: still a gossipsub REJECT (sender penalised, banned).
        for reason in [
            Reason::Oversized,
            Reason::BadSnappy,
            Reason::TooShort,
            Reason::UnknownTopic,
            Reason::BadSignature,
            Reason::BadSsz,
            Reason::BaseFeeOverflow,
            Reason::BlockHashMismatch,
            Reason::WithdrawalsNotEmpty,
            Reason::ExcessBlobGasNonZero,
            Reason::BlobGasUsedNonZero,
        ] {
            assert_eq!(reason.gossip_verdict(), Verdict::Reject, "{reason}");
        }
    }
}
