//! `POST /v1/requests`, `GET /v1/requests/{id}`, `GET /v1/requests`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use rabt_catalogue::{Catalogue, Service};
use rabt_core::{CooperativeId, RequestId, RequestStatus, ServiceName};
use rabt_store::{Accepted, IdempotencyRecord, ListQuery, NewRequest, RequestRecord, StoreError};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::auth::Caller;
use crate::envelope::{self, Envelope};
use crate::fanout;
use crate::idempotency;
use crate::json::{self, JsonError, JsonLimits};
use crate::limits::Effective;
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::query;
use crate::state::{AppState, store_error};
use crate::subjects;
use crate::view;
use crate::wait::preferred_wait;

/// `POST /v1/requests`: authenticate, check the key, the body, the service and its
/// input, then store the request, its tasks, the idempotency record, the outbox rows and
/// the audit entries in one transaction. Nothing is written unless every check passed.
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(cooperative): Caller,
    limit: Option<Extension<Effective>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = idempotency::key(&headers)?;
    let body = read_json(&headers, body, state.settings().json_limits)?;
    let mut envelope = envelope::parse(&body, state.settings().allow_private_notify_targets)
        .map_err(validation_failed)?;
    let service = resolve_service(&state, &cooperative, &envelope)?;
    checked_input(service, &mut envelope.input)?;
    ensure_callable(&state, service)?;

    let id = RequestId::new();
    let wait = preferred_wait(&headers, state.settings().max_wait);
    // Registered before the request exists, so its completion cannot be missed.
    let waiter = wait.map(|_| state.waiters().register(id));
    let mut new = new_request(
        state.catalogue(),
        id,
        cooperative.id,
        service,
        envelope,
        key,
        idempotency::body_digest(&body),
        state.settings().pii_key.as_ref(),
    )?;
    let quota = limit.and_then(|Extension(Effective(limit))| limit.quota_per_day);
    // The request's trace goes on from the accept transaction: the outbox rows it
    // writes carry its context, so every publish of its tasks is a child of it.
    let span = rabt_trace::accept(&id.to_string(), service.name.as_str());
    new.traceparent = rabt_trace::traceparent(&span);
    let (new, accepted) = accept(&state, new, quota).instrument(span).await?;
    match accepted {
        Accepted::Created => {
            tracing::info!(request = %id, cooperative = %cooperative.id, service = %new.service, "request accepted");
            rabt_metrics::metrics().accepted(new.service.as_str());
        }
        Accepted::Existing {
            request,
            body_hash,
            response_status,
            response_body,
        } => {
            return replay(
                &new.idempotency.body_hash,
                request,
                &body_hash,
                response_status,
                response_body,
            );
        }
    }
    if let (Some(waiter), Some(wait)) = (waiter, wait) {
        waiter.wait(wait).await;
        if let Some(response) = completed_after_wait(&state, cooperative.id, id, wait).await? {
            return Ok(response);
        }
    }
    Ok(accepted_response(id, new.idempotency.response_body.clone()))
}

/// The service's input as it is stored: what may be written several ways written one
/// way (`+966…`, `١٠٠…`), then checked against the service's schema (a `422` naming
/// each field under `/input`).
fn checked_input(service: &Service, input: &mut Value) -> Result<(), ApiError> {
    service.normalize_input(input);
    service.validate_input(input).map_err(|violations| {
        let errors = violations
            .into_iter()
            .map(|v| FieldError::at(format!("/input{}", v.pointer), v.message.en, v.message.ar))
            .collect();
        validation_failed(errors)
    })
}

/// The `200` of a request that completed while its caller waited (`Prefer: wait`), or
/// `None` if it is still running: the caller then gets the `202`.
async fn completed_after_wait(
    state: &AppState,
    cooperative: CooperativeId,
    id: RequestId,
    wait: std::time::Duration,
) -> Result<Option<Response>, ApiError> {
    let record = state
        .store()
        .get_request(cooperative, id)
        .await
        .map_err(|e| store_error("reading a request after waiting", e))?;
    let Some(record) = record.filter(|r| r.status == RequestStatus::Completed) else {
        return Ok(None);
    };
    let mut response = completed_response(&record, state.catalogue());
    let applied = format!("wait={}", wait.as_secs());
    if let Ok(value) = HeaderValue::from_str(&applied) {
        response.headers_mut().insert("preference-applied", value);
    }
    Ok(Some(response))
}

/// The body as JSON: `application/json` and well formed, within the size limit, with
/// no key twice in an object, no NUL character, and within `limits`' depth and string
/// lengths (crate::json).
pub(crate) fn read_json(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limits: JsonLimits,
) -> Result<Value, ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::new(ProblemKind::UnsupportedMediaType).detail(
            "send the body with `Content-Type: application/json`",
            "أرسل المحتوى مع الترويسة `Content-Type: application/json`",
        ));
    }
    let bytes = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ProblemKind::PayloadTooLarge),
        _ => ApiError::new(ProblemKind::MalformedJson)
            .detail(rejection.body_text(), "تعذرت قراءة محتوى الطلب"),
    })?;
    json::parse(&bytes, limits).map_err(json_problem)
}

/// The problem for a body [`json::parse`] refused.
pub(crate) fn json_problem(err: JsonError) -> ApiError {
    match err {
        JsonError::Syntax(e) => ApiError::new(ProblemKind::MalformedJson).detail(
            format!("line {}, column {}: {e}", e.line(), e.column()),
            format!(
                "السطر {}، العمود {}: صيغة JSON غير صحيحة",
                e.line(),
                e.column()
            ),
        ),
        JsonError::DuplicateKey { pointer } => {
            ApiError::new(ProblemKind::AmbiguousRequest).errors(vec![FieldError::at(
                pointer,
                "this key appears more than once in its object; send it once",
                "هذا المفتاح مكرر في الكائن نفسه؛ أرسله مرة واحدة",
            )])
        }
        JsonError::TooDeep { pointer, max } => validation_failed(vec![FieldError::at(
            pointer,
            format!("objects and arrays may be nested at most {max} deep"),
            format!("لا يجوز أن يتجاوز تداخل الكائنات والمصفوفات {max} مستوى"),
        )]),
        JsonError::TooLong { pointer, max } => validation_failed(vec![FieldError::at(
            pointer,
            format!("a string or key may hold at most {max} characters"),
            format!("لا يجوز أن يتجاوز النص أو المفتاح {max} حرفًا"),
        )]),
        JsonError::TooMany { pointer, max } => validation_failed(vec![FieldError::at(
            pointer,
            format!("an object or array may hold at most {max} members"),
            format!("لا يجوز أن يتجاوز الكائن أو المصفوفة {max} عنصرًا"),
        )]),
        JsonError::Nul { pointer } => validation_failed(vec![FieldError::at(
            pointer,
            "contains a NUL character (U+0000), which is not allowed",
            "يحتوي على المحرف NUL (U+0000) وهو غير مسموح",
        )]),
    }
}

fn validation_failed(errors: Vec<FieldError>) -> ApiError {
    ApiError::new(ProblemKind::ValidationFailed).errors(errors)
}

/// The catalogue entry of the requested service, if this cooperative may call it here.
fn resolve_service<'a>(
    state: &'a AppState,
    cooperative: &rabt_store::Cooperative,
    envelope: &Envelope,
) -> Result<&'a Service, ApiError> {
    let unknown = || {
        ApiError::new(ProblemKind::UnknownService).errors(vec![FieldError::at(
            "/service",
            format!(
                "`{}` is not in the catalogue; GET /v1/services lists yours",
                envelope.service
            ),
            format!(
                "الخدمة `{}` غير موجودة في الدليل؛ اطلب GET /v1/services لعرض خدماتك",
                envelope.service
            ),
        )])
    };
    let name = ServiceName::parse(&envelope.service).map_err(|_| unknown())?;
    let service = state
        .catalogue()
        .service(name.as_str())
        .ok_or_else(unknown)?;
    if !cooperative.services.contains(&name) {
        return Err(
            ApiError::new(ProblemKind::ServiceForbidden).errors(vec![FieldError::at(
                "/service",
                format!("this cooperative has no access to `{name}`"),
                format!("لا تملك هذه الجمعية صلاحية استخدام `{name}`"),
            )]),
        );
    }
    Ok(service)
}

/// Refuses a service that is in the catalogue but has no adapter in this deployment.
/// Checked after the input, so a cooperative can already test its inputs against it.
fn ensure_callable(state: &AppState, service: &Service) -> Result<(), ApiError> {
    if fanout::callable(state.catalogue(), service, |name| state.is_callable(name)) {
        return Ok(());
    }
    let name = &service.name;
    Err(ApiError::new(ProblemKind::ServiceNotAvailable).errors(vec![FieldError::at(
        "/service",
        format!("`{name}` is in the catalogue but its agency is not connected in this deployment yet"),
        format!("الخدمة `{name}` موجودة في الدليل لكن جهتها غير مربوطة في هذا النشر بعد"),
    )]))
}

#[allow(clippy::too_many_arguments)]
fn new_request(
    catalogue: &Catalogue,
    id: RequestId,
    cooperative: rabt_core::CooperativeId,
    service: &Service,
    envelope: Envelope,
    key: String,
    body_hash: String,
    pii_key: Option<&rabt_audit::PiiKey>,
) -> Result<NewRequest, ApiError> {
    let now = Utc::now();
    let deadline_at =
        now + chrono::Duration::from_std(service.deadline).unwrap_or(chrono::Duration::seconds(60));
    let response_body = view::accepted(id).to_string();
    let tasks = fanout::tasks(catalogue, service, &envelope.input, now, deadline_at)?;
    // Without the deployment's key no digest is kept (`rabt serve` refuses to serve the
    // API without one; a test harness may): no subjects, by design.
    let subjects = pii_key
        .map(|key| subjects::digests(key, &envelope.input))
        .unwrap_or_default();
    Ok(NewRequest {
        id,
        cooperative,
        service: service.name.clone(),
        tasks,
        input: envelope.input,
        reference: envelope.reference,
        notify_url: envelope.notify_url,
        created_at: now,
        deadline_at,
        idempotency: IdempotencyRecord {
            key,
            body_hash,
            response_status: StatusCode::ACCEPTED.as_u16(),
            response_body,
        },
        // Set by the caller from the accept span.
        traceparent: None,
        subjects,
    })
}

/// The answer to a reused key: the stored response if the body is the same, 422 if not.
fn replay(
    digest: &str,
    request: RequestId,
    stored_digest: &str,
    status: u16,
    body: String,
) -> Result<Response, ApiError> {
    if digest != stored_digest {
        return Err(ApiError::new(ProblemKind::IdempotencyKeyReused).detail(
            format!(
                "the key was first used for request {request}; use a new key for a new request"
            ),
            format!("استُخدم المفتاح أولًا للطلب {request}؛ استخدم مفتاحًا جديدًا لكل طلب جديد"),
        ));
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED);
    let mut response = accepted_response(request, body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}

fn accepted_response(id: RequestId, body: String) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&view::request_path(id)) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

fn completed_response(record: &RequestRecord, catalogue: &Catalogue) -> Response {
    let mut response = (StatusCode::OK, Json(view::full(record, catalogue))).into_response();
    if let Ok(location) = HeaderValue::from_str(&view::request_path(record.id)) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// `GET /v1/requests/{id}`: the request with every check. Another cooperative's id, or
/// text that is not a request id, is a 404: ids of others are not confirmed to exist.
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(cooperative): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = RequestId::parse(&id).map_err(|_| ApiError::new(ProblemKind::NotFound))?;
    let record = state
        .store()
        .get_request(cooperative.id, id)
        .await
        .map_err(|e| store_error("reading a request", e))?
        .ok_or_else(|| ApiError::new(ProblemKind::NotFound))?;
    let mut body = view::full(&record, state.catalogue());
    if record.completed_at.is_none() {
        let pauses = state
            .store()
            .agency_pauses()
            .await
            .map_err(|e| store_error("reading agency pauses", e))?;
        view::mark_waiting(&mut body, &record, &pauses);
    }
    Ok(Json(body).into_response())
}

/// `GET /v1/requests?service=&status=&reference=&limit=&cursor=`: the caller's own
/// requests, newest first, a page at a time.
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(cooperative): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query::ListParams::parse(raw.as_deref().unwrap_or(""))?;
    let query = ListQuery {
        service: params.service.clone(),
        status: params.status,
        reference: params.reference.clone(),
        before: params.cursor,
        limit: params.limit + 1,
    };
    let mut items = state
        .store()
        .list_requests(cooperative.id, &query)
        .await
        .map_err(|e| store_error("listing requests", e))?;
    let more = items.len() > params.limit as usize;
    items.truncate(params.limit as usize);
    let next = match (more, items.last()) {
        (true, Some(last)) => Value::String(params.next_link(last.id)),
        _ => Value::Null,
    };
    let items: Vec<Value> = items.iter().map(view::summary).collect();
    Ok(Json(json!({ "items": items, "links": { "next": next } })).into_response())
}

/// Stores the request and gets its outbox rows to the relay, in a task of its own: a
/// cooperative that hangs up while the commit is in flight must not stop the handover of
/// what was committed (its rows, claimed as they were written, would wait out their
/// lease before any relay published them).
///
/// The request goes through this process's group commit: written in one transaction
/// with the requests accepted at the same moment, answered when that has committed.
async fn accept(
    state: &AppState,
    new: NewRequest,
    quota: Option<u64>,
) -> Result<(Arc<NewRequest>, Accepted), ApiError> {
    let state = state.clone();
    let new = Arc::new(new);
    let spawned = async move {
        let handoff = state.settings().outbox_handoff.as_ref();
        // A lost race with a concurrent transaction rolled everything back: trying again
        // is safe, and spares the cooperative a 503.
        let mut tries = 0;
        let result = loop {
            match state
                .group_commit()
                .accept(Arc::clone(&new), handoff.map(|h| h.lease()), quota)
                .await
            {
                Err(err) if err.is_conflict() && tries < ACCEPT_RETRIES => tries += 1,
                other => break other,
            }
        };
        let accepted = match result {
            Ok((accepted, outbox)) => {
                // The relay publishes the rows at once; if it has stopped, they wait
                // out their lease and any relay claims them.
                if matches!(accepted, Accepted::Created) && !handoff.is_some_and(|h| h.send(outbox))
                {
                    state.wake_outbox();
                }
                Ok(accepted)
            }
            Err(StoreError::QuotaExceeded) => Err(match quota {
                Some(quota) => crate::limits::quota_exceeded(quota),
                // The store refuses for a quota only when it was given one.
                None => store_error("accepting a request", StoreError::QuotaExceeded),
            }),
            Err(err) => Err(store_error("accepting a request", err)),
        };
        accepted.map(|accepted| (new, accepted))
    };
    tokio::spawn(spawned.in_current_span())
        .await
        .map_err(|err| ApiError::internal("accepting a request", &err))?
}

/// How often an accept that lost a race is tried again before the caller gets `503 busy`.
const ACCEPT_RETRIES: u32 = 2;
