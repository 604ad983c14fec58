//! An operator replaying a dead letter: its task reopens and runs again (or, for an
//! agency's callback, `callback` queues it again). Conditional on the dead letter still
//! being open, so two operators clicking at once reopen the task once; audited with the
//! operator as actor.
//!
//! A replay locks the task first, then the dead letter, then the request's skipped
//! checks, then the request (tasks before their request, as every path does), so
//! concurrent replays of one task's dead letters serialise instead of deadlocking.

use chrono::{DateTime, Duration, Utc};
use rabt_core::{
    Agency, CallbackId, DeadLetterId, RequestId, RequestStatus, ServiceName, TaskEvent, TaskId,
    TaskMessage, TaskState,
};
use serde_json::json;
use sqlx::Row;

use crate::codec::{get_enum, get_opt_time, get_parsed, get_time, millis};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::outbox::insert_task_message;
use crate::reads::task_state;

use super::closing::{Closed, Closes, Replayed, close_replayed};
use super::pages::OpenPages;

/// What [`Store::replay_dead_letter`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// The task is queued again and its request running; the other open dead letters
    /// of the same task were closed with it.
    Reopened {
        /// The task.
        task: TaskId,
        /// Its request.
        request: RequestId,
    },
    /// Replayed before (by this or another operator); nothing changed.
    AlreadyReplayed {
        /// Who replayed it.
        by: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Purged before; nothing changed.
    Purged {
        /// When.
        at: DateTime<Utc>,
    },
    /// An agency's callback that was not applied is queued again for its agency's
    /// workers; this and the callback's other open dead letters were closed with it.
    CallbackRequeued {
        /// The callback.
        callback: CallbackId,
        /// The task it answers.
        task: TaskId,
    },
    /// It names no task or callback of ours (an undecodable message, or an unknown task
    /// or callback): there is nothing to run again. Purge it instead.
    NoTask,
    /// Its callback was applied meanwhile (an earlier copy of the message got through):
    /// there is nothing to apply again.
    CallbackApplied {
        /// The callback.
        callback: CallbackId,
    },
    /// Its task did not end because of a dead letter, or no longer is in that state
    /// (it completed otherwise, or was already replayed through another dead letter).
    TaskNotDeadLettered {
        /// The task.
        task: TaskId,
        /// Its state now.
        state: TaskState,
    },
    /// A bulk replay found it changed by concurrent transactions every time it tried;
    /// it is still open, to be replayed again.
    Contended,
}

/// What a replay queued again, when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// The task, whose request runs again ([`ReplayOutcome::Reopened`]).
    Task {
        /// The task.
        task: TaskId,
        /// Its request.
        request: RequestId,
    },
    /// An agency's callback ([`ReplayOutcome::CallbackRequeued`]).
    Callback {
        /// The callback.
        callback: CallbackId,
        /// The task it answers.
        task: TaskId,
    },
}

impl ReplayOutcome {
    /// What the replay queued again; `None` when it refused and changed nothing. The
    /// one place that sorts the outcomes into queued and refused, for every caller
    /// that reports a replay (the operator API and the CLI).
    pub fn queued(&self) -> Option<Queued> {
        match *self {
            Self::Reopened { task, request } => Some(Queued::Task { task, request }),
            Self::CallbackRequeued { callback, task } => Some(Queued::Callback { callback, task }),
            Self::AlreadyReplayed { .. }
            | Self::Purged { .. }
            | Self::NoTask
            | Self::CallbackApplied { .. }
            | Self::TaskNotDeadLettered { .. }
            | Self::Contended => None,
        }
    }
}

/// How often a bulk replay retries one dead letter that collided with a concurrent
/// transaction before reporting the conflict.
const CONFLICT_RETRIES: u32 = 3;

/// The shortest deadline a reopened task gets.
const MIN_REPLAY_DEADLINE: Duration = Duration::seconds(30);

const LOCK_TASK_POSTGRES: &str = "SELECT t.request_id, t.agency, t.service, t.status, \
     t.outcome, t.dead_lettered, t.attempts, t.created_at, t.deadline_at, r.traceparent, \
     r.created_at AS request_created_at, r.deadline_at AS request_deadline_at, \
     r.payload_expired_at \
     FROM tasks t JOIN requests r ON r.id = t.request_id WHERE t.id = $1 FOR UPDATE OF t";
const LOCK_TASK_SQLITE: &str = "SELECT t.request_id, t.agency, t.service, t.status, \
     t.outcome, t.dead_lettered, t.attempts, t.created_at, t.deadline_at, r.traceparent, \
     r.created_at AS request_created_at, r.deadline_at AS request_deadline_at, \
     r.payload_expired_at \
     FROM tasks t JOIN requests r ON r.id = t.request_id WHERE t.id = $1";
const LOCK_REQUEST_POSTGRES: &str = "SELECT status FROM requests WHERE id = $1 FOR UPDATE";
const LOCK_REQUEST_SQLITE: &str = "SELECT status FROM requests WHERE id = $1";

/// A dead-lettered task as a replay reads it under lock.
struct ReplayTask {
    id: TaskId,
    request: RequestId,
    agency: Agency,
    service: ServiceName,
    state: TaskState,
    dead_lettered: bool,
    attempts: i64,
    /// How long it had to run when it was created.
    span: Duration,
    /// How long its request had, and its deadline now.
    request_span: Duration,
    request_deadline: DateTime<Utc>,
    traceparent: Option<String>,
}

/// Queues a dead-lettered task again, to be done by `deadline`: its row back to QUEUED
/// and its message in the outbox.
async fn requeue_task(
    tx: &mut WriteTx,
    task: &ReplayTask,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Attempts start again: the retry policy's budget is for this run, and the audit
    // log keeps the attempts before it.
    sqlx::query(
        "UPDATE tasks SET status = 'QUEUED', outcome = NULL, data = NULL, \
         completed_at = NULL, started_at = NULL, latency_ms = NULL, attempts = 0, \
         first_failure_at = NULL, dead_lettered = 0, deadline_at = $1 \
         WHERE id = $2 AND status = 'COMPLETED' AND dead_lettered = 1",
    )
    .bind(millis(deadline))
    .bind(task.id.to_string())
    .execute(tx.conn())
    .await?;
    let message = TaskMessage::V1 {
        task: task.id,
        request: task.request,
        agency: task.agency,
        service: task.service.clone(),
        deadline_at: Some(deadline),
    };
    insert_task_message(tx, &message, task.traceparent.as_deref(), now).await
}

impl Store {
    /// Replays one dead letter as `operator`: in one transaction its task goes back to
    /// QUEUED (attempts counted afresh, a new deadline as long as its first one), its
    /// request to RUNNING with its verdict cleared and one more pending task, the
    /// task's message goes to the outbox, and this and the task's other open dead
    /// letters are marked replayed by `operator` and audited. In a composite, the checks
    /// that were skipped wait again (`BLOCKED`, see `composite`), so that they run once
    /// the replayed check answers `OK`; the request gets as long again as it had.
    /// [`StoreError::NotFound`] for an unknown id; every other refusal is a
    /// [`ReplayOutcome`].
    pub async fn replay_dead_letter(
        &self,
        id: DeadLetterId,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<ReplayOutcome, StoreError> {
        let task: Option<Option<TaskId>> =
            sqlx::query("SELECT task_id FROM dead_letters WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(|row| crate::codec::get_opt_parsed(&row, "task_id"))
                .transpose()?;
        let Some(task) = task else {
            return Err(StoreError::NotFound {
                what: "dead letter",
            });
        };
        let mut tx = self.begin_write().await?;
        // The task first: the order in which recording and every replay lock.
        let locked = match task {
            Some(task) => self.lock_replay_task(&mut tx, task).await?,
            None => None,
        };
        if let Some(closed) = self.closed_state(&mut tx, id).await? {
            tx.rollback().await?;
            return Ok(closed);
        }
        let Some(task) = locked else {
            // No task: perhaps an agency's callback that a worker could not apply.
            let outcome = match task {
                None => self.requeue_callback(&mut tx, id, operator, now).await?,
                Some(_) => ReplayOutcome::NoTask,
            };
            if let ReplayOutcome::CallbackRequeued { .. } = outcome {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            return Ok(outcome);
        };
        let reopened = task.state.apply(TaskEvent::Reopened);
        if !task.dead_lettered || reopened.is_err() {
            tx.rollback().await?;
            return Ok(ReplayOutcome::TaskNotDeadLettered {
                task: task.id,
                state: task.state,
            });
        }
        let outcome = self.reopen(&mut tx, &task, id, operator, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Replays every open dead letter (of `agency`, or of all agencies), oldest first,
    /// each in a transaction of its own; returns what happened to each. Dead letters
    /// closed along with an earlier one of the same task are not visited again.
    pub async fn replay_dead_letters(
        &self,
        agency: Option<Agency>,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(DeadLetterId, ReplayOutcome)>, StoreError> {
        let mut results = Vec::new();
        let mut pages = OpenPages::new(agency);
        while let Some(page) = pages.next(self).await? {
            for id in page {
                let mut tries = 0;
                let outcome = loop {
                    match self.replay_dead_letter(id, operator, now).await {
                        Err(err) if err.is_conflict() && tries < CONFLICT_RETRIES => tries += 1,
                        // Reported, not raised: the letters replayed before it are
                        // committed, and the caller must hear of them.
                        Err(err) if err.is_conflict() => break Some(ReplayOutcome::Contended),
                        // Purged or replayed by someone else meanwhile: not ours to report.
                        Err(StoreError::NotFound { .. }) => break None,
                        other => break Some(other?),
                    }
                };
                if let Some(outcome) = outcome {
                    results.push((id, outcome));
                }
            }
        }
        Ok(results)
    }

    async fn lock_replay_task(
        &self,
        tx: &mut WriteTx,
        id: TaskId,
    ) -> Result<Option<ReplayTask>, StoreError> {
        let row = sqlx::query(self.by_dialect(LOCK_TASK_POSTGRES, LOCK_TASK_SQLITE))
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let created = get_time(&row, "created_at")?;
        let deadline = get_time(&row, "deadline_at")?;
        let request_deadline = get_time(&row, "request_deadline_at")?;
        let request_span = request_deadline - get_time(&row, "request_created_at")?;
        let dead_lettered: i64 = row.try_get("dead_lettered")?;
        // A task whose input expired (retention.payloads) has nothing left to send: it
        // is refused as one no dead letter ended.
        let expired = get_opt_time(&row, "payload_expired_at")?.is_some();
        Ok(Some(ReplayTask {
            id,
            request: get_parsed(&row, "request_id")?,
            agency: get_parsed(&row, "agency")?,
            service: get_parsed(&row, "service")?,
            state: task_state(&row, "status")?,
            dead_lettered: dead_lettered == 1 && !expired,
            attempts: row.try_get("attempts")?,
            span: (deadline - created).max(MIN_REPLAY_DEADLINE),
            request_span,
            request_deadline,
            traceparent: row.try_get("traceparent")?,
        }))
    }

    /// Locks the dead letter; `Some` with the refusal if it is no longer open.
    async fn closed_state(
        &self,
        tx: &mut WriteTx,
        id: DeadLetterId,
    ) -> Result<Option<ReplayOutcome>, StoreError> {
        Ok(self
            .lock_dead_letter(tx, id)
            .await?
            .map(|closed| match closed {
                Closed::Replayed { by, at } => ReplayOutcome::AlreadyReplayed { by, at },
                Closed::Purged { at } => ReplayOutcome::Purged { at },
            }))
    }

    /// The writes of a replay, once every check passed.
    async fn reopen(
        &self,
        tx: &mut WriteTx,
        task: &ReplayTask,
        id: DeadLetterId,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<ReplayOutcome, StoreError> {
        let request = task.request;
        let deadline = now + task.span;
        // The request gets as long as it had at first, from now (at least the task's).
        let request_deadline = task
            .request_deadline
            .max(now + task.request_span)
            .max(deadline);
        // Before the request's row: the lock order of every path is tasks, then request.
        let unskipped = self
            .unskip_checks(tx, request, request_deadline, operator, now)
            .await?;
        let reopened = self
            .reopen_request(tx, request, 1 + unskipped, request_deadline, now)
            .await?;
        requeue_task(tx, task, deadline, now).await?;
        let replayed = Replayed {
            id,
            closes: Closes::Task,
            operator,
            request,
            task: task.id,
            detail: json!({
                "agency": task.agency.as_str(),
                "previous_attempts": task.attempts,
                "request_reopened": reopened,
                "checks_unskipped": unskipped,
            }),
        };
        close_replayed(tx, &replayed, now).await?;
        Ok(ReplayOutcome::Reopened {
            task: task.id,
            request,
        })
    }
}

impl Store {
    /// Gives the request `more` pending tasks, a deadline of at least `deadline`, and —
    /// if it was completed — reopens it (RUNNING, verdict cleared); returns whether it
    /// was reopened.
    async fn reopen_request(
        &self,
        tx: &mut WriteTx,
        request: RequestId,
        more: i64,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(self.by_dialect(LOCK_REQUEST_POSTGRES, LOCK_REQUEST_SQLITE))
            .bind(request.to_string())
            .fetch_one(tx.conn())
            .await?;
        let status = get_enum(&row, "status", RequestStatus::parse)?;
        let next = match status {
            RequestStatus::Completed => status.reopen()?,
            RequestStatus::Accepted | RequestStatus::Running => status,
        };
        sqlx::query(
            "UPDATE requests SET status = $1, verdict = NULL, completed_at = NULL, \
             pending_tasks = pending_tasks + $2, updated_at = $3, \
             deadline_at = CASE WHEN deadline_at < $4 THEN $4 ELSE deadline_at END \
             WHERE id = $5",
        )
        .bind(next.as_str())
        .bind(more)
        .bind(millis(now))
        .bind(millis(deadline))
        .bind(request.to_string())
        .execute(tx.conn())
        .await?;
        Ok(next != status)
    }
}
