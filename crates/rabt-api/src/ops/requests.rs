//! `/ops/v1/requests`: every cooperative's requests for operators (viewer): filtered
//! by cooperative, service, status, verdict and time, searched by id; one request with
//! its timeline from the audit log and its input and output masked. An admin may
//! reveal the values with a reason (`POST …/reveal`), audited as `request.revealed`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use rabt_core::{CooperativeId, RequestId, RequestStatus, ServiceName, Verdict};
use rabt_store::{
    Actor, AuditEntry, AuditQuery, NewAuditEntry, OperatorRole, OpsRequestQuery, OpsRequestSummary,
};
use serde_json::{Value, json};

use super::auth::OperatorCaller;
use super::cooperatives::reason;
use super::{mask, retrying};
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::query::finish;
use crate::requests::read_json;
use crate::state::AppState;

fn time(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The parsed filters of the operators' request list.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RequestFilter {
    /// The store's query.
    pub(crate) query: OpsRequestQuery,
    /// `window`: `15m`, `1h`, `24h` (or none).
    pub(crate) window: Option<String>,
    /// `id`: a request to go to.
    pub(crate) id: Option<RequestId>,
}

/// Parses `cooperative, service, status, verdict, window, since, until, id, limit,
/// cursor`; each bad value is named.
pub(crate) fn parse_filter(query: &str) -> Result<RequestFilter, ApiError> {
    let mut filter = RequestFilter {
        query: OpsRequestQuery {
            limit: 50,
            ..OpsRequestQuery::default()
        },
        ..RequestFilter::default()
    };
    let mut errors = Vec::new();
    let now = Utc::now();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.is_empty() {
            continue;
        }
        // PostgreSQL cannot compare text holding NUL: refused here, not a 500 there.
        if let Some(refused) = crate::query::refused_text(&name, &value) {
            errors.push(refused);
            continue;
        }
        let bad = |en: &str, ar: &str| FieldError::parameter(name.as_ref(), en, ar);
        let time = |v: &str| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc));
        match name.as_ref() {
            "cooperative" => match CooperativeId::parse(&value) {
                Ok(id) => filter.query.cooperative = Some(id),
                Err(_) => errors.push(bad("must be a coop_… id", "يجب أن يكون معرّف جمعية coop_…")),
            },
            "service" => match ServiceName::parse(&value) {
                Ok(service) => filter.query.service = Some(service),
                Err(_) => errors.push(bad("not a service name", "ليس اسم خدمة")),
            },
            "status" => match RequestStatus::parse(&value) {
                Some(status) => filter.query.status = Some(status),
                None => errors.push(bad("must be ACCEPTED, RUNNING or COMPLETED", "يجب أن تكون ACCEPTED أو RUNNING أو COMPLETED")),
            },
            "verdict" => match Verdict::parse(&value) {
                Some(verdict) => filter.query.verdict = Some(verdict),
                None => errors.push(bad("must be PASS, FAIL or PARTIAL", "يجب أن يكون PASS أو FAIL أو PARTIAL")),
            },
            "window" => {
                let minutes = match value.as_ref() {
                    "15m" => 15,
                    "1h" => 60,
                    "24h" => 24 * 60,
                    _ => {
                        errors.push(bad("must be 15m, 1h or 24h", "يجب أن تكون 15m أو 1h أو 24h"));
                        continue;
                    }
                };
                filter.query.since = Some(now - chrono::Duration::minutes(minutes));
                filter.window = Some(value.to_string());
            }
            "since" | "until" => match time(&value) {
                Ok(t) if name == "since" => filter.query.since = Some(t),
                Ok(t) => filter.query.until = Some(t),
                Err(_) => errors.push(bad("must be a date and time (RFC 3339)", "يجب أن يكون تاريخًا ووقتًا (RFC 3339)")),
            },
            "id" => match RequestId::parse(value.trim()) {
                Ok(id) => filter.id = Some(id),
                Err(_) => errors.push(bad("must be a req_… id", "يجب أن يكون معرّف طلب req_…")),
            },
            "limit" => match crate::query::page_limit(&value, &name) {
                Ok(n) => filter.query.limit = n,
                Err(e) => errors.push(e),
            },
            "cursor" => match RequestId::parse(&value) {
                Ok(id) => filter.query.before = Some(id),
                Err(_) => errors.push(crate::query::bad_cursor(&name)),
            },
            other => errors.push(FieldError::parameter(
                other,
                "unknown parameter (allowed: cooperative, service, status, verdict, window, since, until, id, limit, cursor)",
                "معامل غير معروف",
            )),
        }
    }
    finish(filter, errors)
}

/// A request as listed to operators.
pub(crate) fn summary(item: &OpsRequestSummary) -> Value {
    json!({
        "id": item.id.to_string(),
        "cooperative": item.cooperative.to_string(),
        "service": item.service.as_str(),
        "status": item.status.as_str(),
        "verdict": item.verdict.map(|v| v.as_str()),
        "createdAt": time(item.created_at),
        "completedAt": item.completed_at.map(time),
        "links": { "self": format!("/ops/v1/requests/{}", item.id) },
    })
}

/// The page the filter selects (one more than asked, to tell if there is a next).
pub(crate) async fn page(
    state: &AppState,
    filter: &RequestFilter,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let query = OpsRequestQuery {
        limit: filter.query.limit + 1,
        ..filter.query.clone()
    };
    let mut items = retrying("listing requests", || state.store().ops_requests(&query)).await?;
    let more = items.len() > filter.query.limit as usize;
    items.truncate(filter.query.limit as usize);
    let next = if more {
        items.last().map(|i| i.id.to_string())
    } else {
        None
    };
    Ok((items.iter().map(summary).collect(), next))
}

/// `GET /ops/v1/requests?…` (viewer).
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: OperatorCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    let filter = parse_filter(raw.as_deref().unwrap_or(""))?;
    let (items, next) = page(&state, &filter).await?;
    Ok(Json(json!({ "items": items, "next": next })).into_response())
}

/// An audit entry as a timeline step.
pub(crate) fn step(entry: &AuditEntry) -> Value {
    let (actor_kind, actor) = match &entry.actor {
        Actor::Cooperative(id) => ("cooperative", id.to_string()),
        Actor::Agency(agency) => ("agency", agency.to_string()),
        Actor::Operator(name) => ("operator", name.clone()),
        Actor::System => ("system", "rabt".to_owned()),
    };
    json!({
        "seq": entry.seq,
        "at": time(entry.at),
        "actorKind": actor_kind,
        "actor": actor,
        "action": entry.action,
        "task": entry.task.map(|t| t.to_string()),
        "request": entry.request.map(|r| r.to_string()),
        "outcome": entry.outcome,
        "latencyMs": entry.latency_ms,
        "detail": entry.detail,
    })
}

/// One request with its timeline; masked unless `reveal`.
pub(crate) async fn detail(state: &AppState, id: &str, reveal: bool) -> Result<Value, ApiError> {
    let not_found =
        || ApiError::new(ProblemKind::NotFound).detail("no such request", "لا يوجد طلب بهذا المعرّف");
    let id = RequestId::parse(id).map_err(|_| not_found())?;
    let record = retrying("reading a request", || state.store().request_for_work(id))
        .await?
        .ok_or_else(not_found)?;
    let query = AuditQuery {
        request: Some(id),
        limit: 1000,
        ..AuditQuery::default()
    };
    let timeline = retrying("reading a request's audit entries", || {
        state.store().audit_log(&query)
    })
    .await?;
    let pauses = retrying("reading agency pauses", || state.store().agency_pauses()).await?;
    let mut body = crate::view::full(&record, state.catalogue());
    if record.completed_at.is_none() {
        crate::view::mark_waiting(&mut body, &record, &pauses);
    }
    body["cooperative"] = json!(record.cooperative.to_string());
    body["input"] = record.input.clone();
    body["timeline"] = json!(timeline.iter().map(step).collect::<Vec<_>>());
    body["links"] = json!({
        "self": format!("/ops/v1/requests/{id}"),
        "reveal": format!("/ops/v1/requests/{id}/reveal"),
    });
    if reveal {
        body["masked"] = json!(false);
        return Ok(body);
    }
    for key in ["input", "data"] {
        body[key] = mask::mask(&body[key]);
    }
    if let Some(checks) = body["checks"].as_array_mut() {
        for check in checks {
            check["data"] = mask::mask(&check["data"]);
            if check.get("late").is_some() {
                check["late"] = mask::mask(&check["late"]);
            }
        }
    }
    body["masked"] = json!(true);
    Ok(body)
}

/// `GET /ops/v1/requests/{id}` (viewer): masked.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    Ok(Json(detail(&state, &id, false).await?).into_response())
}

/// Audits a reveal, before the values are shown.
pub(crate) async fn audit_reveal(
    state: &AppState,
    operator: &str,
    id: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let request = RequestId::parse(id).ok();
    let mut entry = NewAuditEntry::new(Actor::Operator(operator.to_owned()), "request.revealed");
    entry.request = request;
    entry.detail = json!({ "reason": reason });
    retrying("auditing a reveal", || state.store().record_audit(&entry)).await
}

/// `POST /ops/v1/requests/{id}/reveal` with `{"reason"}` (admin): the request with its
/// values unmasked, audited first.
pub(crate) async fn reveal(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Admin)?;
    let body = read_json(&headers, body, state.settings().json_limits)?;
    let reason =
        reason(&body, true).map_err(|e| ApiError::new(ProblemKind::ValidationFailed).errors(e))?;
    // Exists first: a reveal of nothing is not audited.
    detail(&state, &id, false).await?;
    audit_reveal(&state, &operator.name, &id, &reason).await?;
    tracing::info!(operator = %operator.name, request = %id, "request revealed");
    let view = detail(&state, &id, true).await?;
    Ok(([(CACHE_CONTROL, "no-store")], Json(view)).into_response())
}
