//! `/ops/v1/requests`: every cooperative's requests for operators (viewer): filtered
//! by cooperative, service, status, verdict and time, searched by id; one request with
//! its timeline from the audit log and its input and output masked. An admin may
//! reveal the values with a reason (`POST …/reveal`), audited as `request.revealed`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use rabt_core::{CooperativeId, RequestId, RequestStatus, ServiceName, Verdict};
use rabt_store::{
    Actor, AuditEntry, AuditQuery, NewAuditEntry, OperatorRole, OpsRequestQuery, OpsRequestSummary,
};
use serde_json::{Value, json};

use super::auth::OperatorCaller;
use super::body::OperatorBody;
use super::cooperatives::reason;
use super::{mask, retrying};
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::query::{Paged, Param, Read, read_query};
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
/// cursor`; each bad value is named. An empty value is no filter (the console's form
/// sends its empty fields).
pub(crate) fn parse_filter(query: &str) -> Result<RequestFilter, ApiError> {
    let filter = RequestFilter {
        query: OpsRequestQuery {
            limit: 50,
            ..OpsRequestQuery::default()
        },
        ..RequestFilter::default()
    };
    let now = Utc::now();
    read_query(query, filter, &FILTERS, |filter, param| {
        read_filter(filter, param, now)
    })
}

/// The parameters of the operators' request list.
const FILTERS: [&str; 10] = [
    "cooperative",
    "service",
    "status",
    "verdict",
    "window",
    "since",
    "until",
    "id",
    "limit",
    "cursor",
];

/// One parameter of the request list into `filter` (`now` for a `window`).
fn read_filter(
    filter: &mut RequestFilter,
    param: &Param<'_>,
    now: DateTime<Utc>,
) -> Result<Read, FieldError> {
    if param.value().is_empty() {
        return Ok(Read::Taken);
    }
    let query = &mut filter.query;
    match param.name() {
        "cooperative" => {
            let id = |v: &str| CooperativeId::parse(v).ok();
            let (en, ar) = ("must be a coop_… id", "يجب أن يكون معرّف جمعية coop_…");
            query.cooperative = Some(param.parse(id, en, ar)?);
        }
        "service" => {
            let service = |v: &str| ServiceName::parse(v).ok();
            query.service = Some(param.parse(service, "not a service name", "ليس اسم خدمة")?);
        }
        "status" => {
            let (en, ar) = (
                "must be ACCEPTED, RUNNING or COMPLETED",
                "يجب أن تكون ACCEPTED أو RUNNING أو COMPLETED",
            );
            query.status = Some(param.parse(RequestStatus::parse, en, ar)?);
        }
        "verdict" => {
            let (en, ar) = (
                "must be PASS, FAIL or PARTIAL",
                "يجب أن يكون PASS أو FAIL أو PARTIAL",
            );
            query.verdict = Some(param.parse(Verdict::parse, en, ar)?);
        }
        "window" => {
            let (en, ar) = ("must be 15m, 1h or 24h", "يجب أن تكون 15m أو 1h أو 24h");
            let minutes = param.parse(window_minutes, en, ar)?;
            query.since = Some(now - chrono::Duration::minutes(minutes));
            filter.window = Some(param.value().to_owned());
        }
        "since" => query.since = Some(date_time(param)?),
        "until" => query.until = Some(date_time(param)?),
        "id" => {
            let id = |v: &str| RequestId::parse(v.trim()).ok();
            let (en, ar) = ("must be a req_… id", "يجب أن يكون معرّف طلب req_…");
            filter.id = Some(param.parse(id, en, ar)?);
        }
        "limit" => query.limit = param.limit()?,
        "cursor" => query.before = Some(param.cursor(|v| RequestId::parse(v).ok())?),
        _ => return Ok(Read::Unknown),
    }
    Ok(Read::Taken)
}

/// A date and time (`since`, `until`), in RFC 3339.
fn date_time(param: &Param<'_>) -> Result<DateTime<Utc>, FieldError> {
    let rfc3339 = |v: &str| {
        DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let (en, ar) = (
        "must be a date and time (RFC 3339)",
        "يجب أن يكون تاريخًا ووقتًا (RFC 3339)",
    );
    param.parse(rfc3339, en, ar)
}

/// The minutes of a `window`: `15m`, `1h` or `24h`.
fn window_minutes(window: &str) -> Option<i64> {
    match window {
        "15m" => Some(15),
        "1h" => Some(60),
        "24h" => Some(24 * 60),
        _ => None,
    }
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
    let items = retrying("listing requests", || state.store().ops_requests(&query)).await?;
    let page = Paged::of(items, filter.query.limit);
    let next = page.next(|i| i.id.to_string());
    Ok((page.items.iter().map(summary).collect(), next))
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
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Admin)?;
    let body = body.json()?;
    let reason =
        reason(&body, true).map_err(|e| ApiError::new(ProblemKind::ValidationFailed).errors(e))?;
    // Exists first: a reveal of nothing is not audited.
    detail(&state, &id, false).await?;
    audit_reveal(&state, &operator.name, &id, &reason).await?;
    tracing::info!(operator = %operator.name, request = %id, "request revealed");
    let view = detail(&state, &id, true).await?;
    Ok(([(CACHE_CONTROL, "no-store")], Json(view)).into_response())
}
