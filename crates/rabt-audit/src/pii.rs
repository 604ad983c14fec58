//! Keyed digests of personal data: HMAC-SHA256 under a deployment key (`RABT_PII_KEY`).
//!
//! The audit log keeps the digest of an identity number, never the number: an auditor
//! who has the number and the key can find every request about that person, while
//! someone who reads the log (or a checkpoint's evidence) learns nothing — a plain
//! SHA-256 of a ten-digit number would fall to trying all of them in seconds. Each kind
//! of identifier is digested in its own domain, so an identity number and a mobile that
//! happen to share digits never collide.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::error::AuditError;
use crate::hash::hex;
use crate::jcs::canonical;

/// The shortest key accepted, in bytes: HMAC-SHA256's own block of security.
pub const MIN_KEY_BYTES: usize = 32;

/// What kind of personal identifier a digest is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A national ID or iqama number (ten digits).
    IdNumber,
    /// A mobile number, normalised to `9665…`.
    Mobile,
}

impl Subject {
    /// The domain label mixed into the digest.
    pub fn label(self) -> &'static str {
        match self {
            Subject::IdNumber => "id-number",
            Subject::Mobile => "mobile",
        }
    }
}

/// The deployment's key for digests of personal data. Its `Debug` output hides it.
#[derive(Clone)]
pub struct PiiKey(Vec<u8>);

impl fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PiiKey(***)")
    }
}

impl PiiKey {
    /// The key from its text (any text of at least [`MIN_KEY_BYTES`] bytes; `rabt audit
    /// keygen` prints 32 random bytes in base64).
    pub fn new(text: &str) -> Result<PiiKey, AuditError> {
        let text = text.trim();
        if text.len() < MIN_KEY_BYTES {
            return Err(AuditError::malformed(
                "personal-data key",
                format!("it must be at least {MIN_KEY_BYTES} bytes long"),
            ));
        }
        Ok(PiiKey(text.as_bytes().to_vec()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    /// The digest of an identifier, in lower-case hex. The caller normalises the value
    /// first (a mobile to `9665…`), so every spelling of one number has one digest.
    pub fn digest(&self, subject: Subject, value: &str) -> String {
        let mut mac = self.mac();
        mac.update(subject.label().as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The digest of a whole document (an expired request's input or output), over its
    /// RFC 8785 bytes: whoever still holds the document can show it is the one Rabt
    /// handled.
    pub fn document_digest(&self, document: &Value) -> Result<String, AuditError> {
        let mut mac = self.mac();
        mac.update(b"document\0");
        mac.update(&canonical(document)?);
        Ok(hex(&mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = "a deployment key of enough length, 1";

    #[test]
    fn digests_are_keyed_and_separated_by_kind() {
        let key = PiiKey::new(KEY).unwrap();
        let other = PiiKey::new("another deployment key, long enough").unwrap();
        let id = key.digest(Subject::IdNumber, "1000000008");
        assert_eq!(id.len(), 64);
        assert_eq!(id, key.digest(Subject::IdNumber, "1000000008"));
        assert_ne!(id, other.digest(Subject::IdNumber, "1000000008"));
        assert_ne!(id, key.digest(Subject::Mobile, "1000000008"));
        assert_ne!(id, key.digest(Subject::IdNumber, "2000000006"));
        assert!(!id.contains("1000000008"));
    }

    #[test]
    fn short_keys_are_refused_and_never_shown() {
        assert!(PiiKey::new("short").is_err());
        let key = PiiKey::new(KEY).unwrap();
        assert!(!format!("{key:?}").contains("deployment"));
    }

    #[test]
    fn document_digests_ignore_member_order() {
        let key = PiiKey::new(KEY).unwrap();
        let a = key.document_digest(&json!({"a": 1, "b": "x"})).unwrap();
        let b = key.document_digest(&json!({"b": "x", "a": 1})).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, key.document_digest(&json!({"a": 2, "b": "x"})).unwrap());
    }
}
