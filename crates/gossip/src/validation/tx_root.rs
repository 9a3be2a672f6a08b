//! The transactions root of a payload, with the trie's leaves hashed four at a time.
//!
//! The root is alloy's ordered trie over the raw EIP-2718 transaction bytes
//! (`ordered_trie_root_encoded`): key `rlp(index)`, value the transaction bytes. Its cost is
//! almost all in hashing the leaf nodes, one per transaction, and those hashes are independent.
//! So the leaf nodes' headers are encoded up front and the nodes (header, then the transaction
//! bytes where they lie) hashed together by [`keccak256_many`]; the (few,
//! large) branch and extension nodes above them are then hashed level by level, also in lanes
//! ([`super::trie_levels`]).
//!
//! A leaf sits one nibble below the longer of its key's common prefixes with its two sorted
//! neighbours, and its node holds the rest of the key. A leaf node shorter than 32 bytes would
//! be inlined in its parent instead of hashed; no real transaction is that short, and such a
//! list takes alloy's path unchanged.

use std::ops::Range;

use alloy_primitives::{Bytes, B256};
use alloy_rlp::{Encodable, Header, EMPTY_STRING_CODE};
use alloy_trie::{
    nodes::encode_path_leaf,
    root::{adjust_index_for_rlp, ordered_trie_root_encoded},
    Nibbles,
};

use super::{
    keccak_lanes::{keccak256_many, lanes_available},
    trie_levels::root_above_leaves,
};

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
    let parts = leaves.parts();
    let mut hashes = vec![B256::ZERO; parts.len()];
    keccak256_many(&parts, &mut hashes);
    root_above_leaves(&leaves.keys, &hashes)
}

/// The leaf nodes of a transactions trie in key order, ready to be hashed: each node is a few
/// header bytes (list header, key path, value header) followed by the transaction itself, which
/// is hashed where it lies rather than copied next to its header.
#[derive(Debug, Clone)]
pub struct TrieLeaves<'a> {
    /// Each leaf's full key, ascending.
    keys: Vec<Nibbles>,
    /// The header bytes of every leaf node, back to back.
    heads: Vec<u8>,
    /// Each leaf's header within `heads`.
    spans: Vec<Range<usize>>,
    /// Each leaf's value: the transaction's bytes.
    values: Vec<&'a [u8]>,
}

impl<'a> TrieLeaves<'a> {
    /// Encodes the leaf nodes of `transactions`' trie. `None` for fewer than two transactions
    /// or when a leaf node is short enough to be inlined in its parent rather than hashed.
    pub fn encode(transactions: &'a [Bytes]) -> Option<Self> {
        let n = transactions.len();
        if n < 2 {
            return None;
        }
        // Keys in the order the builder takes them (ascending): position `i` holds the
        // transaction at `adjust_index_for_rlp(i, n)`.
        let keys: Vec<Nibbles> = (0..n)
            .map(|i| Nibbles::unpack(alloy_rlp::encode_fixed_size(&adjust_index_for_rlp(i, n))))
            .collect();
        let mut heads = Vec::with_capacity(n * 16);
        let mut spans = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        for (i, key) in keys.iter().enumerate() {
            let before = i
                .checked_sub(1)
                .map_or(0, |p| keys[p].common_prefix_length(key));
            let after = keys.get(i + 1).map_or(0, |k| k.common_prefix_length(key));
            let depth = before.max(after) + 1;
            let value: &[u8] = &transactions[adjust_index_for_rlp(i, n)];
            // A one-byte value below 0x80 is its own encoding, without a header; such a leaf
            // is far below the hashed size anyway.
            if value.len() == 1 && value[0] < EMPTY_STRING_CODE {
                return None;
            }
            // As alloy's `LeafNodeRef::encode`: the list header, the hex-prefix key path, the
            // value's string header; then the value itself.
            let path = encode_path_leaf(&key.slice(depth..), true);
            let value_header = Header {
                list: false,
                payload_length: value.len(),
            };
            let payload_length = path.as_slice().length() + value_header.length() + value.len();
            let start = heads.len();
            Header {
                list: true,
                payload_length,
            }
            .encode(&mut heads);
            path.as_slice().encode(&mut heads);
            value_header.encode(&mut heads);
            if heads.len() - start + value.len() < MIN_HASHED_NODE {
                return None;
            }
            spans.push(start..heads.len());
            values.push(value);
        }
        Some(Self {
            keys,
            heads,
            spans,
            values,
        })
    }

    /// Each leaf node as its header bytes and its value, in key order: hashed as their
    /// concatenation ([`keccak256_many`]).
    pub fn parts(&self) -> Vec<(&[u8], &[u8])> {
        self.spans
            .iter()
            .zip(&self.values)
            .map(|(span, value)| (&self.heads[span.clone()], *value))
            .collect()
    }

    /// The encoded leaf nodes, in key order, each in one piece (a copy; for tests and
    /// benchmarks).
    pub fn nodes(&self) -> Vec<Vec<u8>> {
        self.parts()
            .into_iter()
            .map(|(head, value)| [head, value].concat())
            .collect()
    }

    /// The trie root, given the Keccak-256 of each of [`Self::nodes`] in the same order (a
    /// missing hash counts as zero, which gives a wrong root rather than a panic).
    pub fn root(&self, hashes: impl IntoIterator<Item = B256>) -> B256 {
        let mut hashes: Vec<B256> = hashes.into_iter().take(self.keys.len()).collect();
        hashes.resize(self.keys.len(), B256::ZERO);
        root_above_leaves(&self.keys, &hashes)
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
    fn leaf_nodes_are_alloys_leaf_encoding() {
        // Transactions across the one-, two- and three-byte string headers (56 and 256 bytes),
        // with keys of one to three bytes (300 transactions).
        let lengths: Vec<usize> = (0..300).map(|i| 29 + (i * 37) % 400).collect();
        let txs = transactions(&lengths, 5);
        let n = txs.len();
        let leaves = TrieLeaves::encode(&txs).expect("hashed leaves");
        for (i, node) in leaves.nodes().iter().enumerate() {
            let key = &leaves.keys[i];
            let shared = |j: usize| {
                leaves
                    .keys
                    .get(j)
                    .map_or(0, |k| k.common_prefix_length(key))
            };
            let depth = i.checked_sub(1).map_or(0, shared).max(shared(i + 1)) + 1;
            let mut expected = Vec::new();
            alloy_trie::nodes::LeafNodeRef::new(
                &key.slice(depth..),
                &txs[adjust_index_for_rlp(i, n)],
            )
            .encode(&mut expected);
            assert_eq!(*node, expected, "leaf {i}");
        }
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
