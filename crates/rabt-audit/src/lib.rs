//! The cryptography of Rabt's tamper-evident audit log, as pure computation: no IO, no
//! database, nothing of ours. The store keeps the log, its tree nodes and checkpoints;
//! this crate says what the bytes must be, so the code that writes them and the code
//! that checks them (`rabt audit verify`, the tests, a cooperative's own verifier)
//! agree on one definition.
//!
//! - Every audit entry is a leaf of an RFC 9162 (Certificate Transparency v2) Merkle
//!   tree, in log order: leaf hash = SHA-256(0x00 ‖ the entry's RFC 8785 bytes), node
//!   hash = SHA-256(0x01 ‖ left ‖ right).
//! - Inclusion and consistency proofs are generated from stored perfect-subtree nodes
//!   (O(log n) of them per proof) and verified with the RFC's algorithms.
//! - Tree heads are C2SP checkpoints, signed as C2SP signed notes with Ed25519.
//! - Personal identifiers enter the log only as HMAC-SHA256 digests under a deployment
//!   key.
//!
//! Layout:
//! - [`hash`]: leaf and node hashing; [`tree`]: subtrees, stored nodes, proofs, the
//!   frontier that appends leaves; [`verify`]: proof checking.
//! - [`jcs`]: RFC 8785 canonical JSON.
//! - [`note`]: signed notes, Ed25519 keys, checkpoints.
//! - [`pii`]: keyed digests of personal data.
//! - `error`: [`AuditError`].

#![forbid(unsafe_code)]

mod error;
pub mod hash;
pub mod jcs;
pub mod note;
pub mod pii;
pub mod tree;
pub mod verify;

pub use error::AuditError;
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use note::{Checkpoint, SigningKey, VerifierKey};
pub use pii::{PiiKey, Subject};
pub use tree::{Frontier, NodeId};
pub use verify::{verify_consistency, verify_inclusion};
