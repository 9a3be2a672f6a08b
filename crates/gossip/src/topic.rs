//! The four block topics and the payload version each one carries.

use std::fmt;

use libp2p::gossipsub::{IdentTopic, TopicHash};
use opmesh_primitives::{Fork, ForkSchedule};

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

/// The topic string `/optimism/<chain_id>/<index>/blocks`.
pub fn block_topic(chain_id: u64, version: PayloadVersion) -> String {
    format!("/optimism/{chain_id}/{}/blocks", version.topic_index())
}

/// Parses a block topic string into its chain id and payload version.
pub fn parse_block_topic(topic: &str) -> Option<(u64, PayloadVersion)> {
    let rest = topic.strip_prefix("/optimism/")?.strip_suffix("/blocks")?;
    let (chain, index) = rest.split_once('/')?;
    // Reject signs, leading '+', and anything the canonical form would not produce.
    if chain.is_empty() || !chain.bytes().all(|b| b.is_ascii_digit()) || index.len() != 1 {
        return None;
    }
    let chain_id: u64 = chain.parse().ok()?;
    if block_topic(chain_id, PayloadVersion::V1).len() != topic.len() {
        return None; // leading zeros
    }
    let version = PayloadVersion::from_topic_index(index.parse().ok()?)?;
    Some((chain_id, version))
}

/// The four block topics of one chain, with their hashes precomputed.
#[derive(Debug, Clone)]
pub struct BlockTopics {
    chain_id: u64,
    topics: [IdentTopic; 4],
}

impl BlockTopics {
    /// The topics of `chain_id`.
    pub fn new(chain_id: u64) -> Self {
        let topics = PayloadVersion::ALL.map(|v| IdentTopic::new(block_topic(chain_id, v)));
        Self { chain_id, topics }
    }

    /// The chain these topics belong to.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The topic of `version`.
    pub fn topic(&self, version: PayloadVersion) -> &IdentTopic {
        &self.topics[version.topic_index() as usize]
    }

    /// All four topics, v1 first.
    pub fn all(&self) -> &[IdentTopic; 4] {
        &self.topics
    }

    /// The version carried on `hash`, if it is one of this chain's block topics.
    pub fn version_of(&self, hash: &TopicHash) -> Option<PayloadVersion> {
        PayloadVersion::ALL
            .into_iter()
            .find(|v| &self.topic(*v).hash() == hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_strings_match_the_spec() {
        assert_eq!(block_topic(10, PayloadVersion::V1), "/optimism/10/0/blocks");
        assert_eq!(
            block_topic(8453, PayloadVersion::V4),
            "/optimism/8453/3/blocks"
        );
        let topics = BlockTopics::new(901);
        assert_eq!(
            topics.topic(PayloadVersion::V3).hash().as_str(),
            "/optimism/901/2/blocks"
        );
        assert_eq!(
            topics.version_of(&TopicHash::from_raw("/optimism/901/1/blocks")),
            Some(PayloadVersion::V2)
        );
        assert_eq!(
            topics.version_of(&TopicHash::from_raw("/optimism/902/1/blocks")),
            None
        );
    }

    #[test]
    fn parses_only_canonical_topics() {
        assert_eq!(
            parse_block_topic("/optimism/10/3/blocks"),
            Some((10, PayloadVersion::V4))
        );
        for bad in [
            "/optimism/10/4/blocks",
            "/optimism/010/0/blocks",
            "/optimism/+10/0/blocks",
            "/optimism//0/blocks",
            "/optimism/10/00/blocks",
            "/optimism/10/0/block",
            "optimism/10/0/blocks",
            "/optimism/99999999999999999999999/0/blocks",
        ] {
            assert_eq!(parse_block_topic(bad), None, "{bad}");
        }
    }

    #[test]
    fn publishing_version_follows_forks() {
        let forks = ForkSchedule {
            canyon_time: Some(10),
            ecotone_time: Some(20),
            isthmus_time: Some(30),
            jovian_time: Some(40),
        };
        assert_eq!(PayloadVersion::for_timestamp(&forks, 5), PayloadVersion::V1);
        assert_eq!(
            PayloadVersion::for_timestamp(&forks, 10),
            PayloadVersion::V2
        );
        assert_eq!(
            PayloadVersion::for_timestamp(&forks, 25),
            PayloadVersion::V3
        );
        assert_eq!(
            PayloadVersion::for_timestamp(&forks, 45),
            PayloadVersion::V4
        );
    }
}
