//! The transactions root of a payload, with the trie's leaves hashed four at a time.
//!
//! The root is alloy's ordered trie over the raw EIP-2718 transaction bytes
//! (`ordered_trie_root_encoded`): key `rlp(index)`, value the transaction bytes. Its cost is
//! almost all in hashing the leaf nodes, one per transaction, and those hashes are independent.
//! So the leaf nodes are encoded up front, hashed together by [`keccak256_many`], and handed to
//! alloy's `HashBuilder` as ready-made child hashes at the path where each leaf hangs; the
//! builder then only hashes the (few) branch and extension nodes above them.
//!
//! A leaf sits one nibble below the longer of its key's common prefixes with its two sorted
//! neighbours, and its node holds the rest of the key. A leaf node shorter than 32 bytes would
//! be inlined in its parent instead of hashed; no real transaction is that short, and such a
//! list takes alloy's path unchanged.

use std::ops::Range;

use alloy_primitives::{Bytes, B256};
use alloy_rlp::Encodable;
use alloy_trie::{
    nodes::LeafNodeRef,
    root::{adjust_index_for_rlp, ordered_trie_root_encoded},
    HashBuilder, Nibbles,
};

use super::keccak_lanes::{keccak256_many, lanes_available};

/// Below this many transactions the lanes save less than the bookkeeping costs.
const MIN_LEAVES: usize = 8;

/// Smallest node the trie references by hash rather than embedding it.
const MIN_HASHED_NODE: usize = 32;

/// The transactions root of `transactions`, equal to alloy's `ordered_trie_root_encoded`.
pub fn transactions_root(transactions: &[Bytes]) -> B256 {
    if transactions.len() < MIN_LEAVES || !lanes_available() {
        return ordered_trie_root_encoded(transactions);
    }
    let Some(leaves) = TrieLeaves::encode(transactions) else {
        return ordered_trie_root_encoded(transactions);
    };
    let nodes = leaves.nodes();
    let mut hashes = vec![B256::ZERO; nodes.len()];
    keccak256_many(&nodes, &mut hashes);
    leaves.root(hashes)
}

/// The leaf nodes of a transactions trie, encoded in key order, ready to be hashed.
#[derive(Debug, Clone)]
pub struct TrieLeaves {
    /// Each leaf's full key, ascending.
    keys: Vec<Nibbles>,
    /// How many nibbles of its key lead to each leaf.
    depths: Vec<usize>,
    /// All leaf nodes, RLP-encoded back to back.
    nodes: Vec<u8>,
    /// Each leaf's node within `nodes`.
    spans: Vec<Range<usize>>,
}

impl TrieLeaves {
    /// Encodes the leaf nodes of `transactions`' trie. `None` for fewer than two transactions
    /// or when a leaf node is short enough to be inlined in its parent rather than hashed.
    pub fn encode(transactions: &[Bytes]) -> Option<Self> {
        let n = transactions.len();
        if n < 2 {
            return None;
        }
        // Keys in the order the builder takes them (ascending): position `i` holds the
        // transaction at `adjust_index_for_rlp(i, n)`.
        let keys: Vec<Nibbles> = (0..n)
            .map(|i| Nibbles::unpack(alloy_rlp::encode_fixed_size(&adjust_index_for_rlp(i, n))))
            .collect();
        let total: usize = transactions.iter().map(|tx| tx.len() + 16).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut spans = Vec::with_capacity(n);
        let mut depths = Vec::with_capacity(n);
        for (i, key) in keys.iter().enumerate() {
            let before = i
                .checked_sub(1)
                .map_or(0, |p| keys[p].common_prefix_length(key));
            let after = keys.get(i + 1).map_or(0, |k| k.common_prefix_length(key));
            let depth = before.max(after) + 1;
            let start = nodes.len();
            let rest = key.slice(depth..);
            LeafNodeRef::new(&rest, &transactions[adjust_index_for_rlp(i, n)]).encode(&mut nodes);
            if nodes.len() - start < MIN_HASHED_NODE {
                return None;
            }
            spans.push(start..nodes.len());
            depths.push(depth);
        }
        Some(Self {
            keys,
            depths,
            nodes,
            spans,
        })
    }

    /// The encoded leaf nodes, in key order.
    pub fn nodes(&self) -> Vec<&[u8]> {
        self.spans
            .iter()
            .map(|span| &self.nodes[span.clone()])
            .collect()
    }

    /// The trie root, given the Keccak-256 of each of [`Self::nodes`] in the same order.
    pub fn root(&self, hashes: impl IntoIterator<Item = B256>) -> B256 {
        let mut builder = HashBuilder::default();
        for ((key, depth), hash) in self.keys.iter().zip(&self.depths).zip(hashes) {
            builder.add_branch(key.slice(..*depth), hash, false);
        }
        builder.root()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn transactions(lengths: &[usize], seed: u8) -> Vec<Bytes> {
        lengths
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                (0..len)
                    .map(|j| (i as u8).wrapping_mul(31) ^ (j as u8) ^ seed)
                    .collect::<Vec<u8>>()
                    .into()
            })
            .collect()
    }

    #[test]
    fn equals_alloy_at_the_key_length_boundaries() {
        // rlp(index) changes length at 0x80 and 0x100; the trie's shape changes with it.
        for n in [
            0, 1, 2, 7, 8, 9, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 4097,
        ] {
            let txs = transactions(&vec![120; n], n as u8);
            assert_eq!(
                transactions_root(&txs),
                ordered_trie_root_encoded(&txs),
                "{n} transactions"
            );
        }
    }

    #[test]
    fn equals_alloy_when_a_leaf_would_be_inlined() {
        let mut lengths = vec![200; 20];
        lengths[5] = 1;
        lengths[6] = 0;
        let txs = transactions(&lengths, 3);
        assert_eq!(transactions_root(&txs), ordered_trie_root_encoded(&txs));
    }

    #[test]
    fn leaves_hashed_one_by_one_give_the_same_root() {
        // The trie structure without the lanes, so it is checked on any CPU.
        for n in [2, 3, 130, 300] {
            let txs = transactions(&vec![90; n], 9);
            let leaves = TrieLeaves::encode(&txs).expect("hashed leaves");
            let hashes = leaves.nodes().into_iter().map(alloy_primitives::keccak256);
            assert_eq!(leaves.root(hashes), ordered_trie_root_encoded(&txs), "{n}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn equals_alloy_on_random_transaction_lists(
            // From 29 bytes up every leaf node is hashed (shorter ones take alloy's path).
            lengths in prop::collection::vec(29usize..700, 0..400),
            seed: u8,
        ) {
            let txs = transactions(&lengths, seed);
            prop_assert_eq!(transactions_root(&txs), ordered_trie_root_encoded(&txs));
        }
    }
}
