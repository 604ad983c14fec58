//! `/ops/v1/dead-letters`: list and read dead letters (viewer), replay one or many
//! (operator), purge one (admin). Every replay and purge is audited by the store with
//! the operator as actor, in the transaction that makes it.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use rabt_core::{Agency, DeadLetterId};
use rabt_metrics::metrics;
use rabt_store::{
    DeadLetter, DeadLetterQuery, DeadLetterState, OperatorRole, PurgeOutcome, Queued, ReplayOutcome,
};
use serde_json::{Value, json};

use super::auth::OperatorCaller;
use super::body::OperatorBody;
use super::query::DeadLetterParams;
use super::{retrying, view};
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::query::Paged;
use crate::state::AppState;

/// `GET /ops/v1/dead-letters?agency=&state=&limit=&cursor=`: newest first, open ones
/// unless `state` says otherwise.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: OperatorCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    let params = DeadLetterParams::parse(raw.as_deref().unwrap_or(""))?;
    let query = DeadLetterQuery {
        agency: params.agency,
        state: params.state,
        before: params.cursor,
        limit: params.limit + 1,
    };
    let items = retrying("listing dead letters", || {
        state.store().list_dead_letters(&query)
    })
    .await?;
    let page = Paged::of(items, params.limit);
    let next = page
        .next(|last| params.next_link(last.id))
        .map_or(Value::Null, Value::String);
    let items: Vec<Value> = page.items.iter().map(view::summary).collect();
    Ok(Json(json!({ "items": items, "links": { "next": next } })).into_response())
}

/// `GET /ops/v1/dead-letters/{id}`: one dead letter with its body and headers.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    let letter = find(&state, &id).await?;
    // A purged dead letter was deleted (`DELETE`): it is gone from here, as a deleted
    // resource is; its record stays in the list (`state=purged`) and the audit log.
    if letter.state() == DeadLetterState::Purged {
        return Err(ApiError::new(ProblemKind::NotFound).detail(
            "this dead letter was purged; it is listed with state=purged",
            "حُذفت هذه الرسالة الميتة؛ تظهر في القائمة مع state=purged",
        ));
    }
    Ok(Json(view::full(&letter)).into_response())
}

/// `POST /ops/v1/dead-letters/{id}/replay`: reopens the dead letter's task (or queues
/// its agency callback again), once.
pub(crate) async fn replay(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?;
    let letter = replay_one(&state, &id, &operator.name).await?;
    Ok(Json(view::full(&letter)).into_response())
}

/// Replays one dead letter as `operator` (the operator API and the console): the dead
/// letter as it is now, or why nothing was done.
pub(crate) async fn replay_one(
    state: &AppState,
    id: &str,
    operator: &str,
) -> Result<DeadLetter, ApiError> {
    let letter = find(state, id).await?;
    let outcome = retrying("replaying a dead letter", || {
        state
            .store()
            .replay_dead_letter(letter.id, operator, Utc::now())
    })
    .await?;
    if let Some(queued) = queued(&outcome) {
        tracing::info!(%operator, dead_letter = %letter.id, %queued, "dead letter replayed");
        metrics().replayed(letter.agency);
        state.wake_outbox();
        return find(state, id).await;
    }
    Err(refusal(&outcome))
}

/// `POST /ops/v1/dead-letters/replay` with `{"agency": "…"}` or `{"all": true}`:
/// replays every open dead letter of one agency or of all, oldest first.
pub(crate) async fn replay_many(
    State(state): State<AppState>,
    caller: OperatorCaller,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?;
    let body = body.json()?;
    let agency = filter(&body)
        .map_err(|errors| ApiError::new(ProblemKind::ValidationFailed).errors(errors))?;
    // Not `retrying`: the store retries each letter itself and reports one that stays
    // contended; running the whole batch again would drop those already replayed.
    let results = state
        .store()
        .replay_dead_letters(agency, &operator.name, Utc::now())
        .await
        .map_err(|err| {
            if err.is_unavailable() {
                tracing::warn!(error = %err, "replaying dead letters: database unavailable");
                ApiError::unavailable(2)
            } else {
                ApiError::internal("replaying dead letters", &err)
            }
        })?;
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    for (id, outcome) in &results {
        match queued(outcome) {
            Some(mut queued) => {
                count_replay(&state, agency, *id).await;
                queued["id"] = json!(id.to_string());
                replayed.push(queued);
            }
            None => {
                let problem = refusal(outcome);
                let detail = match problem.problem().detail.clone() {
                    Some((en, _)) => en,
                    None => problem.problem().kind.titles().0.to_owned(),
                };
                skipped.push(json!({
                    "id": id.to_string(),
                    "problem": problem.problem().kind.type_uri(),
                    "detail": detail,
                }));
            }
        }
    }
    if !replayed.is_empty() {
        tracing::info!(operator = %operator.name, agency = ?agency, replayed = replayed.len(), skipped = skipped.len(), "dead letters replayed");
        state.wake_outbox();
    }
    Ok(Json(json!({ "replayed": replayed, "skipped": skipped })).into_response())
}

/// `DELETE /ops/v1/dead-letters/{id}`: discards an open dead letter (admin).
pub(crate) async fn purge(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Admin)?;
    let letter = purge_one(&state, &id, &operator.name).await?;
    Ok(Json(view::full(&letter)).into_response())
}

/// Purges one dead letter as `operator` (the operator API and the console).
pub(crate) async fn purge_one(
    state: &AppState,
    id: &str,
    operator: &str,
) -> Result<DeadLetter, ApiError> {
    let letter = find(state, id).await?;
    let outcome = retrying("purging a dead letter", || {
        state
            .store()
            .purge_dead_letter(letter.id, operator, Utc::now())
    })
    .await?;
    let closed = |what: &str, at: chrono::DateTime<Utc>| {
        let at = at.to_rfc3339_opts(SecondsFormat::Millis, true);
        ApiError::new(ProblemKind::DeadLetterClosed).detail(
            format!("it was {what} at {at}"),
            format!(
                "{} في {at}",
                if what == "purged" {
                    "سبق حذفها"
                } else {
                    "سبقت إعادة تشغيلها"
                }
            ),
        )
    };
    match outcome {
        PurgeOutcome::Purged => {
            tracing::info!(%operator, dead_letter = %letter.id, "dead letter purged");
            find(state, id).await
        }
        PurgeOutcome::AlreadyPurged { at } => Err(closed("purged", at)),
        PurgeOutcome::AlreadyReplayed { at } => Err(closed("replayed", at)),
    }
}

/// Counts a replay of a bulk replay in the metrics, by the dead letter's agency (read
/// back when the filter named none; a failed read only leaves it uncounted).
async fn count_replay(state: &AppState, filter: Option<Agency>, id: DeadLetterId) {
    let agency = match filter {
        Some(agency) => Some(agency),
        None => state
            .store()
            .dead_letter(id)
            .await
            .ok()
            .flatten()
            .map(|d| d.agency),
    };
    if let Some(agency) = agency {
        metrics().replayed(agency);
    }
}

/// The dead letter with this id; text that is no dead letter id is a 404 too.
pub(crate) async fn find(state: &AppState, id: &str) -> Result<DeadLetter, ApiError> {
    let not_found = || {
        ApiError::new(ProblemKind::NotFound).detail(
            format!(
                "no dead letter `{}`",
                id.chars().take(64).collect::<String>()
            ),
            "لا توجد رسالة ميتة بهذا المعرّف",
        )
    };
    let id = DeadLetterId::parse(id).map_err(|_| not_found())?;
    retrying("reading a dead letter", || state.store().dead_letter(id))
        .await?
        .ok_or_else(not_found)
}

/// What a replay queued (`task` and `request`, or `callback` and `task`); `None` when
/// it refused.
fn queued(outcome: &ReplayOutcome) -> Option<Value> {
    outcome.queued().map(|queued| match queued {
        Queued::Task { task, request } => json!({
            "task": task.to_string(),
            "request": request.to_string(),
        }),
        Queued::Callback { callback, task } => json!({
            "callback": callback.to_string(),
            "task": task.to_string(),
        }),
    })
}

/// Why a replay did not queue anything, as a problem.
fn refusal(outcome: &ReplayOutcome) -> ApiError {
    let time = |at: &chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    match outcome {
        ReplayOutcome::Reopened { .. } | ReplayOutcome::CallbackRequeued { .. } => {
            ApiError::internal("a replay that queued work reported as refused", &"queued")
        }
        ReplayOutcome::AlreadyReplayed { by, at } => {
            let by = by.as_deref().unwrap_or("an operator");
            ApiError::new(ProblemKind::DeadLetterClosed).detail(
                format!("it was replayed by {by} at {}", time(at)),
                format!("أعاد تشغيلها {by} في {}", time(at)),
            )
        }
        ReplayOutcome::Purged { at } => ApiError::new(ProblemKind::DeadLetterClosed).detail(
            format!("it was purged at {}; it cannot be replayed", time(at)),
            format!("حُذفت في {}؛ لا يمكن إعادة تشغيلها", time(at)),
        ),
        ReplayOutcome::Contended => ApiError::unavailable(2).detail(
            "it was changed by concurrent work each time it was tried; replay it again",
            "تغيّرت بعمل متزامن في كل محاولة؛ أعد تشغيلها مرة أخرى",
        ),
        ReplayOutcome::NoTask => ApiError::new(ProblemKind::DeadLetterNotReplayable).detail(
            "it names no task or callback of ours (an undecodable message, or an unknown task or callback): purge it once you have read it",
            "لا تشير إلى أي مهمة أو رد لدينا (رسالة تعذرت قراءتها أو مهمة أو رد غير معروف): احذفها بعد الاطلاع عليها",
        ),
        ReplayOutcome::CallbackApplied { callback } => {
            ApiError::new(ProblemKind::DeadLetterNotReplayable).detail(
                format!("its callback {callback} was applied meanwhile: there is nothing to replay"),
                format!("طُبِّق ردها {callback} في الأثناء: لا شيء لإعادة تشغيله"),
            )
        }
        ReplayOutcome::TaskNotDeadLettered { task, state } => {
            let state = match state.outcome() {
                Some(outcome) => format!("{} ({outcome})", state.status()),
                None => state.status().to_string(),
            };
            ApiError::new(ProblemKind::DeadLetterNotReplayable).detail(
                format!("its task {task} is {state}, not ended by a dead letter: there is nothing to replay"),
                format!("مهمتها {task} في الحالة {state} ولم تنتهِ بسبب رسالة ميتة: لا شيء لإعادة تشغيله"),
            )
        }
    }
}

/// The filter of a bulk replay: `{"agency": "…"}` (that agency) or `{"all": true}`
/// (`None`: every agency). Every mistake is reported with its JSON Pointer.
fn filter(body: &Value) -> Result<Option<Agency>, Vec<FieldError>> {
    let Some(map) = body.as_object() else {
        return Err(vec![FieldError::at(
            "",
            "the body must be a JSON object: {\"agency\": \"…\"} or {\"all\": true}",
            "يجب أن يكون المحتوى كائن JSON: {\"agency\": \"…\"} أو {\"all\": true}",
        )]);
    };
    let mut errors: Vec<FieldError> = map
        .keys()
        .filter(|key| !matches!(key.as_str(), "agency" | "all"))
        .map(|key| {
            FieldError::at(
                format!("/{}", crate::envelope::escape(key)),
                format!("unknown field `{key}` (allowed: agency, all)"),
                format!("الحقل `{key}` غير معروف (المسموح: agency وall)"),
            )
        })
        .collect();
    let agency = match map.get("agency") {
        None => None,
        Some(value) => match value.as_str().map(str::parse::<Agency>) {
            Some(Ok(agency)) => Some(agency),
            _ => {
                let (en, ar) = super::agency_expected();
                errors.push(FieldError::at("/agency", en, ar));
                None
            }
        },
    };
    let all = match map.get("all") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            errors.push(FieldError::at(
                "/all",
                "must be true (to replay every agency's dead letters), or left out",
                "يجب أن تكون true (لإعادة تشغيل رسائل كل الجهات) أو أن تُحذف",
            ));
            false
        }
    };
    match (map.contains_key("agency"), map.contains_key("all")) {
        (true, true) => errors.push(FieldError::at(
            "",
            "name an `agency` or set `all`, not both",
            "حدد `agency` أو `all` وليس كليهما",
        )),
        (false, false) => errors.push(FieldError::at(
            "",
            "name an `agency`, or set `all: true` to replay every agency's dead letters",
            "حدد `agency`، أو اجعل `all: true` لإعادة تشغيل رسائل كل الجهات",
        )),
        (true, false) | (false, true) => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(if all { None } else { agency })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(body: Value) -> Vec<String> {
        filter(&body)
            .unwrap_err()
            .into_iter()
            .filter_map(|e| e.pointer)
            .collect()
    }

    #[test]
    fn a_bulk_replay_names_one_agency_or_all() {
        assert_eq!(
            filter(&json!({"agency": "saudi-post"})),
            Ok(Some(Agency::SaudiPost))
        );
        assert_eq!(filter(&json!({"all": true})), Ok(None));
        assert_eq!(pointers(json!({})), [""]);
        assert_eq!(pointers(json!({"agency": "labor", "all": true})), [""]);
        assert_eq!(pointers(json!({"all": false})), ["/all"]);
        assert_eq!(pointers(json!({"agency": "mars"})), ["/agency"]);
        assert_eq!(
            pointers(json!({"agency": 3, "x/y": 1})),
            ["/x~1y", "/agency"]
        );
        assert_eq!(pointers(json!([])), [""]);
    }
}
