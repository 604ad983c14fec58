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
use crate::query::{Paged, Param, Read, read_query};
use crate::state::AppState;

/// The parameters of the audit listing.
const PARAMETERS: [&str; 9] = [
    "request",
    "cooperative",
    "operator",
    "action",
    "since",
    "until",
    "window",
    "limit",
    "cursor",
];

/// Parses [`PARAMETERS`] into a newest-first query, through the lists' one reader
/// ([`read_query`]): every bad parameter is named, an empty filter filters nothing.
pub(crate) fn parse(query: &str) -> Result<AuditQuery, ApiError> {
    let parsed = AuditQuery {
        newest_first: true,
        limit: 50,
        ..AuditQuery::default()
    };
    read_query(query, parsed, &PARAMETERS, read)
}

/// Reads one parameter of the audit listing into `parsed`.
fn read(parsed: &mut AuditQuery, param: &Param<'_>) -> Result<Read, FieldError> {
    let value = param.value().trim();
    let time = |_: &str| {
        DateTime::parse_from_rfc3339(value)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let short = |_: &str| (value.chars().count() <= 64).then(|| value.to_owned());
    let (too_long, too_long_ar) = ("must be at most 64 characters", "يجب ألا يتجاوز 64 حرفًا");
    match param.name() {
        "request" => {
            let id = |_: &str| RequestId::parse(value).ok();
            let ar = "يجب أن يكون معرّف طلب req_…";
            parsed.request = Some(param.parse(id, "must be a req_… id", ar)?);
        }
        "cooperative" => {
            let id = |_: &str| CooperativeId::parse(value).ok();
            let ar = "يجب أن يكون معرّف جمعية coop_…";
            parsed.cooperative = Some(param.parse(id, "must be a coop_… id", ar)?);
        }
        "operator" => parsed.operator = Some(param.parse(short, too_long, too_long_ar)?),
        "action" => parsed.action = Some(param.parse(short, too_long, too_long_ar)?),
        name @ ("since" | "until") => {
            let ar = "يجب أن يكون تاريخًا ووقتًا (RFC 3339)";
            let at = Some(param.parse(time, "must be a date and time (RFC 3339)", ar)?);
            if name == "since" {
                parsed.since = at;
            } else {
                parsed.until = at;
            }
        }
        "window" => {
            let minutes = |v: &str| match v {
                "15m" => Some(15),
                "1h" => Some(60),
                "24h" => Some(24 * 60),
                _ => None,
            };
            let ar = "يجب أن يكون 15m أو 1h أو 24h";
            let minutes = param.parse(minutes, "must be 15m, 1h or 24h", ar)?;
            parsed.since = Some(Utc::now() - chrono::Duration::minutes(minutes));
        }
        "limit" => parsed.limit = param.limit()?,
        "cursor" => {
            let seq = |v: &str| v.parse::<i64>().ok().filter(|seq| *seq > 0);
            parsed.before_seq = Some(param.cursor(seq)?);
        }
        _ => return Ok(Read::Unknown),
    }
    Ok(Read::Taken)
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
    let entries = retrying("reading the audit log", || state.store().audit_log(&ask)).await?;
    let page = Paged::of(entries, query.limit);
    Ok((page.items.iter().map(step).collect(), page.next(|e| e.seq)))
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

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn every_bad_parameter_is_named_and_empty_filters_filter_nothing() {
        let long = "x".repeat(65);
        let err = parse(&format!(
            "request=req_nope&window=2h&limit=0&cursor=-1&since=yesterday&operator={long}&nobody=1"
        ))
        .unwrap_err();
        assert_eq!(
            err.parameters(),
            [
                "request", "window", "limit", "cursor", "since", "operator", "nobody"
            ]
        );

        let query = parse("request=&operator=&action=login&window=1h&limit=5").unwrap();
        assert!(query.newest_first);
        assert_eq!(query.request, None);
        assert_eq!(query.operator, None);
        assert_eq!(query.action.as_deref(), Some("login"));
        assert!(query.since.is_some());
        assert_eq!(query.limit, 5);
    }
}
