//! The RFC 9162 Merkle tree over stored nodes.
//!
//! Only *perfect* subtrees are stored: node (level `l`, index `i`) is the root of leaves
//! `[i·2^l, (i+1)·2^l)`, written once when its last leaf is appended and never changed.
//! Every subtree the RFC's recursion names — a root, a sibling on an inclusion path, an
//! element of a consistency proof — is either such a node or a right edge `[a, n)`
//! whose hash folds a few of them (one per bit of its width). A proof of a tree of `n`
//! leaves therefore needs O(log n) stored nodes, found without reading any others:
//! [`inclusion_ranges`] and [`consistency_ranges`] name the subtrees, [`nodes_of`]
//! the stored nodes they fold, and [`range_hash`] folds them.

use std::collections::HashMap;
use std::ops::Range;

use crate::error::AuditError;
use crate::hash::{Hash, empty_root, node_hash};

/// A stored node: the root of the perfect subtree of leaves
/// `[index·2^level, (index+1)·2^level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// 0 for leaves.
    pub level: u8,
    /// The position within the level.
    pub index: u64,
}

/// The highest level [`NodeId::key`] can express (2^56 leaves are far beyond any log).
const INDEX_BITS: u32 = 56;

impl NodeId {
    /// The leaf at `index`.
    pub fn leaf(index: u64) -> NodeId {
        NodeId { level: 0, index }
    }

    /// The leaves it covers.
    pub fn leaves(&self) -> Range<u64> {
        let width = 1u64 << self.level;
        self.index * width..(self.index + 1) * width
    }

    /// One integer per node (`level·2^56 + index`), so a database finds a set of nodes
    /// with `IN (…)` on one indexed column.
    pub fn key(&self) -> i64 {
        ((u64::from(self.level) << INDEX_BITS) | self.index) as i64
    }

    /// The node of a [`NodeId::key`].
    pub fn from_key(key: i64) -> NodeId {
        let key = key as u64;
        NodeId {
            level: (key >> INDEX_BITS) as u8,
            index: key & ((1u64 << INDEX_BITS) - 1),
        }
    }
}

/// The largest power of two strictly smaller than `n` (n ≥ 2): where RFC 9162 splits a
/// tree of `n` leaves.
pub fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The stored nodes whose fold is the hash of leaves `[start, end)`, largest first.
/// `start` must be aligned to a power of two at least as large as the width, as every
/// subtree the RFC's recursion names is; then the chunks are perfect subtrees.
pub fn nodes_of(range: &Range<u64>) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let left = range.end - at;
        // The largest power of two that divides `at` and fits in what is left.
        let fits = 63 - left.leading_zeros();
        let aligned = if at == 0 { 63 } else { at.trailing_zeros() };
        let level = fits.min(aligned);
        nodes.push(NodeId {
            level: level as u8,
            index: at >> level,
        });
        at += 1u64 << level;
    }
    nodes
}

/// The hash of leaves `[start, end)` from stored nodes: the fold of [`nodes_of`] from
/// the right, which is RFC 9162's MTH of that subtree.
pub fn range_hash(range: &Range<u64>, nodes: &HashMap<NodeId, Hash>) -> Result<Hash, AuditError> {
    let ids = nodes_of(range);
    let mut hashes = ids.iter().rev().map(|id| {
        nodes.get(id).copied().ok_or(AuditError::MissingNode {
            level: id.level,
            index: id.index,
        })
    });
    let Some(last) = hashes.next() else {
        return Ok(empty_root());
    };
    hashes.try_fold(last?, |right, left| Ok(node_hash(&left?, &right)))
}

/// The subtrees whose hashes make the inclusion proof of leaf `index` in a tree of
/// `size` leaves (RFC 9162 §2.1.3.1 PATH), bottom-up as the proof lists them.
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>, AuditError> {
    if index >= size {
        return Err(AuditError::OutOfRange(format!(
            "leaf {index} is not in a tree of {size}"
        )));
    }
    let (mut start, mut end) = (0, size);
    let mut top_down = Vec::new();
    while end - start > 1 {
        let k = split(end - start);
        if index < start + k {
            top_down.push(start + k..end);
            end = start + k;
        } else {
            top_down.push(start..start + k);
            start += k;
        }
    }
    top_down.reverse();
    Ok(top_down)
}

/// The subtrees whose hashes make the consistency proof between trees of `first` and
/// `second` leaves (RFC 9162 §2.1.4.1 SUBPROOF), in the proof's order. Empty when the
/// sizes are equal.
pub fn consistency_ranges(first: u64, second: u64) -> Result<Vec<Range<u64>>, AuditError> {
    if first == 0 || first > second {
        return Err(AuditError::OutOfRange(format!(
            "no consistency proof from {first} to {second}: it needs 1 ≤ from ≤ to"
        )));
    }
    let (mut start, mut end, mut m) = (0, second, first);
    // Whether the current subtree is still the old tree's own left edge, whose hash the
    // verifier already knows (the RFC's `b`).
    let mut known = true;
    let mut top_down = Vec::new();
    loop {
        let width = end - start;
        if m == width {
            if !known {
                top_down.push(start..end);
            }
            break;
        }
        let k = split(width);
        if m <= k {
            top_down.push(start + k..end);
            end = start + k;
        } else {
            top_down.push(start..start + k);
            start += k;
            m -= k;
            known = false;
        }
    }
    top_down.reverse();
    Ok(top_down)
}

/// Every stored node that the hashes of `ranges` need, each once.
pub fn nodes_for(ranges: &[Range<u64>]) -> Vec<NodeId> {
    let mut all: Vec<NodeId> = ranges.iter().flat_map(nodes_of).collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The hashes of `ranges`, from stored nodes: a proof.
pub fn proof_from(
    ranges: &[Range<u64>],
    nodes: &HashMap<NodeId, Hash>,
) -> Result<Vec<Hash>, AuditError> {
    ranges.iter().map(|r| range_hash(r, nodes)).collect()
}

/// The right edge of a tree: the roots of the perfect subtrees that make up
/// `[0, size)`, one per set bit of `size`, largest first. With it the tree grows one
/// leaf at a time, emitting each perfect node as it completes, and gives its root —
/// without reading anything else (a "compact range").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(node, hash)`, largest subtree first.
    edge: Vec<(NodeId, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn empty() -> Frontier {
        Frontier {
            size: 0,
            edge: Vec::new(),
        }
    }

    /// The nodes a frontier of `size` leaves is made of (read them, then
    /// [`Frontier::from_nodes`]).
    pub fn nodes(size: u64) -> Vec<NodeId> {
        if size == 0 {
            Vec::new()
        } else {
            nodes_of(&(0..size))
        }
    }

    /// The frontier of `size` leaves from its stored nodes.
    pub fn from_nodes(size: u64, nodes: &HashMap<NodeId, Hash>) -> Result<Frontier, AuditError> {
        let edge = Frontier::nodes(size)
            .into_iter()
            .map(|id| {
                nodes
                    .get(&id)
                    .map(|hash| (id, *hash))
                    .ok_or(AuditError::MissingNode {
                        level: id.level,
                        index: id.index,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Frontier { size, edge })
    }

    /// How many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf (its hash) and returns every node this completes: the leaf
    /// itself, then each parent whose right child it finished, bottom-up.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut id = NodeId::leaf(self.size);
        let mut hash = leaf;
        let mut made = vec![(id, hash)];
        // A node with an odd index is a right child: its left sibling is the smallest
        // subtree of the edge, and together they complete their parent.
        while id.index % 2 == 1 {
            let Some((_, left)) = self.edge.pop() else {
                break;
            };
            hash = node_hash(&left, &hash);
            id = NodeId {
                level: id.level + 1,
                index: id.index / 2,
            };
            made.push((id, hash));
        }
        self.edge.push((id, hash));
        self.size += 1;
        made
    }

    /// The root: the edge folded from the right (RFC 9162 MTH of all leaves).
    pub fn root(&self) -> Hash {
        let mut hashes = self.edge.iter().rev().map(|(_, hash)| *hash);
        match hashes.next() {
            None => empty_root(),
            Some(last) => hashes.fold(last, |right, left| node_hash(&left, &right)),
        }
    }
}

#[cfg(test)]
mod tests;
