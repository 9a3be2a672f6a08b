//! Every delivery the lab saw, per block and node, and who was up when.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{monitor::Delivery, stats::Quantiles};

/// One period during which a node ran with the lab subscribed to it (unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Life {
    /// When the lab's subscription became live.
    pub up_ms: u64,
    /// When the node was stopped or killed (`None`: still running).
    pub down_ms: Option<u64>,
}

impl Life {
    /// Whether this life covers the whole of `[from, to]`.
    pub fn covers(&self, from: u64, to: u64) -> bool {
        self.up_ms <= from && self.down_ms.is_none_or(|down| down >= to)
    }
}

/// What the nodes received.
#[derive(Debug, Default)]
pub struct Record {
    /// Block number → node → first receive time (unix ms).
    received: BTreeMap<u64, BTreeMap<usize, u64>>,
    /// Block number → publish time (unix ms) carried by the dev block.
    publish: BTreeMap<u64, u64>,
    /// Deliveries of a block a node had already delivered.
    pub duplicates: u64,
    /// Deliveries of blocks without a publish time (not the lab sequencer's).
    pub foreign: u64,
}

/// Delivery of a set of blocks to the nodes expected to get them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeliveryStats {
    /// Blocks judged.
    pub blocks: u64,
    /// (block, node) pairs expected.
    pub expected: u64,
    /// Of those, delivered.
    pub delivered: u64,
    /// Publish → receive at each node, over every delivered pair.
    pub delay_ms: Quantiles,
    /// Publish → receive at the last expected node, per block (blocks delivered everywhere).
    pub last_node_ms: Quantiles,
    /// The pairs not delivered, as (block, node), at most 50.
    pub missing: Vec<(u64, usize)>,
}

impl DeliveryStats {
    /// Whether every expected pair was delivered (and something was expected).
    pub fn complete(&self) -> bool {
        self.expected > 0 && self.delivered == self.expected
    }
}

impl Record {
    /// Records a delivery.
    pub fn add(&mut self, d: Delivery) {
        let Some(publish_ms) = d.publish_ms else {
            self.foreign += 1;
            return;
        };
        self.publish.entry(d.number).or_insert(publish_ms);
        let nodes = self.received.entry(d.number).or_default();
        match nodes.entry(d.node) {
            std::collections::btree_map::Entry::Occupied(_) => self.duplicates += 1,
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(d.received_ms);
            }
        }
    }

    /// The publish time of block `number`, once any node delivered it.
    pub fn publish_ms(&self, number: u64) -> Option<u64> {
        self.publish.get(&number).copied()
    }

    /// The highest block number any node delivered.
    pub fn last_number(&self) -> Option<u64> {
        self.received.keys().next_back().copied()
    }

    /// When `node` received block `number`.
    pub fn received_ms(&self, number: u64, node: usize) -> Option<u64> {
        self.received.get(&number)?.get(&node).copied()
    }

    /// The first block `node` received at or after `since_ms`, and when.
    pub fn first_received_after(&self, node: usize, since_ms: u64) -> Option<u64> {
        self.received
            .values()
            .filter_map(|nodes| nodes.get(&node).copied())
            .filter(|at| *at >= since_ms)
            .min()
    }

    /// When `node` first received a block published at or after `since_ms`.
    pub fn first_fresh_after(&self, node: usize, since_ms: u64) -> Option<u64> {
        self.received
            .iter()
            .filter(|(n, _)| self.publish_ms(**n).is_some_and(|p| p >= since_ms))
            .filter_map(|(_, nodes)| nodes.get(&node).copied())
            .min()
    }

    /// Delivery of blocks `numbers` to the nodes `expected(block, publish_ms)` names. A block
    /// no node delivered has no known publish time: it is judged against
    /// `expected(block, None)`.
    pub fn judge(
        &self,
        numbers: impl IntoIterator<Item = u64>,
        expected: impl FnMut(u64, Option<u64>) -> Vec<usize>,
    ) -> DeliveryStats {
        self.judge_until(numbers, u64::MAX, expected)
    }

    /// As [`Record::judge`], counting only deliveries received by `until_ms`.
    pub fn judge_until(
        &self,
        numbers: impl IntoIterator<Item = u64>,
        until_ms: u64,
        mut expected: impl FnMut(u64, Option<u64>) -> Vec<usize>,
    ) -> DeliveryStats {
        let mut stats = DeliveryStats::default();
        let mut delays = Vec::new();
        let mut last = Vec::new();
        for number in numbers {
            stats.blocks += 1;
            let publish = self.publish_ms(number);
            let mut block_max: Option<i64> = None;
            let mut all = true;
            for node in expected(number, publish) {
                stats.expected += 1;
                let received = self.received_ms(number, node).filter(|at| *at <= until_ms);
                match (received, publish) {
                    (Some(at), Some(sent)) => {
                        stats.delivered += 1;
                        let delay = at as i64 - sent as i64;
                        delays.push(delay);
                        block_max = Some(block_max.map_or(delay, |m| m.max(delay)));
                    }
                    _ => {
                        all = false;
                        if stats.missing.len() < 50 {
                            stats.missing.push((number, node));
                        }
                    }
                }
            }
            if let (true, Some(m)) = (all, block_max) {
                last.push(m);
            }
        }
        stats.delay_ms = Quantiles::of(delays);
        stats.last_node_ms = Quantiles::of(last);
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(node: usize, number: u64, sent: u64, at: u64) -> Delivery {
        Delivery {
            node,
            number,
            delay_ms: Some(at as i64 - sent as i64),
            publish_ms: Some(sent),
            received_ms: at,
        }
    }

    #[test]
    fn judges_delivery_against_the_expected_nodes() {
        let mut r = Record::default();
        r.add(d(1, 10, 1000, 1005));
        r.add(d(2, 10, 1000, 1020));
        r.add(d(2, 10, 1000, 1030));
        r.add(d(1, 11, 2000, 2004));
        r.add(Delivery {
            node: 1,
            number: 99,
            delay_ms: None,
            publish_ms: None,
            received_ms: 5,
        });
        assert_eq!((r.duplicates, r.foreign), (1, 1));
        let s = r.judge(10..=12, |_, _| vec![1, 2]);
        assert_eq!((s.blocks, s.expected, s.delivered), (3, 6, 3));
        assert_eq!(s.missing, vec![(11, 2), (12, 1), (12, 2)]);
        assert_eq!(s.delay_ms.max, Some(20));
        assert_eq!(s.last_node_ms.count, 1);
        assert!(!s.complete());
        assert!(r.judge(10..=10, |_, _| vec![1, 2]).complete());
        assert_eq!(r.judge_until(10..=10, 1010, |_, _| vec![1, 2]).delivered, 1);
        assert_eq!(r.first_fresh_after(1, 1500), Some(2004));
        assert_eq!(r.first_fresh_after(2, 1500), None);
    }

    #[test]
    fn lives_cover_whole_windows_only() {
        let life = Life {
            up_ms: 100,
            down_ms: Some(200),
        };
        assert!(life.covers(100, 200));
        assert!(!life.covers(99, 150));
        assert!(!life.covers(150, 201));
        assert!(Life {
            up_ms: 0,
            down_ms: None
        }
        .covers(5, u64::MAX));
    }
}
