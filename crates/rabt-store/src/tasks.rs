//! The worker path up to the answer: reading a task, starting it, scheduling a retry,
//! recording that an asynchronous agency accepted it, and finding it again when the
//! agency calls back. Every transition is decided by rabt-core's
//! [`TaskState::apply`], under a row lock (PostgreSQL) or the write lock (SQLite).

use chrono::{DateTime, Utc};
use rabt_core::{
    Agency, CooperativeId, RequestId, RequestStatus, ServiceName, TaskEvent, TaskId, TaskState,
};
use serde_json::json;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{Actor, NewAuditEntry, insert_audit};
use crate::codec::{get_count, get_enum, get_json, get_opt_time, get_parsed, get_time, millis};
use crate::connect::Store;
use crate::error::StoreError;
use crate::reads::task_state;

/// A task as a worker needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    /// Its id.
    pub id: TaskId,
    /// Its request.
    pub request: RequestId,
    /// Whose request it is.
    pub cooperative: CooperativeId,
    /// The agency to call.
    pub agency: Agency,
    /// The agency service to call.
    pub service: ServiceName,
    /// The task's input (personal data).
    pub input: serde_json::Value,
    /// Its state.
    pub state: TaskState,
    /// How many times a worker started it.
    pub attempts: u32,
    /// When it times out.
    pub deadline_at: DateTime<Utc>,
    /// The trace context of the request that created it.
    pub traceparent: Option<String>,
    /// For a check of a composite request: the catalogue's child id.
    pub child: Option<String>,
    /// When its first retryable failure happened (`None`: none yet); kept across
    /// retries, cleared by an operator's replay.
    pub first_failure_at: Option<DateTime<Utc>>,
}

/// The result of [`Store::start_task`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartResult {
    /// The task is now running; this is attempt number `attempt` (from 1).
    Started {
        /// The attempt number.
        attempt: u32,
    },
    /// The task has its outcome already (a duplicate message): ack and move on.
    AlreadyCompleted,
    /// The agency accepted the task and will call back: nothing to do.
    AwaitingCallback,
    /// No such task.
    NotFound,
}

/// `SELECT <task record columns> FROM tasks t JOIN requests r … <rest>`, as one literal.
macro_rules! select_task_record {
    ($rest:literal) => {
        concat!(
            "SELECT t.id, t.request_id, r.cooperative_id, t.agency, t.service, t.input, \
             t.status, t.outcome, t.attempts, t.deadline_at, r.traceparent, t.child, \
             t.first_failure_at \
             FROM tasks t JOIN requests r ON r.id = t.request_id ",
            $rest
        )
    };
}

/// A task row read under lock, with what its transitions need.
pub(crate) struct LockedTask {
    pub(crate) id: TaskId,
    pub(crate) request: RequestId,
    pub(crate) agency: Agency,
    pub(crate) state: TaskState,
    pub(crate) request_status: RequestStatus,
    /// Whether an answer after the task timed out was already recorded.
    pub(crate) has_late_answer: bool,
}

const LOCK_TASK_POSTGRES: &str = "SELECT t.id, t.request_id, t.agency, t.status, t.outcome, \
     t.late_outcome, r.status AS request_status \
     FROM tasks t JOIN requests r ON r.id = t.request_id WHERE t.id = $1 FOR UPDATE OF t";
const LOCK_TASK_SQLITE: &str = "SELECT t.id, t.request_id, t.agency, t.status, t.outcome, \
     t.late_outcome, r.status AS request_status \
     FROM tasks t JOIN requests r ON r.id = t.request_id WHERE t.id = $1";

impl Store {
    /// Reads a task for a worker.
    pub async fn task_for_work(&self, id: TaskId) -> Result<Option<TaskRecord>, StoreError> {
        let row = sqlx::query(select_task_record!("WHERE t.id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_record).transpose()
    }

    /// The task an agency's callback refers to, by the agency's own reference (the
    /// newest, should an agency reuse references).
    pub async fn task_by_upstream_ref(
        &self,
        agency: Agency,
        upstream_ref: &str,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let row = sqlx::query(select_task_record!(
            "WHERE t.agency = $1 AND t.upstream_ref = $2 ORDER BY t.id DESC LIMIT 1"
        ))
        .bind(agency.as_str())
        .bind(upstream_ref)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_record).transpose()
    }

    /// A worker takes the task: QUEUED or RUNNING (a worker died mid-call) becomes
    /// RUNNING with one more attempt, and its request RUNNING.
    pub async fn start_task(
        &self,
        id: TaskId,
        now: DateTime<Utc>,
    ) -> Result<StartResult, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(task) = self.lock_task(tx.conn(), id).await? else {
            return Ok(StartResult::NotFound);
        };
        let next = match task.state.apply(TaskEvent::Started) {
            Ok(next) => next,
            Err(refused) => {
                return match task.state {
                    TaskState::Completed(_) => Ok(StartResult::AlreadyCompleted),
                    TaskState::AwaitingCallback => Ok(StartResult::AwaitingCallback),
                    TaskState::Blocked | TaskState::Queued | TaskState::Running => {
                        Err(refused.into())
                    }
                };
            }
        };
        let row = sqlx::query(
            "UPDATE tasks SET status = $1, attempts = attempts + 1, started_at = $2 \
             WHERE id = $3 RETURNING attempts",
        )
        .bind(next.status().as_str())
        .bind(millis(now))
        .bind(id.to_string())
        .fetch_one(tx.conn())
        .await?;
        let attempt = get_count(&row, "attempts")?;
        let request_next = task.request_status.advance(RequestStatus::Running)?;
        if request_next != task.request_status {
            // Guarded by the old status: concurrent starts of sibling tasks update once.
            sqlx::query(
                "UPDATE requests SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
            )
            .bind(request_next.as_str())
            .bind(millis(now))
            .bind(task.request.to_string())
            .bind(task.request_status.as_str())
            .execute(tx.conn())
            .await?;
        }
        let mut entry = task_audit(&task, Actor::System, "task.started");
        entry.detail = json!({ "attempt": attempt });
        insert_audit(tx.conn(), &entry, now).await?;
        tx.commit().await?;
        Ok(StartResult::Started { attempt })
    }

    /// A transient failure: RUNNING goes back to QUEUED with the error kept on the
    /// task (not in the audit log, which takes no free text), and `now` as its first
    /// failure if it had none. False if the task was not running.
    pub async fn schedule_retry(
        &self,
        id: TaskId,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(task) = self.lock_task(tx.conn(), id).await? else {
            return Ok(false);
        };
        let Ok(next) = task.state.apply(TaskEvent::RetryScheduled) else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE tasks SET status = $1, last_error = $2, \
             first_failure_at = COALESCE(first_failure_at, $3) WHERE id = $4",
        )
        .bind(next.status().as_str())
        .bind(rabt_core::pii::redact(error))
        .bind(millis(now))
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
        let entry = task_audit(&task, Actor::System, "task.retry_scheduled");
        insert_audit(tx.conn(), &entry, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An asynchronous agency accepted the task and will call back: RUNNING becomes
    /// AWAITING_CALLBACK with the agency's reference. False if the task was not
    /// running.
    pub async fn submit_task(
        &self,
        id: TaskId,
        upstream_ref: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(task) = self.lock_task(tx.conn(), id).await? else {
            return Ok(false);
        };
        let Ok(next) = task.state.apply(TaskEvent::Submitted) else {
            return Ok(false);
        };
        sqlx::query("UPDATE tasks SET status = $1, upstream_ref = $2 WHERE id = $3")
            .bind(next.status().as_str())
            .bind(upstream_ref)
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        let entry = task_audit(&task, Actor::Agency(task.agency), "task.submitted");
        insert_audit(tx.conn(), &entry, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Reads a task inside a write transaction, locking its row on PostgreSQL.
    pub(crate) async fn lock_task(
        &self,
        conn: &mut AnyConnection,
        id: TaskId,
    ) -> Result<Option<LockedTask>, StoreError> {
        let row = sqlx::query(self.by_dialect(LOCK_TASK_POSTGRES, LOCK_TASK_SQLITE))
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let late: Option<String> = row.try_get("late_outcome")?;
        Ok(Some(LockedTask {
            id: get_parsed(&row, "id")?,
            request: get_parsed(&row, "request_id")?,
            agency: get_parsed(&row, "agency")?,
            state: task_state(&row, "status")?,
            request_status: get_enum(&row, "request_status", RequestStatus::parse)?,
            has_late_answer: late.is_some(),
        }))
    }
}

/// An audit entry about a task, with its request and task ids filled in.
pub(crate) fn task_audit(task: &LockedTask, actor: Actor, action: &str) -> NewAuditEntry {
    let mut entry = NewAuditEntry::new(actor, action);
    entry.request = Some(task.request);
    entry.task = Some(task.id);
    entry
}

fn task_record(row: &AnyRow) -> Result<TaskRecord, StoreError> {
    Ok(TaskRecord {
        id: get_parsed(row, "id")?,
        request: get_parsed(row, "request_id")?,
        cooperative: get_parsed(row, "cooperative_id")?,
        agency: get_parsed(row, "agency")?,
        service: get_parsed(row, "service")?,
        input: get_json(row, "input")?,
        state: task_state(row, "status")?,
        attempts: get_count(row, "attempts")?,
        deadline_at: get_time(row, "deadline_at")?,
        traceparent: row.try_get("traceparent")?,
        child: row.try_get("child")?,
        first_failure_at: get_opt_time(row, "first_failure_at")?,
    })
}
