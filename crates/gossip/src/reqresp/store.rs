//! The recently validated payloads `payload_by_number` serves from.

use std::{collections::BTreeMap, sync::Arc};

use super::wire::ServedPayload;

/// Payloads by block number, bounded by a count and a byte budget; the lowest numbers are
/// dropped first. The first payload accepted at a height is the one served: a later block at
/// the same height (an equivocation or a reorg seen on gossip) does not replace it.
#[derive(Debug)]
pub struct PayloadStore {
    payloads: BTreeMap<u64, Arc<ServedPayload>>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
}

impl PayloadStore {
    /// A store of at most `capacity` payloads and `max_bytes` bytes of payload data.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            payloads: BTreeMap::new(),
            capacity,
            max_bytes,
            bytes: 0,
        }
    }

    /// Stores the payload of block `number`. Returns false when it is not kept: a payload
    /// is already stored at that number, or the store is full of higher numbers, or the
    /// payload alone is over the byte budget.
    pub fn insert(&mut self, number: u64, payload: Arc<ServedPayload>) -> bool {
        if self.capacity == 0
            || payload.data.len() > self.max_bytes
            || self.payloads.contains_key(&number)
        {
            return false;
        }
        self.bytes += payload.data.len();
        self.payloads.insert(number, payload);
        while self.payloads.len() > self.capacity || self.bytes > self.max_bytes {
            let Some((_, evicted)) = self.payloads.pop_first() else {
                break;
            };
            self.bytes -= evicted.data.len();
        }
        self.payloads.contains_key(&number)
    }

    /// The payload of block `number`, if stored.
    pub fn get(&self, number: u64) -> Option<Arc<ServedPayload>> {
        self.payloads.get(&number).cloned()
    }

    /// Payloads stored.
    pub fn len(&self) -> usize {
        self.payloads.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    /// Bytes of payload data stored.
    pub const fn bytes(&self) -> usize {
        self.bytes
    }

    /// The lowest and highest numbers stored.
    pub fn range(&self) -> Option<(u64, u64)> {
        let (low, _) = self.payloads.first_key_value()?;
        let (high, _) = self.payloads.last_key_value()?;
        Some((*low, *high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(len: usize, tag: u8) -> Arc<ServedPayload> {
        Arc::new(ServedPayload {
            version: 1,
            data: vec![tag; len],
        })
    }

    #[test]
    fn keeps_the_highest_numbers_up_to_its_capacity() {
        let mut store = PayloadStore::new(256, usize::MAX);
        for n in 0..1000u64 {
            assert!(store.insert(n, payload(10, n as u8)));
        }
        assert_eq!(store.len(), 256);
        assert_eq!(store.range(), Some((744, 999)));
        assert_eq!(store.bytes(), 2560);
        assert!(store.get(743).is_none());
        assert_eq!(store.get(999).unwrap().data, vec![999u64 as u8; 10]);
        // Full of higher numbers: an old block is not kept.
        assert!(!store.insert(5, payload(10, 0)));
        assert_eq!(store.range(), Some((744, 999)));
        // Out of order but within the window: kept, and the lowest goes.
        let mut store = PayloadStore::new(3, usize::MAX);
        for n in [10, 30, 20] {
            assert!(store.insert(n, payload(1, 0)));
        }
        assert!(store.insert(25, payload(1, 0)));
        assert_eq!(store.range(), Some((20, 30)));
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn the_first_payload_at_a_height_is_served() {
        let mut store = PayloadStore::new(8, usize::MAX);
        assert!(store.insert(5, payload(4, 1)));
        assert!(!store.insert(5, payload(8, 2)));
        assert_eq!(store.get(5).unwrap().data, vec![1; 4]);
        assert_eq!(store.bytes(), 4);
    }

    #[test]
    fn the_byte_budget_evicts_the_lowest_numbers() {
        let mut store = PayloadStore::new(100, 1000);
        for n in 0..10u64 {
            assert!(store.insert(n, payload(300, 0)));
            assert!(store.bytes() <= 1000);
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.range(), Some((7, 9)));
        // A payload larger than the whole budget is refused and evicts nothing.
        assert!(!store.insert(10, payload(1001, 0)));
        assert_eq!(store.len(), 3);
        assert_eq!(store.bytes(), 900);
    }

    #[test]
    fn a_zero_capacity_store_keeps_nothing() {
        let mut store = PayloadStore::new(0, 1000);
        assert!(!store.insert(1, payload(1, 0)));
        assert!(store.is_empty());
        assert_eq!(store.range(), None);
    }
}
