//! What can go wrong in the audit log's cryptography.

/// Why a proof, a note, a key or a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// A hash is not base64 of 32 bytes.
    #[error("a hash must be base64 of 32 bytes")]
    BadHash,
    /// A leaf index or tree size out of range (index ≥ size, a proof between sizes
    /// that are not 1 ≤ first ≤ second).
    #[error("{0}")]
    OutOfRange(String),
    /// A proof has the wrong length or does not lead to the root.
    #[error("the proof does not verify: {0}")]
    ProofFailed(&'static str),
    /// A stored node a proof needs is missing (the tree is not sealed that far).
    #[error("node {level}/{index} of the tree is missing")]
    MissingNode {
        /// Its level (0: leaves).
        level: u8,
        /// Its index within the level.
        index: u64,
    },
    /// A document cannot be written as RFC 8785 JSON (a number outside what an IEEE
    /// double holds exactly).
    #[error("not canonical JSON: {0}")]
    NotCanonical(String),
    /// A key, note or checkpoint is malformed.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was read (`signing key`, `verifier key`, `signed note`, `checkpoint`).
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A note carries no valid signature by the given key.
    #[error("no valid signature by {0}")]
    BadSignature(String),
}

impl AuditError {
    pub(crate) fn malformed(what: &'static str, why: impl Into<String>) -> AuditError {
        AuditError::Malformed {
            what,
            why: why.into(),
        }
    }
}
