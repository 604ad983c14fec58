//! RFC 9162 §2.1.1 hashing: SHA-256 with a one-byte prefix that keeps leaves and
//! interior nodes apart (a leaf can never be passed off as a node, or the reverse).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::error::AuditError;

/// A SHA-256 digest: a leaf hash, a node hash or a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64 with padding, as checkpoints and proofs carry hashes.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Reads standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Hash, AuditError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|_| AuditError::BadHash)?;
        Hash::from_slice(&bytes)
    }

    /// Exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, AuditError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| AuditError::BadHash)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// A leaf: SHA-256(0x00 ‖ entry bytes).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

/// An interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_rfc_9162() {
        // SHA-256 of the empty string, and of the single byte 0x00 (the empty leaf).
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let left = leaf_hash(b"a");
        let right = leaf_hash(b"b");
        let mut raw = vec![0x01];
        raw.extend_from_slice(&left.0);
        raw.extend_from_slice(&right.0);
        assert_eq!(
            node_hash(&left, &right).0,
            <[u8; 32]>::from(Sha256::digest(&raw))
        );
    }

    #[test]
    fn base64_round_trips_and_refuses_other_lengths() {
        let hash = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&hash.to_base64()).unwrap(), hash);
        assert!(Hash::from_base64("AAAA").is_err());
        assert!(Hash::from_base64("not base64!").is_err());
    }
}
