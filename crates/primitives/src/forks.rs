//! The hard-fork schedule of an OP Stack chain, as far as the P2P layer cares about it.

use serde::{Deserialize, Serialize};

/// The OP Stack hard forks that change what is gossiped or how it is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fork {
    /// Bedrock: `ExecutionPayloadV1`, topic v1.
    Bedrock,
    /// Canyon: withdrawals (always empty) appear, topic v2.
    Canyon,
    /// Ecotone: blob gas fields and the parent beacon block root, topic v3.
    Ecotone,
    /// Isthmus: the L2 withdrawals root in the payload, topic v4.
    Isthmus,
    /// Jovian: `blobGasUsed` carries the DA footprint and may be non-zero.
    Jovian,
}

/// Activation timestamps (unix seconds) of the forks. `None` means "not scheduled".
///
/// Only the forks that change P2P behaviour are kept; Delta, Fjord, Granite and Holocene
/// change nothing on the gossip layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ForkSchedule {
    /// Canyon activation time.
    pub canyon_time: Option<u64>,
    /// Ecotone activation time.
    pub ecotone_time: Option<u64>,
    /// Isthmus activation time.
    pub isthmus_time: Option<u64>,
    /// Jovian activation time.
    pub jovian_time: Option<u64>,
}

impl ForkSchedule {
    /// The schedule assumed when no rollup config is given: Canyon through Isthmus active from
    /// genesis, Jovian not scheduled.
    pub const fn isthmus_at_genesis() -> Self {
        Self {
            canyon_time: Some(0),
            ecotone_time: Some(0),
            isthmus_time: Some(0),
            jovian_time: None,
        }
    }

    /// Every fork active from genesis, Jovian included.
    pub const fn all_at_genesis() -> Self {
        Self {
            canyon_time: Some(0),
            ecotone_time: Some(0),
            isthmus_time: Some(0),
            jovian_time: Some(0),
        }
    }

    /// Whether `fork` is active at `timestamp`.
    pub fn is_active(&self, fork: Fork, timestamp: u64) -> bool {
        let activation = match fork {
            Fork::Bedrock => Some(0),
            Fork::Canyon => self.canyon_time,
            Fork::Ecotone => self.ecotone_time,
            Fork::Isthmus => self.isthmus_time,
            Fork::Jovian => self.jovian_time,
        };
        activation.is_some_and(|t| timestamp >= t)
    }

    /// The newest P2P-relevant fork active at `timestamp`.
    pub fn active_fork(&self, timestamp: u64) -> Fork {
        [Fork::Jovian, Fork::Isthmus, Fork::Ecotone, Fork::Canyon]
            .into_iter()
            .find(|fork| self.is_active(*fork, timestamp))
            .unwrap_or(Fork::Bedrock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_fork_follows_the_schedule() {
        let schedule = ForkSchedule {
            canyon_time: Some(10),
            ecotone_time: Some(20),
            isthmus_time: Some(30),
            jovian_time: Some(40),
        };
        assert_eq!(schedule.active_fork(0), Fork::Bedrock);
        assert_eq!(schedule.active_fork(10), Fork::Canyon);
        assert_eq!(schedule.active_fork(29), Fork::Ecotone);
        assert_eq!(schedule.active_fork(30), Fork::Isthmus);
        assert_eq!(schedule.active_fork(41), Fork::Jovian);
        assert!(!ForkSchedule::default().is_active(Fork::Canyon, u64::MAX));
        assert!(ForkSchedule::default().is_active(Fork::Bedrock, 0));
    }

    #[test]
    fn default_schedule_has_isthmus_but_not_jovian() {
        let schedule = ForkSchedule::isthmus_at_genesis();
        assert_eq!(schedule.active_fork(1_700_000_000), Fork::Isthmus);
        assert!(!schedule.is_active(Fork::Jovian, u64::MAX));
    }
}
