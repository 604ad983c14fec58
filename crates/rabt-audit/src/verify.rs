//! Checking proofs, as a cooperative or an auditor does with their own copy of the
//! algorithms: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), step for step.

use subtle::ConstantTimeEq;

use crate::error::AuditError;
use crate::hash::{Hash, node_hash};

fn same(a: &Hash, b: &Hash) -> bool {
    a.0.ct_eq(&b.0).into()
}

/// Checks that the leaf with hash `leaf` is at `index` in the tree of `size` leaves
/// whose root is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), AuditError> {
    if index >= size {
        return Err(AuditError::OutOfRange(format!(
            "leaf {index} is not in a tree of {size}"
        )));
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(AuditError::ProofFailed("the inclusion proof is too long"));
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(AuditError::ProofFailed("the inclusion proof is too short"));
    }
    if !same(&r, root) {
        return Err(AuditError::ProofFailed(
            "the inclusion proof leads to another root",
        ));
    }
    Ok(())
}

/// Checks that the tree of `second` leaves with root `second_root` extends the tree of
/// `first` leaves with root `first_root`: nothing sealed was changed, removed or
/// reordered in between.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> Result<(), AuditError> {
    if first == 0 || first > second {
        return Err(AuditError::OutOfRange(format!(
            "no consistency proof from {first} to {second}: it needs 1 ≤ from ≤ to"
        )));
    }
    if first == second {
        // The RFC's algorithm assumes first < second; equal trees have an empty proof.
        return if proof.is_empty() && same(first_root, second_root) {
            Ok(())
        } else {
            Err(AuditError::ProofFailed(
                "trees of one size must have one root and an empty proof",
            ))
        };
    }
    let (fr, sr) = roots_from_consistency_proof(first, second, proof, first_root)?;
    if !same(&fr, first_root) {
        return Err(AuditError::ProofFailed(
            "the consistency proof does not lead to the first root",
        ));
    }
    if !same(&sr, second_root) {
        return Err(AuditError::ProofFailed(
            "the consistency proof does not lead to the second root",
        ));
    }
    Ok(())
}

/// The two roots a consistency proof leads to, by RFC 9162's algorithm (section
/// 2.1.4.2) for `first < second`: the first tree's and the second's, for the caller to
/// compare with the roots it was given.
fn roots_from_consistency_proof(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
) -> Result<(Hash, Hash), AuditError> {
    if proof.is_empty() {
        return Err(AuditError::ProofFailed("the consistency proof is empty"));
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s == 0 {
            return Err(AuditError::ProofFailed("the consistency proof is too long"));
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(AuditError::ProofFailed(
            "the consistency proof is too short",
        ));
    }
    Ok((fr, sr))
}
