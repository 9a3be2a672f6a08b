//! The per-height record of block hashes already seen, bounded by recency.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::B256;

use super::Reason;

/// How many heights are remembered (op-node's LRU size).
pub const SEEN_HEIGHTS: usize = 1000;

/// More than this many distinct hashes already seen at one height rejects the next block
/// (op-node: `count > 5`).
pub const MAX_BLOCKS_PER_HEIGHT: usize = 5;

#[derive(Debug, Default)]
struct Height {
    hashes: Vec<B256>,
    last_used: u64,
}

/// Block hashes seen per height, as a least-recently-used map of at most [`SEEN_HEIGHTS`]
/// heights (op-node keeps an `lru.Cache[uint64, *seenBlocks]` of 1000).
#[derive(Debug)]
pub struct SeenBlocks {
    heights: HashMap<u64, Height>,
    by_recency: BTreeMap<u64, u64>,
    clock: u64,
    capacity: usize,
}

impl Default for SeenBlocks {
    fn default() -> Self {
        Self::with_capacity(SEEN_HEIGHTS)
    }
}

impl SeenBlocks {
    /// A record of at most `capacity` heights (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            heights: HashMap::new(),
            by_recency: BTreeMap::new(),
            clock: 0,
            capacity: capacity.max(1),
        }
    }

    /// Checks `hash` at `number` and records it if new.
    ///
    /// Op-node's order: the per-height limit is checked before the duplicate check, so a
    /// duplicate at a height that already holds more than five hashes is rejected too.
    pub fn check_and_record(&mut self, number: u64, hash: B256) -> Result<(), Reason> {
        let height = self.touch(number);
        if height.hashes.len() > MAX_BLOCKS_PER_HEIGHT {
            return Err(Reason::TooManyBlocks);
        }
        if height.hashes.contains(&hash) {
            return Err(Reason::AlreadySeen);
        }
        height.hashes.push(hash);
        Ok(())
    }

    /// Number of hashes recorded at `number`.
    pub fn count_at(&self, number: u64) -> usize {
        self.heights.get(&number).map_or(0, |h| h.hashes.len())
    }

    /// Number of heights remembered.
    pub fn len(&self) -> usize {
        self.heights.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.heights.is_empty()
    }

    /// Marks `number` as most recently used, creating (and evicting) as needed.
    fn touch(&mut self, number: u64) -> &mut Height {
        self.clock += 1;
        let now = self.clock;
        if let Some(height) = self.heights.get(&number) {
            self.by_recency.remove(&height.last_used);
        } else if self.heights.len() >= self.capacity {
            if let Some((_, oldest)) = self.by_recency.pop_first() {
                self.heights.remove(&oldest);
            }
        }
        self.by_recency.insert(now, number);
        let height = self.heights.entry(number).or_default();
        height.last_used = now;
        height
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> B256 {
        B256::repeat_byte(n)
    }

    #[test]
    fn duplicates_are_ignored() {
        let mut seen = SeenBlocks::default();
        assert_eq!(seen.check_and_record(7, hash(1)), Ok(()));
        assert_eq!(seen.check_and_record(7, hash(1)), Err(Reason::AlreadySeen));
        assert_eq!(seen.check_and_record(8, hash(1)), Ok(()));
    }

    #[test]
    fn sixth_distinct_block_is_accepted_seventh_rejected() {
        let mut seen = SeenBlocks::default();
        for n in 1..=6 {
            assert_eq!(seen.check_and_record(7, hash(n)), Ok(()), "block {n}");
        }
        assert_eq!(
            seen.check_and_record(7, hash(7)),
            Err(Reason::TooManyBlocks)
        );
        // A duplicate at a full height is rejected, not ignored (op-node order).
        assert_eq!(
            seen.check_and_record(7, hash(1)),
            Err(Reason::TooManyBlocks)
        );
        assert_eq!(seen.count_at(7), 6);
    }

    #[test]
    fn evicts_least_recently_used_height() {
        let mut seen = SeenBlocks::with_capacity(2);
        seen.check_and_record(1, hash(1)).unwrap();
        seen.check_and_record(2, hash(2)).unwrap();
        // Touch 1 so that 2 is the least recently used.
        assert_eq!(seen.check_and_record(1, hash(1)), Err(Reason::AlreadySeen));
        seen.check_and_record(3, hash(3)).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen.count_at(2), 0);
        assert_eq!(seen.check_and_record(1, hash(1)), Err(Reason::AlreadySeen));
    }

    #[test]
    fn stays_bounded() {
        let mut seen = SeenBlocks::default();
        for n in 0..5_000u64 {
            seen.check_and_record(n, B256::with_last_byte(1)).unwrap();
        }
        assert_eq!(seen.len(), SEEN_HEIGHTS);
        assert_eq!(seen.by_recency.len(), SEEN_HEIGHTS);
    }
}
