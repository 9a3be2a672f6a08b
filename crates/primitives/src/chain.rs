//! The chain a node serves.

use crate::ForkSchedule;

/// Everything the P2P layer needs to know about the L2 chain it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainConfig {
    /// The L2 chain id: part of the topic names, the signing domain and the ENR.
    pub chain_id: u64,
    /// Seconds between L2 blocks (peer scoring derives its slot from it).
    pub block_time: u64,
    /// The fork activation times.
    pub forks: ForkSchedule,
}

impl ChainConfig {
    /// A chain with op-node's defaults for everything but the id: 2 s blocks, Canyon through
    /// Isthmus active from genesis, Jovian not scheduled.
    pub const fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            block_time: 2,
            forks: ForkSchedule::isthmus_at_genesis(),
        }
    }
}
