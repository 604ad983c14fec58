//! Who is calling: cooperatives by API key (`Authorization: Bearer rabt_…`).
//!
//! Keys are random, shown once when created, and stored only as their SHA-256 digest:
//! a key has ~238 bits of entropy, so a fast hash is enough (a slow password hash
//! protects guessable secrets, which these are not).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rabt_store::Cooperative;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use crate::problem::{ApiError, ProblemKind};
use crate::state::AppState;

/// The prefix of cooperatives' API keys, so a leaked key is recognisable by scanners.
pub const API_KEY_PREFIX: &str = "rabt_";
/// The prefix of operators' tokens.
pub const OPERATOR_TOKEN_PREFIX: &str = "rabt_op_";

/// The hex SHA-256 digest under which a key or token is stored.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A fresh secret: `prefix` and 40 random letters and digits from the OS's CSPRNG.
pub fn generate_secret(prefix: &str) -> String {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("{prefix}{random}")
}

/// The authenticated cooperative of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Cooperative);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Authenticated already by the cooperatives' rate limit (crate::limits).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let key = bearer_token(parts).ok_or_else(|| {
            ApiError::new(ProblemKind::Unauthorized).detail(
                "send your API key as `Authorization: Bearer <key>`",
                "أرسل مفتاحك بالصيغة `Authorization: Bearer <key>`",
            )
        })?;
        // Looked up on every request, never cached: a revoked key or a deactivated
        // cooperative is refused at once by every api process.
        let cooperative = state
            .store()
            .api_key_holder(&hash_secret(key))
            .await
            .map_err(|e| crate::state::store_error("authenticating a cooperative", e))?;
        match cooperative {
            None => Err(ApiError::new(ProblemKind::Unauthorized).detail(
                "the API key is unknown, revoked or expired",
                "مفتاح الواجهة البرمجية غير معروف أو ملغى أو منتهٍ",
            )),
            Some(cooperative) if !cooperative.active => Err(ApiError::new(
                ProblemKind::CooperativeInactive,
            )
            .detail(
                "your cooperative is deactivated: ask the ministry's operators to reactivate it",
                "جمعيتك موقوفة: اطلب من مشغّلي الوزارة إعادة تفعيلها",
            )),
            Some(cooperative) => Ok(Caller(cooperative)),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header, if well formed.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 256)
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_are_prefixed_and_distinct() {
        let a = generate_secret(API_KEY_PREFIX);
        let b = generate_secret(API_KEY_PREFIX);
        assert!(a.starts_with("rabt_") && a.len() == 45);
        assert_ne!(a, b);
    }
}
