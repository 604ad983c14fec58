//! The sealed audit log, for cooperatives and anyone who checks it.
//!
//! - `GET /v1/audit/checkpoint`: the latest checkpoint, a C2SP signed note, byte for
//!   byte as signed (`text/plain`).
//! - `GET /v1/audit/key`: the verifier key (`name+keyid+base64`) a cooperative pins.
//! - `GET /v1/audit/consistency?from=N&to=M`: the RFC 9162 consistency proof between two
//!   tree sizes.
//! - `GET /v1/requests/{id}/evidence`: for the caller's own request, each audit entry
//!   with its leaf index, its canonical bytes and its inclusion proof against the
//!   checkpoint; entries not sealed yet are listed as pending (`Prefer: wait=N` waits
//!   for them).
//!
//! The first three are public, as a Certificate Transparency log's are: they say how
//! large the log is and what its root is, nothing about any entry.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rabt_core::RequestId;
use rabt_store::{Evidence, StoredCheckpoint};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::query::finish;
use crate::state::{AppState, store_error};
use crate::wait::preferred_wait;

const TEXT: &str = "text/plain; charset=utf-8";

fn text(body: String) -> Response {
    ([(CONTENT_TYPE, HeaderValue::from_static(TEXT))], body).into_response()
}

fn not_sealed() -> ApiError {
    ApiError::new(ProblemKind::AuditNotSealed)
        .detail(
            "no checkpoint has been signed yet; retry in a moment",
            "لم تُوقَّع أي نقطة تحقق بعد؛ أعد المحاولة بعد قليل",
        )
        .retry_after(1)
}

async fn latest(state: &AppState) -> Result<StoredCheckpoint, ApiError> {
    state
        .store()
        .latest_checkpoint()
        .await
        .map_err(|e| store_error("reading the latest checkpoint", e))?
        .ok_or_else(not_sealed)
}

/// `GET /v1/audit/checkpoint`.
pub(crate) async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(text(latest(&state).await?.note))
}

/// `GET /v1/audit/key`: this deployment's key, else the one that signed the latest
/// checkpoint.
pub(crate) async fn key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let key = match &state.settings().audit_verifier_key {
        Some(key) => key.to_string(),
        None => latest(&state).await?.verifier_key,
    };
    Ok(text(format!("{key}\n")))
}

/// The tree sizes of a consistency request.
fn sizes(query: &str) -> Result<(u64, u64), ApiError> {
    let (mut from, mut to) = (None, None);
    let mut errors = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let size = value.parse::<u64>().ok().filter(|n| *n >= 1);
        let slot = match name.as_ref() {
            "from" => &mut from,
            "to" => &mut to,
            other => {
                errors.push(FieldError::parameter(
                    other,
                    "unknown parameter (allowed: from, to)",
                    "معامل غير معروف (المسموح: from وto)",
                ));
                continue;
            }
        };
        match size {
            Some(n) => *slot = Some(n),
            None => errors.push(FieldError::parameter(
                name.as_ref(),
                "must be a tree size: a whole number from 1",
                "يجب أن يكون حجم شجرة: عددًا صحيحًا من 1",
            )),
        }
    }
    for (name, value) in [("from", from), ("to", to)] {
        if value.is_none() && !errors.iter().any(|e| e.parameter.as_deref() == Some(name)) {
            errors.push(FieldError::parameter(name, "is required", "مطلوب"));
        }
    }
    let (from, to) = finish((from, to), errors)?;
    Ok((from.unwrap_or(1), to.unwrap_or(1)))
}

/// `GET /v1/audit/consistency?from=N&to=M`: 1 ≤ N ≤ M ≤ the latest checkpoint's size.
pub(crate) async fn consistency(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (from, to) = sizes(raw.as_deref().unwrap_or(""))?;
    let size = latest(&state).await?.tree_size;
    let mut errors = Vec::new();
    if from > to {
        errors.push(FieldError::parameter(
            "from",
            "must not be larger than `to`",
            "يجب ألا يكون أكبر من `to`",
        ));
    }
    if to > size {
        errors.push(FieldError::parameter(
            "to",
            format!("must not be larger than the latest checkpoint's size, {size}"),
            format!("يجب ألا يكون أكبر من حجم آخر نقطة تحقق، {size}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::new(ProblemKind::TreeSizeOutOfRange).errors(errors));
    }
    let proof = state
        .store()
        .consistency_proof(from, to)
        .await
        .map_err(|e| store_error("building a consistency proof", e))?;
    let proof: Vec<String> = proof.iter().map(|h| h.to_base64()).collect();
    Ok(Json(json!({ "from": from, "to": to, "proof": proof })).into_response())
}

/// The first pause while waiting for entries to be sealed; it doubles up to
/// [`WAIT_POLL_MAX`]. Sealing runs every `audit.seal_interval` (1 s by default).
const WAIT_POLL: Duration = Duration::from_millis(100);
const WAIT_POLL_MAX: Duration = Duration::from_millis(500);

/// `GET /v1/requests/{id}/evidence`.
pub(crate) async fn evidence(
    State(state): State<AppState>,
    Caller(cooperative): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = RequestId::parse(&id).map_err(|_| ApiError::new(ProblemKind::NotFound))?;
    state
        .store()
        .get_request(cooperative.id, id)
        .await
        .map_err(|e| store_error("reading a request", e))?
        .ok_or_else(|| ApiError::new(ProblemKind::NotFound))?;
    let wait = preferred_wait(&headers, state.settings().max_wait);
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    let mut pause = WAIT_POLL;
    loop {
        let evidence = state
            .store()
            .request_evidence(id)
            .await
            .map_err(|e| store_error("reading a request's evidence", e))?;
        let done = evidence.complete() && evidence.checkpoint.is_some();
        match deadline {
            Some(deadline) if !done && tokio::time::Instant::now() < deadline => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(WAIT_POLL_MAX);
            }
            _ => {
                let mut response = Json(view(id, &evidence)).into_response();
                if let Some(wait) = wait
                    && let Ok(value) = HeaderValue::from_str(&format!("wait={}", wait.as_secs()))
                {
                    response.headers_mut().insert("preference-applied", value);
                }
                return Ok(response);
            }
        }
    }
}

/// The JSON of a request's evidence.
fn view(id: RequestId, evidence: &Evidence) -> Value {
    let entries: Vec<Value> = evidence
        .entries
        .iter()
        .map(|entry| match &entry.sealed {
            Some(sealed) => json!({
                "seq": entry.seq,
                "action": entry.action,
                "status": "sealed",
                "leaf_index": sealed.leaf_index,
                "canonical": BASE64.encode(&sealed.canonical),
                "inclusion_proof": sealed.proof.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
            }),
            None => json!({ "seq": entry.seq, "action": entry.action, "status": "pending" }),
        })
        .collect();
    let pending = evidence
        .entries
        .iter()
        .filter(|e| e.sealed.is_none())
        .count();
    json!({
        "request": id.to_string(),
        "checkpoint": evidence.checkpoint.as_ref().map(|c| c.note.clone()),
        "tree_size": evidence.checkpoint.as_ref().map(|c| c.tree_size),
        "entries": entries,
        "pending": pending,
        "links": {
            "checkpoint": "/v1/audit/checkpoint",
            "key": "/v1/audit/key",
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    fn parameters(query: &str) -> Vec<String> {
        let err = sizes(query).unwrap_err();
        assert_eq!(err.problem().kind, ProblemKind::InvalidQuery);
        err.problem()
            .errors
            .iter()
            .map(|e| e.parameter.clone().unwrap())
            .collect()
    }

    #[test]
    fn tree_sizes_are_whole_numbers_from_one() {
        assert_eq!(sizes("from=3&to=10").unwrap(), (3, 10));
        assert_eq!(parameters(""), ["from", "to"]);
        assert_eq!(parameters("from=0&to=2"), ["from"]);
        assert_eq!(parameters("from=x&to=-1"), ["from", "to"]);
        assert_eq!(parameters("from=1&to=2&size=3"), ["size"]);
        assert_eq!(parameters("from=1"), ["to"]);
    }
}
