//! A task gets its outcome, from an agency's answer or from its deadline, and when it
//! was the request's last open task the request gets its verdict and an event, all in
//! one transaction.
//!
//! The request's `pending_tasks` counter is decremented with `UPDATE … RETURNING`; on
//! PostgreSQL that row lock serialises the completions of one request's tasks, so
//! exactly one of them sees the counter reach zero and completes the request. The same
//! statement says whether checks still wait for others (BLOCKED): a check becomes
//! BLOCKED only when its request is accepted or a replay reopens it, so when none waits
//! now, this outcome has nothing to release. (The worker's group commit sends one
//! request's answers to one writer, so they do not queue for that row lock.)

use chrono::{DateTime, Utc};
use rabt_core::{
    CooperativeId, Event, EventV1, Outcome, RequestId, RequestStatus, TaskEvent, TaskId, TaskState,
    Verdict,
};
use serde_json::json;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_bool, get_enum, get_parsed, millis, page_limit};
use crate::compose::{Decided, compose_in};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::group::write_batch;
use crate::notifications::queue_notification;
use crate::outbox::insert_event;
use crate::tasks::{LockedTask, task_audit};

/// An agency's answer to a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCompletion {
    /// The task.
    pub task: TaskId,
    /// What the answer means.
    pub outcome: Outcome,
    /// The service output.
    pub data: Option<serde_json::Value>,
    /// The agency's own reference, if it gave one.
    pub upstream_ref: Option<String>,
    /// The error behind an `UPSTREAM_ERROR` or `INVALID_INPUT`, kept on the task.
    pub error: Option<String>,
    /// How long the agency took.
    pub latency_ms: Option<i64>,
    /// When the answer came.
    pub completed_at: DateTime<Utc>,
}

/// The result of [`Store::complete_task`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The task has its outcome now.
    Applied {
        /// Set when this was the request's last open task: the request has its
        /// verdict (exactly once per request).
        request_completed: Option<RequestCompleted>,
        /// Whether other checks of the request still wait (BLOCKED) for checks like
        /// this one: only then may this outcome release or skip any, so a store with a
        /// [`crate::compose::Decider`] decides them only then, and not after every
        /// answer. As of the answer, before any decision `decided` reports.
        checks_waiting: bool,
        /// What the store's [`crate::compose::Decider`] decided about those checks in
        /// this transaction; `None` when none waited or the store has no decider.
        decided: Option<Decided>,
    },
    /// The task had its outcome already; nothing changed (a late answer to a task
    /// that timed out is recorded beside it, see [`crate::LateAnswer`]).
    AlreadyCompleted,
}

/// A request that just got its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCompleted {
    /// The request.
    pub request: RequestId,
    /// Whose request it is.
    pub cooperative: CooperativeId,
    /// Its verdict.
    pub verdict: Verdict,
}

/// How a task ends, whatever ended it.
pub(crate) struct Finish<'a> {
    pub(crate) outcome: Outcome,
    pub(crate) data: Option<&'a serde_json::Value>,
    pub(crate) upstream_ref: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) latency_ms: Option<i64>,
    pub(crate) at: DateTime<Utc>,
    pub(crate) actor: Actor,
}

/// What [`Store::expire_overdue_tasks`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// The requests that had a task timed out (composite requests may now release or
    /// skip the checks that waited for it).
    pub requests: Vec<RequestId>,
    /// The requests that got their verdict.
    pub completed: Vec<RequestCompleted>,
}

/// The largest batch [`Store::expire_overdue_tasks`] handles per call.
const MAX_EXPIRE: u32 = 1000;

impl Store {
    /// Records an agency's answer. [`StoreError::NotFound`] for an unknown task,
    /// [`StoreError::IllegalTransition`] for a task that was never started.
    pub async fn complete_task(
        &self,
        completion: &TaskCompletion,
    ) -> Result<Completion, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = complete_in(self, &mut tx, completion).await;
        tx.settle(result).await?
    }

    /// Records several answers in one transaction (the worker's group commit),
    /// answering each, in order, as [`Store::complete_task`] would have alone (see
    /// [`crate::group::write_batch`]).
    pub async fn complete_tasks(
        &self,
        completions: &[TaskCompletion],
    ) -> Vec<Result<Completion, StoreError>> {
        write_batch::<crate::group::worker::Answers>(self, completions).await
    }

    /// Times out up to `limit` open tasks whose deadline has passed, through the same
    /// path as an answer (so verdicts and events follow). Each task is its own
    /// transaction; a task that another process completed meanwhile is skipped.
    pub async fn expire_overdue_tasks(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Expired, StoreError> {
        let rows = sqlx::query(
            // A paused agency's tasks wait: resuming gives them their paused time back.
            "SELECT id FROM tasks WHERE status <> 'COMPLETED' AND deadline_at <= $1 \
             AND agency NOT IN (SELECT agency FROM agency_pauses) \
             ORDER BY deadline_at LIMIT $2",
        )
        .bind(millis(now))
        .bind(page_limit(limit, MAX_EXPIRE))
        .fetch_all(&self.pool)
        .await?;
        let mut expired = Expired::default();
        for row in &rows {
            let id: TaskId = get_parsed(row, "id")?;
            let mut tx = self.begin_write().await?;
            let Some(task) = self.lock_task(tx.conn(), id).await? else {
                continue;
            };
            let Ok(next) = task.state.apply(TaskEvent::DeadlinePassed) else {
                continue;
            };
            let finish = Finish {
                outcome: next.outcome().unwrap_or(Outcome::Timeout),
                data: None,
                upstream_ref: None,
                error: Some("deadline passed"),
                latency_ms: None,
                at: now,
                actor: Actor::System,
            };
            let result = finish_task(&mut tx, &task, &finish).await?;
            tx.commit().await?;
            if let Completion::Applied {
                request_completed, ..
            } = result
            {
                if !expired.requests.contains(&task.request) {
                    expired.requests.push(task.request);
                }
                expired.completed.extend(request_completed);
            }
        }
        Ok(expired)
    }
}

/// The statuses an answer completes: those `TaskEvent::Answered` leaves (the
/// `answerable_statuses_are_the_state_machines` test keeps them equal).
macro_rules! answerable {
    () => {
        "('RUNNING', 'AWAITING_CALLBACK')"
    };
}

/// An answer's outcome, written only to a task that can take it; the task as the rest
/// of the completion needs it. On PostgreSQL the row lock it takes serialises it with
/// anything else that would end the task.
const ANSWER_TASK: &str = concat!(
    "UPDATE tasks SET status = 'COMPLETED', outcome = $1, data = $2, \
     upstream_ref = COALESCE($3, upstream_ref), last_error = COALESCE($4, last_error), \
     latency_ms = $5, completed_at = $6 WHERE id = $7 AND status IN ",
    answerable!(),
    " RETURNING id, request_id, agency"
);

/// Records an agency's answer in `tx`: the task's outcome, and the request's verdict
/// if it was the last open task; a late answer to a task that timed out beside it. The
/// inner error is a refusal decided before anything was written (an unknown task, an
/// answer its state cannot take): the transaction may go on with other answers.
///
/// The outcome is written first, guarded by the statuses that take an answer, with no
/// read before it; the task is read only when that found nothing, to say why (a
/// redelivery, a late answer: rare).
pub(crate) async fn complete_in(
    store: &Store,
    tx: &mut WriteTx,
    completion: &TaskCompletion,
) -> Result<Result<Completion, StoreError>, StoreError> {
    let (request, mut completion) = match answer_in(tx, completion).await? {
        Some((task, finish)) => (task.request, close_task(tx, &task, &finish).await?),
        None => match not_answered(store, tx, completion).await? {
            Ok(answered) => answered,
            Err(refused) => return Ok(Err(refused)),
        },
    };
    if let (
        Some(decider),
        Completion::Applied {
            request_completed,
            checks_waiting: true,
            decided,
        },
    ) = (&store.decider, &mut completion)
    {
        // A released check's deadline runs from now, not from when the agency answered.
        let made = compose_in(store, tx, request, decider.as_ref(), Utc::now()).await?;
        *request_completed = made.request_completed;
        *decided = Some(made);
    }
    Ok(Ok(completion))
}

/// Writes the answer's outcome if the task can take it ([`ANSWER_TASK`]): the task and
/// how it ended, or `None` when the guard found nothing.
async fn answer_in<'a>(
    tx: &mut WriteTx,
    completion: &'a TaskCompletion,
) -> Result<Option<(LockedTask, Finish<'a>)>, StoreError> {
    // The state machine's outcome: what an answer makes of a task that can take it.
    let answered = TaskState::Running.apply(TaskEvent::Answered(completion.outcome))?;
    let outcome = answered.outcome().unwrap_or(completion.outcome);
    let data = completion.data.as_ref().map(serde_json::to_string);
    let row = sqlx::query(ANSWER_TASK)
        .bind(outcome.as_str())
        .bind(data.transpose()?)
        .bind(completion.upstream_ref.as_deref())
        // Error texts may quote what an agency said: anything personal in them is masked.
        .bind(completion.error.as_deref().map(rabt_core::pii::redact))
        .bind(completion.latency_ms)
        .bind(millis(completion.completed_at))
        .bind(completion.task.to_string())
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let task = LockedTask {
        id: get_parsed(&row, "id")?,
        request: get_parsed(&row, "request_id")?,
        agency: get_parsed(&row, "agency")?,
        // Its state now; what it was before (running, or awaiting its callback) is
        // not needed after the guard.
        state: answered,
        has_late_answer: false,
    };
    let finish = answer_finish(&task, completion, outcome);
    Ok(Some((task, finish)))
}

/// How an answer ends `task`.
fn answer_finish<'a>(
    task: &LockedTask,
    completion: &'a TaskCompletion,
    outcome: Outcome,
) -> Finish<'a> {
    Finish {
        outcome,
        data: completion.data.as_ref(),
        upstream_ref: completion.upstream_ref.as_deref(),
        error: completion.error.as_deref(),
        latency_ms: completion.latency_ms,
        at: completion.completed_at,
        actor: Actor::Agency(task.agency),
    }
}

/// An answer the guarded write did not take: the task, read and locked now, says why.
/// A task that timed out keeps its first late answer beside its outcome; one that
/// became answerable meanwhile (PostgreSQL: a start committed in between) takes it.
async fn not_answered(
    store: &Store,
    tx: &mut WriteTx,
    completion: &TaskCompletion,
) -> Result<Result<(RequestId, Completion), StoreError>, StoreError> {
    let Some(task) = store.lock_task(tx.conn(), completion.task).await? else {
        return Ok(Err(StoreError::NotFound { what: "task" }));
    };
    if let TaskState::Completed(outcome) = task.state {
        if outcome == Outcome::Timeout && completion.outcome.is_answer() && !task.has_late_answer {
            record_late_answer(tx, &task, completion).await?;
        }
        return Ok(Ok((task.request, Completion::AlreadyCompleted)));
    }
    let next = match task.state.apply(TaskEvent::Answered(completion.outcome)) {
        Ok(next) => next,
        Err(illegal) => return Ok(Err(illegal.into())),
    };
    let outcome = next.outcome().unwrap_or(completion.outcome);
    let finish = answer_finish(&task, completion, outcome);
    let completed = finish_task(tx, &task, &finish).await?;
    Ok(Ok((task.request, completed)))
}

/// Completes a locked, open task and, if it was the last one, its request.
pub(crate) async fn finish_task(
    tx: &mut WriteTx,
    task: &LockedTask,
    finish: &Finish<'_>,
) -> Result<Completion, StoreError> {
    let data = finish.data.map(serde_json::to_string).transpose()?;
    let updated = sqlx::query(
        "UPDATE tasks SET status = 'COMPLETED', outcome = $1, data = $2, \
         upstream_ref = COALESCE($3, upstream_ref), last_error = COALESCE($4, last_error), \
         latency_ms = $5, completed_at = $6 WHERE id = $7 AND status <> 'COMPLETED'",
    )
    .bind(finish.outcome.as_str())
    .bind(data)
    .bind(finish.upstream_ref)
    // Error texts may quote what an agency said: anything personal in them is masked.
    .bind(finish.error.map(rabt_core::pii::redact))
    .bind(finish.latency_ms)
    .bind(millis(finish.at))
    .bind(task.id.to_string())
    .execute(tx.conn())
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(Completion::AlreadyCompleted);
    }
    close_task(tx, task, finish).await
}

/// What follows a task's outcome, once written: its audit entry, the request's count
/// of open tasks and, if it was the last one, the request's verdict.
async fn close_task(
    tx: &mut WriteTx,
    task: &LockedTask,
    finish: &Finish<'_>,
) -> Result<Completion, StoreError> {
    let mut entry = task_audit(task, finish.actor.clone(), "task.completed");
    entry.outcome = Some(finish.outcome.as_str().to_owned());
    entry.latency_ms = finish.latency_ms;

    let row = sqlx::query(
        "UPDATE requests SET pending_tasks = pending_tasks - 1, updated_at = $1 WHERE id = $2 \
         RETURNING pending_tasks, status, cooperative_id, traceparent, \
         (SELECT count(*) FROM tasks t WHERE t.request_id = requests.id \
         AND t.status = 'BLOCKED') AS checks_waiting",
    )
    .bind(millis(finish.at))
    .bind(task.request.to_string())
    .fetch_one(tx.conn())
    .await?;
    let pending: i64 = sqlx::Row::try_get(&row, "pending_tasks")?;
    if pending > 0 {
        tx.audit(entry, finish.at);
        return Ok(Completion::Applied {
            request_completed: None,
            checks_waiting: get_bool(&row, "checks_waiting")?,
            decided: None,
        });
    }
    let request = ClosingRequest {
        id: task.request,
        cooperative: get_parsed(&row, "cooperative_id")?,
        status: get_enum(&row, "status", RequestStatus::parse)?,
        traceparent: sqlx::Row::try_get(&row, "traceparent")?,
    };
    // The task's entry and the request's go in one statement.
    let done = complete_request(tx, &request, finish.at, entry).await?;
    Ok(Completion::Applied {
        request_completed: Some(done),
        checks_waiting: false,
        decided: None,
    })
}

struct ClosingRequest {
    id: RequestId,
    cooperative: CooperativeId,
    status: RequestStatus,
    traceparent: Option<String>,
}

/// Gives a request whose tasks all have their outcome its verdict, audits it (after
/// `completed`, the entry of the task that completed it) and queues the event.
async fn complete_request(
    tx: &mut WriteTx,
    request: &ClosingRequest,
    at: DateTime<Utc>,
    completed: NewAuditEntry,
) -> Result<RequestCompleted, StoreError> {
    let next = request.status.advance(RequestStatus::Completed)?;
    let rows = sqlx::query("SELECT outcome, required FROM tasks WHERE request_id = $1")
        .bind(request.id.to_string())
        .fetch_all(tx.conn())
        .await?;
    let checks = rows
        .iter()
        .map(|row| {
            Ok((
                get_enum(row, "outcome", Outcome::parse)?,
                get_bool(row, "required")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let verdict = Verdict::from_checks(checks);
    sqlx::query(
        "UPDATE requests SET status = $1, verdict = $2, completed_at = $3, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(next.as_str())
    .bind(verdict.as_str())
    .bind(millis(at))
    .bind(request.id.to_string())
    .execute(tx.conn())
    .await?;
    let mut entry = NewAuditEntry::new(Actor::System, "request.completed");
    entry.request = Some(request.id);
    entry.outcome = Some(verdict.as_str().to_owned());
    tx.audits([completed, entry], at);
    let event = Event::V1(EventV1::RequestCompleted {
        request: request.id,
        cooperative: request.cooperative,
        verdict,
    });
    let message_id = format!("{}.completed", request.id);
    let lease_until = tx.outbox_lease_until(at);
    let row = insert_event(
        tx.conn(),
        &event,
        message_id,
        request.traceparent.as_deref(),
        at,
        lease_until,
    )
    .await?;
    tx.hand_over(row);
    // In the completion's own transaction: a crash never loses the notification.
    queue_notification(tx.conn(), request.id, at).await?;
    Ok(RequestCompleted {
        request: request.id,
        cooperative: request.cooperative,
        verdict,
    })
}

/// Keeps the first answer that arrives after a task timed out, beside its outcome.
async fn record_late_answer(
    tx: &mut WriteTx,
    task: &LockedTask,
    completion: &TaskCompletion,
) -> Result<(), StoreError> {
    let data = completion
        .data
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    sqlx::query(
        "UPDATE tasks SET late_outcome = $1, late_data = $2, late_at = $3 \
         WHERE id = $4 AND late_outcome IS NULL",
    )
    .bind(completion.outcome.as_str())
    .bind(data)
    .bind(millis(completion.completed_at))
    .bind(task.id.to_string())
    .execute(tx.conn())
    .await?;
    let mut entry = task_audit(task, Actor::Agency(task.agency), "task.late_answer");
    entry.outcome = Some(completion.outcome.as_str().to_owned());
    entry.latency_ms = completion.latency_ms;
    entry.detail = json!({ "verdict_unchanged": true });
    tx.audit(entry, completion.completed_at);
    Ok(())
}

#[cfg(test)]
mod tests {
    use rabt_core::{Outcome, TaskEvent};

    /// The answer's SQL guard and the state machine must agree on which tasks an
    /// answer completes, or an answer would be refused by a task that takes it, or
    /// complete one that cannot.
    #[test]
    fn answerable_statuses_are_the_state_machines() {
        for state in crate::tasks::tests::every_state() {
            let quoted = format!("'{}'", state.status().as_str());
            for outcome in Outcome::ALL {
                assert_eq!(
                    state.apply(TaskEvent::Answered(outcome)).is_ok(),
                    answerable!().contains(&quoted),
                    "{state:?} answered {outcome:?}"
                );
            }
        }
    }
}
