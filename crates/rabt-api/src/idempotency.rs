//! `Idempotency-Key` handling (IETF draft-ietf-httpapi-idempotency-key-header): the key's
//! syntax, and the digest of a request body that decides "same request" or "different
//! request" on reuse.
//!
//! Keys are scoped to the cooperative and kept for at least 24 hours (docs/api.md).

use axum::http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::hex;
use crate::problem::{ApiError, ProblemKind};

/// The header.
pub(crate) const HEADER: &str = "idempotency-key";
/// The longest key accepted (Stripe's limit, which clients already respect).
pub(crate) const MAX_KEY_LEN: usize = 255;

/// The key of a request: present, 1–255 printable ASCII characters. The draft defines
/// the header as a structured-field string (`"…"`); the quotes are optional here,
/// since most clients send the bare key.
pub(crate) fn key(headers: &HeaderMap) -> Result<String, ApiError> {
    if headers.get_all(HEADER).iter().nth(1).is_some() {
        return Err(ApiError::new(ProblemKind::AmbiguousRequest).detail(
            "the Idempotency-Key header was sent more than once; send exactly one",
            "أُرسلت ترويسة Idempotency-Key أكثر من مرة؛ أرسل ترويسة واحدة فقط",
        ));
    }
    let value = headers.get(HEADER).ok_or_else(|| {
        ApiError::new(ProblemKind::IdempotencyKeyMissing).detail(
            "send a unique Idempotency-Key header (e.g. a UUID) with every POST, and the same key when you retry it",
            "أرسل ترويسة Idempotency-Key فريدة (مثل UUID) مع كل طلب POST، والمفتاح نفسه عند إعادة المحاولة",
        )
    })?;
    let invalid = || {
        ApiError::new(ProblemKind::IdempotencyKeyInvalid).detail(
            format!("the key must be 1 to {MAX_KEY_LEN} printable ASCII characters"),
            format!("يجب أن يتكون المفتاح من 1 إلى {MAX_KEY_LEN} حرفًا من حروف ASCII المطبوعة"),
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let printable = text.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if text.is_empty() || text.len() > MAX_KEY_LEN || !printable {
        return Err(invalid());
    }
    Ok(text.to_owned())
}

/// The hex SHA-256 of a JSON document in canonical form (object keys sorted, no
/// insignificant whitespace), so that a retry whose client re-serialised the body with
/// its keys in another order still counts as the same request.
pub(crate) fn body_digest(body: &Value) -> String {
    let mut canonical = String::with_capacity(256);
    write_canonical(body, &mut canonical);
    hex(&Sha256::digest(canonical.as_bytes()))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(key(&headers("abc-123")).unwrap(), "abc-123");
        assert_eq!(key(&headers("\"8e03978e\"")).unwrap(), "8e03978e");
        assert!(key(&HeaderMap::new()).is_err());
        assert!(key(&headers("")).is_err());
        assert!(key(&headers("has space")).is_err());
        assert!(key(&headers(&"k".repeat(256))).is_err());
        assert!(key(&headers(&"k".repeat(255))).is_ok());
        let mut twice = headers("first");
        twice.append(HEADER, HeaderValue::from_static("second"));
        let err = key(&twice).unwrap_err();
        assert_eq!(err.problem().kind, ProblemKind::AmbiguousRequest);
    }

    #[test]
    fn digest_ignores_key_order_and_whitespace() {
        let a: Value =
            serde_json::from_str(r#"{"service":"s","input":{"b":1,"a":[1,{"y":2,"x":"ü"}]}}"#)
                .unwrap();
        let b = json!({"input": {"a": [1, {"x": "ü", "y": 2}], "b": 1}, "service": "s"});
        assert_eq!(body_digest(&a), body_digest(&b));
        let c = json!({"input": {"a": [{"x": "ü", "y": 2}, 1], "b": 1}, "service": "s"});
        assert_ne!(body_digest(&a), body_digest(&c), "array order matters");
    }
}
