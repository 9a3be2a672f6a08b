//! The branch and extension nodes above a transactions trie's leaves, hashed level by level.
//!
//! Once the leaves are hashed ([`super::tx_root`]), the nodes above them are few (about 70 for
//! 1000 transactions) but large: a full branch node is 532 bytes, four Keccak blocks. Nodes of
//! the same height do not depend on each other, so each height is encoded and then hashed in
//! one [`keccak256_many`] call, four nodes per permutation, instead of one by one as alloy's
//! `HashBuilder` does. The encodings are alloy's own (`BranchNodeRef`, `ExtensionNodeRef`), so
//! the root is byte-for-byte the same.

use alloy_primitives::B256;
use alloy_rlp::Encodable;
use alloy_trie::{
    nodes::{BranchNodeRef, ExtensionNodeRef, RlpNode},
    Nibbles, TrieMask,
};

use super::keccak_lanes::keccak256_many;

/// What a branch slot or an extension points at.
#[derive(Debug, Clone, Copy)]
enum Child {
    /// The leaf at this index of the sorted keys.
    Leaf(usize),
    /// The node at this index of [`Upper::nodes`].
    Node(usize),
}

/// A node above the leaves.
#[derive(Debug)]
enum Node {
    /// Children by nibble, ascending.
    Branch(Vec<(u8, Child)>),
    /// A shared run of nibbles in front of a branch.
    Extension(Nibbles, Child),
}

/// The nodes above the leaves, children before parents, with their heights.
struct Upper<'a> {
    keys: &'a [Nibbles],
    nodes: Vec<Node>,
    heights: Vec<usize>,
}

impl Upper<'_> {
    /// Adds the subtrie of `keys[lo..hi]` (at least two keys sharing their first `depth`
    /// nibbles) and returns its top node and height.
    fn build(&mut self, lo: usize, hi: usize, depth: usize) -> (Child, usize) {
        if hi - lo == 1 {
            return (Child::Leaf(lo), 0);
        }
        // The keys are sorted, so the first and last share the prefix all of them share.
        let fork = self.keys[lo].common_prefix_length(&self.keys[hi - 1]);
        let mut children = Vec::new();
        let mut height = 0;
        let mut start = lo;
        while start < hi {
            let nibble = self.keys[start].get_unchecked(fork);
            let end = (start + 1..hi)
                .find(|&k| self.keys[k].get_unchecked(fork) != nibble)
                .unwrap_or(hi);
            let (child, child_height) = self.build(start, end, fork + 1);
            children.push((nibble, child));
            height = height.max(child_height);
            start = end;
        }
        let mut top = self.push(Node::Branch(children), height + 1);
        if fork > depth {
            let path = self.keys[lo].slice(depth..fork);
            top = self.push(Node::Extension(path, top), height + 2);
        }
        (top, self.heights[self.nodes.len() - 1])
    }

    fn push(&mut self, node: Node, height: usize) -> Child {
        self.nodes.push(node);
        self.heights.push(height);
        Child::Node(self.nodes.len() - 1)
    }
}

/// The root of the trie whose leaves hang at `keys` (sorted, distinct, none a prefix of
/// another, at least two) and whose leaf nodes hash to `leaf_hashes`, given that every node
/// of it is at least 32 bytes long (so referenced by hash, never inlined).
pub(super) fn root_above_leaves(keys: &[Nibbles], leaf_hashes: &[B256]) -> B256 {
    let mut upper = Upper {
        keys,
        nodes: Vec::new(),
        heights: Vec::new(),
    };
    let (top, height) = upper.build(0, keys.len(), 0);
    let Child::Node(top) = top else {
        // A single leaf: its node is the root.
        return leaf_hashes.first().copied().unwrap_or_default();
    };
    let mut hashes = vec![B256::ZERO; upper.nodes.len()];
    let reference = |child: Child, hashes: &[B256]| {
        RlpNode::word_rlp(&match child {
            Child::Leaf(i) => leaf_hashes[i],
            Child::Node(i) => hashes[i],
        })
    };
    let mut encoded = Vec::new();
    let mut spans = Vec::new();
    let mut members = Vec::new();
    let mut stack = Vec::with_capacity(16);
    for level in 1..=height {
        encoded.clear();
        spans.clear();
        members.clear();
        for (index, node) in upper.nodes.iter().enumerate() {
            if upper.heights[index] != level {
                continue;
            }
            let start = encoded.len();
            match node {
                Node::Branch(children) => {
                    stack.clear();
                    let mut mask = 0u16;
                    for &(nibble, child) in children {
                        mask |= 1 << nibble;
                        stack.push(reference(child, &hashes));
                    }
                    BranchNodeRef::new(&stack, TrieMask::new(mask)).encode(&mut encoded);
                }
                Node::Extension(path, child) => {
                    ExtensionNodeRef::new(path, &reference(*child, &hashes)).encode(&mut encoded);
                }
            }
            spans.push(start..encoded.len());
            members.push(index);
        }
        let messages: Vec<&[u8]> = spans.iter().map(|span| &encoded[span.clone()]).collect();
        let mut level_hashes = vec![B256::ZERO; messages.len()];
        keccak256_many(&messages, &mut level_hashes);
        for (&index, hash) in members.iter().zip(level_hashes) {
            hashes[index] = hash;
        }
    }
    hashes[top]
}
