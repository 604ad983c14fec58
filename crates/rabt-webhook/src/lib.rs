//! Standard Webhooks 1.0 (<https://www.standardwebhooks.com>): the signature scheme of
//! the callbacks agencies send Rabt and of the notifications Rabt sends cooperatives.
//!
//! A message is signed over `"{webhook-id}.{webhook-timestamp}.{body}"` with HMAC-SHA256
//! and the base64-decoded secret (`whsec_…`); the signature travels as
//! `webhook-signature: v1,<base64>`, several space-separated when secrets rotate. The
//! receiver checks the timestamp within a tolerance (±5 minutes), compares signatures in
//! constant time against each of its current secrets, and uses `webhook-id` to drop
//! replays (that last part is the caller's: it needs storage).
//!
//! Pure computation, no IO; depends on nothing of ours.

#![forbid(unsafe_code)]

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the message id.
pub const ID_HEADER: &str = "webhook-id";
/// The header carrying the Unix time of signing, in seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far a timestamp may be from the receiver's clock, either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const PREFIX: &str = "whsec_";

/// Why a secret or a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` + base64 of 24 to 64 bytes.
    #[error("a webhook secret must be `whsec_` followed by base64 of 24 to 64 bytes")]
    BadSecret,
    /// A required header is missing or not text.
    #[error("missing or unreadable `{0}` header")]
    MissingHeader(&'static str),
    /// The timestamp is not a number of seconds.
    #[error("`webhook-timestamp` is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is outside the tolerance.
    #[error("`webhook-timestamp` is {0} s away from now, beyond the tolerance")]
    StaleTimestamp(i64),
    /// No signature matches any current secret.
    #[error("no `v1` signature matches")]
    BadSignature,
}

/// A signing secret. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl Secret {
    /// Parses `whsec_<base64>` (24 to 64 bytes, as the specification recommends).
    pub fn parse(text: &str) -> Result<Secret, WebhookError> {
        let encoded = text.strip_prefix(PREFIX).unwrap_or(text);
        let key = BASE64
            .decode(encoded.trim())
            .map_err(|_| WebhookError::BadSecret)?;
        if !(24..=64).contains(&key.len()) {
            return Err(WebhookError::BadSecret);
        }
        Ok(Secret { key })
    }

    /// A fresh random secret of 32 bytes.
    pub fn generate() -> Secret {
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Secret { key }
    }

    /// The `whsec_…` text form, to hand to the other side once.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", BASE64.encode(&self.key))
    }

    /// The `v1,<base64>` signature of a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", BASE64.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length (RFC 2104 hashes long ones), so this cannot
        // fail; the 24-byte minimum is policy, enforced in parse.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC-SHA256 accepts keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The three headers of a signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
}

/// Signs `body` as message `id` at `timestamp` with every secret (the first is the
/// current one; the others let a receiver that has not rotated yet still verify).
pub fn sign(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let signature = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    SignedHeaders {
        id: id.to_owned(),
        timestamp: timestamp.to_string(),
        signature,
    }
}

/// Checks a received message: the timestamp within `tolerance` of `now` (Unix seconds),
/// and at least one `v1` signature made with one of `secrets`. With no secrets nothing
/// verifies: there is no default.
pub fn verify(
    secrets: &[Secret],
    headers: &SignedHeaders,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let timestamp: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| WebhookError::BadTimestamp)?;
    let skew = timestamp.saturating_sub(now);
    if skew.unsigned_abs() > tolerance.as_secs() {
        return Err(WebhookError::StaleTimestamp(skew));
    }
    let offered: Vec<Vec<u8>> = headers
        .signature
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| BASE64.decode(s).ok())
        .collect();
    for secret in secrets {
        let expected = secret.mac(&headers.id, timestamp, body);
        // Constant time per comparison, so the signature cannot be guessed byte by byte.
        if offered
            .iter()
            .any(|sig| bool::from(sig.as_slice().ct_eq(&expected)))
        {
            return Ok(());
        }
    }
    Err(WebhookError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its reference libraries.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &str = r#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_example() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();
        assert_eq!(
            secret.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY.as_bytes()),
            SPEC_SIGNATURE
        );
    }

    #[test]
    fn verifies_with_any_current_secret_and_refuses_forgeries() {
        let old = Secret::generate();
        let new = Secret::generate();
        let headers = sign(std::slice::from_ref(&new), "msg_1", 1_000, b"{}");
        let tolerance = DEFAULT_TOLERANCE;
        assert_eq!(
            verify(
                &[old.clone(), new.clone()],
                &headers,
                b"{}",
                1_000,
                tolerance
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&old),
                &headers,
                b"{}",
                1_000,
                tolerance
            ),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&new),
                &headers,
                b"{ }",
                1_000,
                tolerance
            ),
            Err(WebhookError::BadSignature)
        );
        let other_id = SignedHeaders {
            id: "msg_2".into(),
            ..headers.clone()
        };
        assert_eq!(
            verify(
                std::slice::from_ref(&new),
                &other_id,
                b"{}",
                1_000,
                tolerance
            ),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify(&[], &headers, b"{}", 1_000, tolerance),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let (a, b) = (Secret::generate(), Secret::generate());
        let headers = sign(&[a.clone(), b.clone()], "m", 5, b"x");
        assert_eq!(headers.signature.split(' ').count(), 2);
        assert!(verify(&[b], &headers, b"x", 5, DEFAULT_TOLERANCE).is_ok());
        assert!(verify(&[a], &headers, b"x", 5, DEFAULT_TOLERANCE).is_ok());
    }

    #[test]
    fn timestamps_outside_five_minutes_are_stale() {
        let secret = Secret::generate();
        let headers = sign(std::slice::from_ref(&secret), "m", 10_000, b"x");
        let ok = |now| {
            verify(
                std::slice::from_ref(&secret),
                &headers,
                b"x",
                now,
                DEFAULT_TOLERANCE,
            )
        };
        assert!(ok(10_300).is_ok());
        assert!(ok(9_700).is_ok());
        assert_eq!(ok(10_301), Err(WebhookError::StaleTimestamp(-301)));
        assert_eq!(ok(9_699), Err(WebhookError::StaleTimestamp(301)));
        let garbage = SignedHeaders {
            timestamp: "soon".into(),
            ..headers
        };
        assert_eq!(
            verify(&[secret], &garbage, b"x", 10_000, DEFAULT_TOLERANCE),
            Err(WebhookError::BadTimestamp)
        );
    }

    #[test]
    fn secrets_parse_strictly_and_never_print() {
        assert!(Secret::parse("whsec_short").is_err());
        assert!(Secret::parse("whsec_***").is_err());
        let secret = Secret::generate();
        assert_eq!(Secret::parse(&secret.expose()).unwrap(), secret);
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }
}
