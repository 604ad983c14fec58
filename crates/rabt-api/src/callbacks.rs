//! `POST /v1/callbacks/{agency}`: an agency answering later (a municipal inspection, a
//! batch of health certificates). Before anything is stored, the callback must carry a
//! valid Standard Webhooks signature made with one of the agency's current secrets,
//! a timestamp within five minutes, a body valid against the agency's callback schema,
//! and a `reference` that names a task of this agency. A callback that fails a check is
//! refused with a problem and changes nothing else: one whose signature does not
//! verify is only counted and logged (rate limited), so nobody can grow the permanent
//! audit log from outside; the agency's own refused callbacks (verified, but malformed,
//! off-schema or with an unknown reference) are audited; a repeated
//! `webhook-id` is acknowledged and not applied again. Accepted callbacks are stored
//! with an outbox message; the agency's worker applies them through its adapter.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rabt_core::{Agency, CallbackId};
use rabt_metrics::metrics;
use rabt_store::{Actor, CallbackAccepted, NewAuditEntry, NewCallback};
use rabt_webhook::SignedHeaders;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::json::{self, JsonError};
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::requests::json_problem;
use crate::state::{AppState, store_error};

/// `POST /v1/callbacks/{agency}`: each step below refuses what it cannot accept, so a
/// callback that reaches [`store`] has passed them all.
pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(agency): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let agency = calling_back(&state, &agency)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ProblemKind::PayloadTooLarge),
        _ => ApiError::new(ProblemKind::MalformedJson),
    })?;
    // Verified: from here on the sender is the agency, and its refusals are audited.
    let signed = verify_sender(&state, agency, &headers, &body)?;
    let document = read_document(&state, agency, &signed.id, &body).await?;
    let reference = reference_of(&state, agency, &signed.id, &document).await?;
    let task = waiting_task(&state, agency, &signed.id, &reference).await?;
    let status = store(&state, agency, signed.id, reference, &task, document).await?;
    metrics().callback(agency, status);
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": status }))).into_response())
}

/// The agency named in the path, if it can call back: an agency Rabt holds no secret for
/// cannot, since nothing could verify it.
fn calling_back(state: &AppState, agency: &str) -> Result<Agency, ApiError> {
    let agency: Agency = agency
        .parse()
        .map_err(|_| ApiError::new(ProblemKind::NotFound))?;
    if state.callback_secrets(agency).is_empty() {
        return Err(ApiError::new(ProblemKind::NotFound));
    }
    Ok(agency)
}

/// The signed headers, once the signature verified with one of the agency's secrets and
/// the timestamp is within the tolerance.
fn verify_sender(
    state: &AppState,
    agency: Agency,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<SignedHeaders, ApiError> {
    let verified = signed_headers(headers).and_then(|signed| {
        rabt_webhook::verify(
            state.callback_secrets(agency),
            &signed,
            body,
            Utc::now().timestamp(),
            rabt_webhook::DEFAULT_TOLERANCE,
        )
        .map(|()| signed)
        .map_err(|err| err.to_string())
    });
    verified.map_err(|reason| {
        // Not the agency: counted and logged (rate limited, never the body), and never
        // an audit entry, so nobody can grow the permanent log from outside.
        metrics().callback(agency, "signature");
        UNVERIFIED_LOG.warn(agency, &reason);
        ApiError::new(ProblemKind::CallbackUnverified).detail(reason.clone(), reason)
    })
}

/// The body as JSON valid against the agency's callback schema, read as strictly as a
/// cooperative's body: an agency's JSON is untrusted input.
async fn read_document(
    state: &AppState,
    agency: Agency,
    webhook_id: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let document: Value = match json::parse(body, state.settings().json_limits) {
        Ok(document) => document,
        Err(err) => {
            let why = match &err {
                JsonError::Syntax(e) => e.to_string(),
                JsonError::DuplicateKey { .. } => "a key appears twice in an object".to_owned(),
                JsonError::TooDeep { .. } => "nested too deep".to_owned(),
                JsonError::TooLong { .. } => "a string is too long".to_owned(),
                JsonError::Nul { .. } => "a string holds a NUL character".to_owned(),
                JsonError::TooMany { .. } => "an object or array is too large".to_owned(),
            };
            reject(state, agency, "malformed", webhook_id, &why).await?;
            return Err(json_problem(err));
        }
    };
    if let Some(schema) = state.catalogue().callback_schema(agency)
        && let Err(violations) = schema.validate(&document)
    {
        reject(
            state,
            agency,
            "schema",
            webhook_id,
            "the body breaks the callback schema",
        )
        .await?;
        let errors = violations
            .into_iter()
            .map(|v| FieldError::at(v.pointer, v.message.en, v.message.ar))
            .collect();
        return Err(ApiError::new(ProblemKind::ValidationFailed).errors(errors));
    }
    Ok(document)
}

/// The callback's `reference`. Every agency's callback schema requires it as a string;
/// an agency without a schema that leaves it out is refused like a schema violation,
/// rather than looked up as an empty reference.
async fn reference_of(
    state: &AppState,
    agency: Agency,
    webhook_id: &str,
    document: &Value,
) -> Result<String, ApiError> {
    if let Some(reference) = document.get("reference").and_then(Value::as_str) {
        return Ok(reference.to_owned());
    }
    reject(
        state,
        agency,
        "schema",
        webhook_id,
        "the body has no string `reference`",
    )
    .await?;
    Err(
        ApiError::new(ProblemKind::ValidationFailed).errors(vec![FieldError::at(
            "/reference",
            "a callback names the agency's reference as a string",
            "يجب أن يذكر الرد مرجع الجهة نصًا",
        )]),
    )
}

/// The task of this agency waiting for `reference`, or the refusal of a callback that
/// names none.
async fn waiting_task(
    state: &AppState,
    agency: Agency,
    webhook_id: &str,
    reference: &str,
) -> Result<rabt_store::TaskRecord, ApiError> {
    if let Some(task) = correlate(state, agency, reference).await? {
        return Ok(task);
    }
    reject(
        state,
        agency,
        "unknown_reference",
        webhook_id,
        "no task has this reference",
    )
    .await?;
    Err(
        ApiError::new(ProblemKind::CallbackUnknownReference).errors(vec![FieldError::at(
            "/reference",
            "no request of this agency is waiting for this reference",
            "لا يوجد طلب لدى هذه الجهة ينتظر هذا المرجع",
        )]),
    )
}

/// Stores the callback with its outbox message (once per `webhook-id`) and says whether
/// it was new or a repeat.
async fn store(
    state: &AppState,
    agency: Agency,
    webhook_id: String,
    reference: String,
    task: &rabt_store::TaskRecord,
    document: Value,
) -> Result<&'static str, ApiError> {
    let id = CallbackId::new();
    // The callback joins its request's trace (the context stored with the request),
    // linked to the HTTP call it came in, which is the agency's trace or a new one.
    let http = rabt_trace::traceparent(&tracing::Span::current());
    let span = rabt_trace::callback(
        agency.as_str(),
        &id.to_string(),
        &task.id.to_string(),
        task.traceparent.as_deref(),
        http.as_deref(),
    );
    let callback = NewCallback {
        id,
        agency,
        webhook_id,
        reference,
        task: task.id,
        request: task.request,
        body: document,
        received_at: Utc::now(),
        traceparent: rabt_trace::traceparent(&span),
    };
    let accepted = state
        .store()
        .accept_callback(&callback)
        .instrument(span)
        .await
        .map_err(|e| store_error("storing a callback", e))?;
    Ok(match accepted {
        CallbackAccepted::New => {
            tracing::info!(%agency, callback = %callback.id, task = %task.id, "callback accepted");
            state.wake_outbox();
            "accepted"
        }
        CallbackAccepted::Duplicate => {
            tracing::info!(%agency, webhook_id = %callback.webhook_id, "repeated callback acknowledged, not applied again");
            "duplicate"
        }
    })
}

/// How long an unknown reference is looked up again before the callback is refused. A
/// fast agency can call back before the worker that submitted the call has committed
/// the reference the agency gave it (it does so right after the agency's answer).
const REFERENCE_GRACE: Duration = Duration::from_secs(3);
/// The first pause between lookups; it doubles up to [`REFERENCE_POLL_MAX`]: the usual
/// race is a few milliseconds, and an unknown reference then costs about 10 queries, not
/// 300.
const REFERENCE_POLL: Duration = Duration::from_millis(10);
const REFERENCE_POLL_MAX: Duration = Duration::from_millis(500);

/// The task waiting for `reference`, looked up until [`REFERENCE_GRACE`] has passed.
async fn correlate(
    state: &AppState,
    agency: Agency,
    reference: &str,
) -> Result<Option<rabt_store::TaskRecord>, ApiError> {
    let deadline = tokio::time::Instant::now() + REFERENCE_GRACE;
    let mut pause = REFERENCE_POLL;
    loop {
        let task = state
            .store()
            .task_by_upstream_ref(agency, reference)
            .await
            .map_err(|e| store_error("correlating a callback", e))?;
        if task.is_some() || tokio::time::Instant::now() >= deadline {
            return Ok(task);
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(REFERENCE_POLL_MAX);
    }
}

/// The three Standard Webhooks headers, or which one is missing.
fn signed_headers(headers: &HeaderMap) -> Result<SignedHeaders, String> {
    let get = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 1024)
            .map(str::to_owned)
            .ok_or_else(|| format!("missing or unreadable `{name}` header"))
    };
    Ok(SignedHeaders {
        id: get(rabt_webhook::ID_HEADER)?,
        timestamp: get(rabt_webhook::TIMESTAMP_HEADER)?,
        signature: get(rabt_webhook::SIGNATURE_HEADER)?,
    })
}

/// At most this many refused-signature lines per [`UNVERIFIED_LOG_WINDOW`]: a flood of
/// forged callbacks must not flood the logs either.
const UNVERIFIED_LOG_LINES: u32 = 10;
const UNVERIFIED_LOG_WINDOW: Duration = Duration::from_secs(60);

/// The rate-limited log of callbacks whose signature did not verify.
static UNVERIFIED_LOG: RateLimitedLog = RateLimitedLog::new();

/// A warning logged at most [`UNVERIFIED_LOG_LINES`] times a window, then once more
/// with how many were left out.
struct RateLimitedLog(std::sync::Mutex<Option<(tokio::time::Instant, u32, u64)>>);

impl RateLimitedLog {
    const fn new() -> Self {
        RateLimitedLog(std::sync::Mutex::new(None))
    }

    fn warn(&self, agency: Agency, reason: &str) {
        let now = tokio::time::Instant::now();
        let Ok(mut window) = self.0.lock() else {
            return;
        };
        let (started, logged, suppressed) = window.get_or_insert((now, 0, 0));
        if now.duration_since(*started) >= UNVERIFIED_LOG_WINDOW {
            if *suppressed > 0 {
                tracing::warn!(
                    suppressed = *suppressed,
                    "more unverified callbacks were refused and not logged one by one"
                );
            }
            (*started, *logged, *suppressed) = (now, 0, 0);
        }
        if *logged < UNVERIFIED_LOG_LINES {
            *logged += 1;
            tracing::warn!(%agency, reason = "signature", detail = reason, "callback refused: not verified");
        } else {
            *suppressed += 1;
        }
    }
}

/// Audits a refused callback whose signature verified (the sender is the agency). The
/// body is never logged or audited (it may hold personal data); the reason and the
/// webhook-id are.
async fn reject(
    state: &AppState,
    agency: Agency,
    reason: &'static str,
    webhook_id: &str,
    detail: &str,
) -> Result<(), ApiError> {
    let detail = rabt_core::pii::redact(detail);
    tracing::warn!(%agency, reason, detail, "callback refused");
    metrics().callback(agency, reason);
    let mut entry = NewAuditEntry::new(Actor::Agency(agency), "callback.rejected");
    entry.outcome = Some(reason.to_owned());
    entry.detail = json!({ "webhook_id": webhook_id, "why": detail });
    state
        .store()
        .record_audit(&entry)
        .await
        .map_err(|e| store_error("auditing a refused callback", e))
}
