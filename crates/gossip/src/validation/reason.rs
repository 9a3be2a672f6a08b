//! Validation outcomes and their stable labels.

use alloy_primitives::B256;
use libp2p::gossipsub::MessageAcceptance;
pub use opmesh_primitives::{Reason, Verdict};

/// Gossipsub's acceptance for a verdict.
pub const fn acceptance(verdict: Verdict) -> MessageAcceptance {
    match verdict {
        Verdict::Accept => MessageAcceptance::Accept,
        Verdict::Ignore => MessageAcceptance::Ignore,
        Verdict::Reject => MessageAcceptance::Reject,
    }
}

/// Number and hash of a block, as claimed by its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// The block number.
    pub number: u64,
    /// The block hash the payload claims.
    pub hash: B256,
}

/// A message that was not accepted: why, and which block it claimed to be when it got far
/// enough to be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    /// Why.
    pub reason: Reason,
    /// The block, when the payload decoded.
    pub block: Option<BlockRef>,
}

impl Invalid {
    /// An outcome for a message that did not decode.
    pub const fn undecoded(reason: Reason) -> Self {
        Self {
            reason,
            block: None,
        }
    }

    /// The validator's verdict (op-node's), for metrics labels, the CLI and counts.
    pub const fn verdict(&self) -> Verdict {
        self.reason.verdict()
    }

    /// What gossipsub is told: IGNORE for rejections that depend on this node's own view
    /// (see [`Reason::gossip_verdict`]).
    pub const fn gossip_verdict(&self) -> Verdict {
        self.reason.gossip_verdict()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metrics crate exports every (result, reason) pair at zero from start; its list
    /// must be exactly these reasons with their verdicts.
    #[test]
    fn the_metrics_zero_series_list_every_reason() {
        let mut ours: Vec<(&str, &str)> = Reason::ALL
            .iter()
            .map(|r| (r.verdict().label(), r.label()))
            .collect();
        ours.push(("accept", "none"));
        ours.sort();
        let mut exported = opmesh_metrics::VALIDATION_OUTCOMES.to_vec();
        exported.sort();
        assert_eq!(ours, exported);
    }
}
