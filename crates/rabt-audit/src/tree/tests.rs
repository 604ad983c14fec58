//! The tree over stored nodes against a naive tree written straight from RFC 9162's
//! recursive definitions (MTH, PATH, SUBPROOF): exhaustively for small trees, with
//! property tests for large ones.

#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::hash::leaf_hash;
use crate::verify::{verify_consistency, verify_inclusion};

/// RFC 9162 §2.1.1 MTH, recursively.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n as u64) as usize;
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = split(n as u64) as usize;
    if m <= k {
        let mut p = subproof(m, &leaves[..k], b);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

/// Every node a tree of these leaves stores, as the sealer writes them.
fn stored(leaves: &[Hash]) -> (Frontier, HashMap<NodeId, Hash>) {
    let mut frontier = Frontier::empty();
    let mut nodes = HashMap::new();
    for leaf in leaves {
        nodes.extend(frontier.push(*leaf));
    }
    (frontier, nodes)
}

fn inclusion_from_nodes(index: u64, size: u64, nodes: &HashMap<NodeId, Hash>) -> Vec<Hash> {
    proof_from(&inclusion_ranges(index, size).unwrap(), nodes).unwrap()
}

fn consistency_from_nodes(first: u64, second: u64, nodes: &HashMap<NodeId, Hash>) -> Vec<Hash> {
    proof_from(&consistency_ranges(first, second).unwrap(), nodes).unwrap()
}

fn flipped(proof: &[Hash], at: usize, bit: u8) -> Vec<Hash> {
    let mut bad = proof.to_vec();
    bad[at].0[(at * 7) % 32] ^= 1 << (bit % 8);
    bad
}

#[test]
fn roots_match_the_naive_tree_for_every_size_up_to_300() {
    let all = leaves(300);
    let mut frontier = Frontier::empty();
    assert_eq!(frontier.root(), mth(&[]));
    let mut nodes = HashMap::new();
    for n in 1..=all.len() {
        nodes.extend(frontier.push(all[n - 1]));
        assert_eq!(frontier.root(), mth(&all[..n]), "size {n}");
        assert_eq!(range_hash(&(0..n as u64), &nodes).unwrap(), mth(&all[..n]));
        // A frontier rebuilt from stored nodes goes on exactly as the live one.
        let rebuilt = Frontier::from_nodes(n as u64, &nodes).unwrap();
        assert_eq!(rebuilt, frontier);
    }
    // Every perfect subtree is stored, nothing else: 2n - popcount(n) nodes.
    let n = all.len() as u64;
    assert_eq!(nodes.len() as u64, 2 * n - u64::from(n.count_ones()));
}

#[test]
fn every_proof_of_trees_up_to_64_matches_the_naive_tree_and_verifies() {
    let all = leaves(64);
    let (_, nodes) = stored(&all);
    for n in 1..=all.len() {
        let tree = &all[..n];
        let root = mth(tree);
        for m in 0..n {
            let proof = inclusion_from_nodes(m as u64, n as u64, &nodes);
            assert_eq!(proof, path(m, tree), "PATH({m}, {n})");
            verify_inclusion(&tree[m], m as u64, n as u64, &proof, &root).unwrap();
        }
        for m in 1..=n {
            let proof = consistency_from_nodes(m as u64, n as u64, &nodes);
            assert_eq!(proof, subproof(m, tree, true), "PROOF({m}, {n})");
            verify_consistency(m as u64, n as u64, &proof, &mth(&tree[..m]), &root).unwrap();
        }
    }
}

#[test]
fn proofs_read_logarithmically_many_nodes() {
    for size in [1u64, 2, 3, 1000, 1 << 20, 1_000_000, (1 << 40) - 1] {
        let limit = 2 * (64 - size.leading_zeros() as usize) + 2;
        for index in [0, size / 3, size / 2, size - 1] {
            let ranges = inclusion_ranges(index, size).unwrap();
            assert!(nodes_for(&ranges).len() <= limit, "{index}/{size}");
        }
        for first in [1, size / 3, size / 2, size - 1]
            .into_iter()
            .filter(|m| *m > 0)
        {
            let ranges = consistency_ranges(first, size).unwrap();
            assert!(nodes_for(&ranges).len() <= limit, "{first}..{size}");
        }
    }
}

#[test]
fn out_of_range_proofs_are_refused() {
    assert!(inclusion_ranges(3, 3).is_err());
    assert!(consistency_ranges(0, 3).is_err());
    assert!(consistency_ranges(4, 3).is_err());
    assert!(consistency_ranges(3, 3).unwrap().is_empty());
    let all = leaves(5);
    let root = mth(&all);
    assert!(verify_inclusion(&all[0], 5, 5, &[], &root).is_err());
    assert!(verify_consistency(3, 3, &[root], &root, &root).is_err());
    verify_consistency(3, 3, &[], &root, &root).unwrap();
}

#[test]
fn node_keys_round_trip() {
    for id in [
        NodeId::leaf(0),
        NodeId::leaf(123_456_789),
        NodeId {
            level: 20,
            index: 7,
        },
        NodeId {
            level: 40,
            index: (1 << 20) - 1,
        },
    ] {
        assert_eq!(NodeId::from_key(id.key()), id);
        assert!(id.key() >= 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn large_trees_agree_with_the_naive_tree(n in 1usize..3000, seed in any::<u64>()) {
        let all = leaves(n);
        let (frontier, nodes) = stored(&all);
        let root = mth(&all);
        prop_assert_eq!(frontier.root(), root);
        let m = (seed % n as u64) as usize;
        let proof = inclusion_from_nodes(m as u64, n as u64, &nodes);
        prop_assert_eq!(&proof, &path(m, &all));
        prop_assert!(verify_inclusion(&all[m], m as u64, n as u64, &proof, &root).is_ok());
        let first = 1 + (seed.rotate_left(17) % n as u64) as usize;
        let proof = consistency_from_nodes(first as u64, n as u64, &nodes);
        prop_assert_eq!(&proof, &subproof(first, &all, true));
        prop_assert!(verify_consistency(first as u64, n as u64, &proof, &mth(&all[..first]), &root).is_ok());
    }

    #[test]
    fn any_changed_byte_or_position_fails_verification(n in 2usize..400, seed in any::<u64>()) {
        let all = leaves(n);
        let (_, nodes) = stored(&all);
        let root = mth(&all);
        let m = (seed % n as u64) as usize;
        let proof = inclusion_from_nodes(m as u64, n as u64, &nodes);
        for at in 0..proof.len() {
            let bad = flipped(&proof, at, seed as u8);
            prop_assert!(verify_inclusion(&all[m], m as u64, n as u64, &bad, &root).is_err());
        }
        let mut bad_leaf = all[m];
        bad_leaf.0[0] ^= 0x80;
        prop_assert!(verify_inclusion(&bad_leaf, m as u64, n as u64, &proof, &root).is_err());
        let other = (m + 1) % n;
        if all[other] != all[m] {
            prop_assert!(verify_inclusion(&all[other], m as u64, n as u64, &proof, &root).is_err());
        }
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(&all[m], m as u64, n as u64, &proof[1..], &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&all[m], m as u64, n as u64, &longer, &root).is_err());

        let first = 1 + (seed.rotate_left(29) % (n as u64 - 1)) as usize;
        let first_root = mth(&all[..first]);
        let proof = consistency_from_nodes(first as u64, n as u64, &nodes);
        for at in 0..proof.len() {
            let bad = flipped(&proof, at, (seed >> 8) as u8);
            prop_assert!(verify_consistency(first as u64, n as u64, &bad, &first_root, &root).is_err());
        }
        let mut bad_root = first_root;
        bad_root.0[31] ^= 1;
        prop_assert!(verify_consistency(first as u64, n as u64, &proof, &bad_root, &root).is_err());
        prop_assert!(verify_consistency(first as u64, n as u64, &proof, &first_root, &bad_root).is_err());
    }
}
