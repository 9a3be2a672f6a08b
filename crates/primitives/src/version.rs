//! The execution-payload version of an OP Stack block topic: the one definition shared by
//! the gossip crate (topics, encoding, validation) and the metrics crate (the `version` label).

use std::fmt;

use crate::{Fork, ForkSchedule};

/// The execution-payload version of a block topic: v1 on `/0/`, v2 on `/1/`, v3 on `/2/`,
/// v4 on `/3/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayloadVersion {
    /// Pre-Canyon `ExecutionPayloadV1`.
    V1,
    /// Canyon/Delta `ExecutionPayloadV2` (withdrawals list, always empty).
    V2,
    /// Ecotone..Holocene `ExecutionPayloadV3` plus the parent beacon block root.
    V3,
    /// Isthmus and later: V3 plus the L2 withdrawals root.
    V4,
}

impl PayloadVersion {
    /// Every version, in topic order.
    pub const ALL: [Self; 4] = [Self::V1, Self::V2, Self::V3, Self::V4];

    /// The topic index (`0..=3`) in `/optimism/<chain>/<index>/blocks`.
    pub const fn topic_index(self) -> u8 {
        match self {
            Self::V1 => 0,
            Self::V2 => 1,
            Self::V3 => 2,
            Self::V4 => 3,
        }
    }

    /// The version carried by topic index `index`.
    pub const fn from_topic_index(index: u8) -> Option<Self> {
        match index {
            0 => Some(Self::V1),
            1 => Some(Self::V2),
            2 => Some(Self::V3),
            3 => Some(Self::V4),
            _ => None,
        }
    }

    /// A short, stable label (`v1`..`v4`) for logs and metrics.
    pub const fn label(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::V3 => "v3",
            Self::V4 => "v4",
        }
    }

    /// The version whose label is `label` (`v1`..`v4`).
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.label() == label)
    }

    /// Whether the message carries the 32-byte parent beacon block root after the signature.
    pub const fn has_parent_beacon_root(self) -> bool {
        matches!(self, Self::V3 | Self::V4)
    }

    /// The version a payload with `timestamp` is published as: Isthmus → v4, Ecotone → v3,
    /// Canyon → v2, else v1 (op-node `publishRawSignedPayload`).
    pub fn for_timestamp(forks: &ForkSchedule, timestamp: u64) -> Self {
        if forks.is_active(Fork::Isthmus, timestamp) {
            Self::V4
        } else if forks.is_active(Fork::Ecotone, timestamp) {
            Self::V3
        } else if forks.is_active(Fork::Canyon, timestamp) {
            Self::V2
        } else {
            Self::V1
        }
    }
}

impl fmt::Display for PayloadVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_topic_indexes_round_trip() {
        for (i, v) in PayloadVersion::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(v.topic_index()), i);
            assert_eq!(PayloadVersion::from_topic_index(v.topic_index()), Some(v));
            assert_eq!(PayloadVersion::from_label(v.label()), Some(v));
            assert_eq!(v.to_string(), format!("v{}", i + 1));
        }
        assert_eq!(PayloadVersion::from_topic_index(4), None);
        assert_eq!(PayloadVersion::from_label("v5"), None);
    }
}
