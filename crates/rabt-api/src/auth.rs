//! Who is calling: cooperatives by API key (`Authorization: Bearer rabt_…`).
//!
//! Keys are random, shown once when created, and stored only as their SHA-256 digest:
//! a key has ~238 bits of entropy, so a fast hash is enough (a slow password hash
//! protects guessable secrets, which these are not).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rabt_store::{Cooperative, StoreError};
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
        let missing = || {
            ApiError::new(ProblemKind::Unauthorized).detail(
                "send your API key as `Authorization: Bearer <key>`",
                "أرسل مفتاحك بالصيغة `Authorization: Bearer <key>`",
            )
        };
        let cooperative = bearer_holder(
            parts,
            missing,
            "authenticating a cooperative",
            async |digest| state.store().api_key_holder(digest).await,
        )
        .await?;
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

/// The holder of a request's bearer secret (a cooperative's API key, an operator's
/// token): `lookup` finds it by the secret's digest, `None` when nobody holds it.
/// Operators' tokens are looked up on every request; cooperatives' keys may be answered
/// from the store's key cache (`rabt_store::key_cache`, `api.key_cache_ttl_ms`), which
/// refuses a revoked key or a deactivated cooperative at once in the process that made
/// the change and within a quarter of a second in the others, and never remembers an
/// unknown key. Without a well-formed `Authorization: Bearer` header the request is
/// refused with `missing()`.
pub(crate) async fn bearer_holder<T>(
    parts: &Parts,
    missing: impl FnOnce() -> ApiError,
    doing: &'static str,
    lookup: impl AsyncFnOnce(&str) -> Result<Option<T>, StoreError>,
) -> Result<Option<T>, ApiError> {
    let secret = bearer_token(parts).ok_or_else(missing)?;
    lookup(&hash_secret(secret))
        .await
        .map_err(|e| crate::state::store_error(doing, e))
}

/// The token of an `Authorization: Bearer <token>` header, if well formed.
fn bearer_token(parts: &Parts) -> Option<&str> {
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

    fn parts(authorization: Option<&str>) -> Parts {
        let mut request = axum::http::Request::builder();
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_a_well_formed_bearer_header_gives_a_token() {
        let long = format!("Bearer {}", "k".repeat(257));
        for (header, token) in [
            (Some("Bearer rabt_abc"), Some("rabt_abc")),
            (Some("bearer  rabt_abc "), Some("rabt_abc")),
            (Some("Basic cmFidDp4"), None),
            (Some("Bearer "), None),
            (Some("rabt_abc"), None),
            (Some(long.as_str()), None),
            (None, None),
        ] {
            assert_eq!(bearer_token(&parts(header)), token, "{header:?}");
        }
    }

    #[test]
    fn secrets_are_prefixed_and_distinct() {
        let a = generate_secret(API_KEY_PREFIX);
        let b = generate_secret(API_KEY_PREFIX);
        assert!(a.starts_with("rabt_") && a.len() == 45);
        assert_ne!(a, b);
    }
}
