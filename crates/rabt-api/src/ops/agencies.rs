//! `/ops/v1/agencies`: each agency's settings as this deployment runs them (never a
//! secret: a count of callback secrets, no credential), whether an operator paused it,
//! and the pause and resume of an agency for maintenance (operator; audited).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use rabt_core::Agency;
use rabt_store::{AgencyPause, OperatorRole, PauseOutcome};
use serde_json::{Value, json};

use super::auth::OperatorCaller;
use super::body::OperatorBody;
use super::cooperatives::object;
use super::retrying;
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::state::AppState;

fn time(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A pause as shown to operators.
pub(crate) fn pause_view(pause: &AgencyPause) -> Value {
    json!({
        "reason": pause.reason,
        "pausedBy": pause.paused_by,
        "pausedAt": time(pause.paused_at),
        "expectedEnd": pause.expected_end.map(time),
    })
}

/// Every agency: its settings and its pause.
pub(crate) async fn views(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let pauses = retrying("reading agency pauses", || state.store().agency_pauses()).await?;
    Ok(Agency::ALL
        .iter()
        .map(|agency| {
            let settings = state
                .settings()
                .agency_settings
                .get(agency)
                .cloned()
                .unwrap_or(Value::Null);
            let pause = pauses.iter().find(|p| p.agency == *agency);
            json!({
                "agency": agency.as_str(),
                "settings": settings,
                "services": state
                    .catalogue()
                    .services()
                    .filter(|s| s.agency() == Some(*agency))
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>(),
                "paused": pause.map(pause_view),
            })
        })
        .collect())
}

/// `GET /ops/v1/agencies` (viewer).
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: OperatorCaller,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    Ok(Json(json!({ "items": views(&state).await? })).into_response())
}

fn agency(name: &str) -> Result<Agency, ApiError> {
    name.parse().map_err(|_| {
        let names = Agency::wire_names().join(", ");
        ApiError::new(ProblemKind::NotFound)
            .detail(format!("no such agency ({names})"), "لا توجد جهة بهذا الاسم")
    })
}

/// The body of a pause: `{"reason": "…", "expectedEnd": "<RFC 3339>"}` (the end is
/// optional, and must be in the future).
pub(crate) fn pause_body(body: &Value) -> Result<(String, Option<DateTime<Utc>>), Vec<FieldError>> {
    let map = object(body, &["reason", "expectedEnd"])?;
    let mut errors = Vec::new();
    let reason = match map.get("reason") {
        Some(Value::String(text)) if !text.trim().is_empty() && text.chars().count() <= 200 => {
            Some(text.trim().to_owned())
        }
        _ => {
            errors.push(FieldError::at(
                "/reason",
                "give a reason (1 to 200 characters): operators see it, and it goes to the audit log",
                "اذكر السبب (من 1 إلى 200 حرف): يراه المشغّلون ويُسجَّل في سجل التدقيق",
            ));
            None
        }
    };
    let end = match map.get("expectedEnd") {
        None | Some(Value::Null) => None,
        Some(value) => match value
            .as_str()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|t| t.with_timezone(&Utc))
        {
            Some(end) if end > Utc::now() => Some(end),
            _ => {
                errors.push(FieldError::at(
                    "/expectedEnd",
                    "must be a future date and time (RFC 3339, e.g. 2026-12-07T18:00:00+03:00)",
                    "يجب أن يكون تاريخًا ووقتًا في المستقبل (RFC 3339)",
                ));
                None
            }
        },
    };
    match reason {
        Some(reason) if errors.is_empty() => Ok((reason, end)),
        _ => Err(errors),
    }
}

/// `POST /ops/v1/agencies/{agency}/pause` (operator).
pub(crate) async fn pause(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(name): Path<String>,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?;
    let agency = agency(&name)?;
    let body = body.json()?;
    let (reason, end) =
        pause_body(&body).map_err(|e| ApiError::new(ProblemKind::ValidationFailed).errors(e))?;
    let outcome = retrying("pausing an agency", || {
        state
            .store()
            .pause_agency(agency, &reason, end, &operator.name)
    })
    .await?;
    match outcome {
        PauseOutcome::Paused(pause) => {
            tracing::info!(operator = %operator.name, %agency, "agency paused");
            Ok(
                Json(json!({ "agency": agency.as_str(), "paused": pause_view(&pause) }))
                    .into_response(),
            )
        }
        PauseOutcome::Already(pause) => Err(ApiError::new(ProblemKind::AgencyPauseState).detail(
            format!("{agency} is paused already, by {}", pause.paused_by),
            format!("الجهة {agency} متوقفة أصلًا، أوقفها {}", pause.paused_by),
        )),
    }
}

/// `POST /ops/v1/agencies/{agency}/resume` (operator).
pub(crate) async fn resume(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?;
    let agency = agency(&name)?;
    let resumed = retrying("resuming an agency", || {
        state.store().resume_agency(agency, &operator.name)
    })
    .await?;
    match resumed {
        Some(resumed) => {
            tracing::info!(operator = %operator.name, %agency, extended = resumed.extended_tasks, "agency resumed");
            Ok(Json(json!({
                "agency": agency.as_str(),
                "paused": null,
                "extendedTasks": resumed.extended_tasks,
            }))
            .into_response())
        }
        None => Err(ApiError::new(ProblemKind::AgencyPauseState).detail(
            format!("{agency} is not paused"),
            format!("الجهة {agency} غير متوقفة"),
        )),
    }
}
