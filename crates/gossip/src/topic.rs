//! The four block topics and the payload version each one carries.

use libp2p::gossipsub::{IdentTopic, TopicHash};
pub use opmesh_primitives::PayloadVersion;

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
    use opmesh_primitives::ForkSchedule;

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
