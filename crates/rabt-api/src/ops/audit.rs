//! `GET /ops/v1/audit`: the audit log for operators (viewer), newest first, filtered
//! by request, cooperative, operator, action and time, through the store's audit
//! listing.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rabt_core::{CooperativeId, RequestId};
use rabt_store::{AuditQuery, OperatorRole};
use serde_json::{Value, json};

use super::auth::OperatorCaller;
use super::requests::step;
use super::retrying;
use crate::problem::{ApiError, FieldError};
use crate::query::finish;
use crate::state::AppState;

/// Parses `request, cooperative, operator, action, since, until, window, limit,
/// cursor` into a newest-first query.
pub(crate) fn parse(query: &str) -> Result<AuditQuery, ApiError> {
    let mut parsed = AuditQuery {
        newest_first: true,
        limit: 50,
        ..AuditQuery::default()
    };
    let mut errors = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.is_empty() {
            continue;
        }
        // PostgreSQL cannot compare text holding NUL: refused here, not a 500 there.
        if let Some(refused) = crate::query::refused_text(&name, &value) {
            errors.push(refused);
            continue;
        }
        let bad = |en: &str| FieldError::parameter(name.as_ref(), en, "قيمة غير صالحة");
        let time = |v: &str| DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc));
        match name.as_ref() {
            "request" => match RequestId::parse(value.trim()) {
                Ok(id) => parsed.request = Some(id),
                Err(_) => errors.push(bad("must be a req_… id")),
            },
            "cooperative" => match CooperativeId::parse(value.trim()) {
                Ok(id) => parsed.cooperative = Some(id),
                Err(_) => errors.push(bad("must be a coop_… id")),
            },
            "operator" if value.chars().count() <= 64 => {
                parsed.operator = Some(value.trim().to_owned())
            }
            "action" if value.chars().count() <= 64 => parsed.action = Some(value.trim().to_owned()),
            "since" | "until" => match time(&value) {
                Ok(t) if name == "since" => parsed.since = Some(t),
                Ok(t) => parsed.until = Some(t),
                Err(_) => errors.push(bad("must be a date and time (RFC 3339)")),
            },
            "window" => {
                let minutes = match value.as_ref() {
                    "15m" => 15,
                    "1h" => 60,
                    "24h" => 24 * 60,
                    _ => {
                        errors.push(bad("must be 15m, 1h or 24h"));
                        continue;
                    }
                };
                parsed.since = Some(Utc::now() - chrono::Duration::minutes(minutes));
            }
            "limit" => match crate::query::page_limit(&value, &name) {
                Ok(n) => parsed.limit = n,
                Err(e) => errors.push(e),
            },
            "cursor" => match value.parse::<i64>() {
                Ok(seq) if seq > 0 => parsed.before_seq = Some(seq),
                _ => errors.push(crate::query::bad_cursor(&name)),
            },
            _ => errors.push(FieldError::parameter(
                name.as_ref(),
                "unknown parameter or value too long (allowed: request, cooperative, operator, action, since, until, window, limit, cursor)",
                "معامل غير معروف",
            )),
        }
    }
    finish(parsed, errors)
}

/// The entries a query selects, and the cursor of the next page.
pub(crate) async fn page(
    state: &AppState,
    query: &AuditQuery,
) -> Result<(Vec<Value>, Option<i64>), ApiError> {
    let ask = AuditQuery {
        limit: query.limit + 1,
        ..query.clone()
    };
    let mut entries = retrying("reading the audit log", || state.store().audit_log(&ask)).await?;
    let more = entries.len() > query.limit as usize;
    entries.truncate(query.limit as usize);
    let next = if more {
        entries.last().map(|e| e.seq)
    } else {
        None
    };
    Ok((entries.iter().map(step).collect(), next))
}

/// `GET /ops/v1/audit?…` (viewer).
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: OperatorCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    let query = parse(raw.as_deref().unwrap_or(""))?;
    let (items, next) = page(&state, &query).await?;
    Ok(Json(json!({ "items": items, "next": next })).into_response())
}
