//! The worker path up to the answer: reading a task, starting it, scheduling a retry,
//! recording that an asynchronous agency accepted it, and finding it again when the
//! agency calls back. Every transition is decided by rabt-core's
//! [`TaskState::apply`], under a row lock (PostgreSQL) or the write lock (SQLite).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rabt_core::{
    Agency, CooperativeId, RequestId, RequestStatus, ServiceName, TaskEvent, TaskId, TaskState,
};
use serde_json::json;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{
    get_count, get_enum, get_json, get_opt_time, get_parsed, get_time, millis, write_rows,
};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::group::write_batch;
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

/// The result of [`Store::take_task`].
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    /// The task is now RUNNING: the record as it stands after the start, whose
    /// `attempts` is this attempt's number (from 1).
    Started(TaskRecord),
    /// The task has its outcome already (a duplicate message): ack and move on. The
    /// record lets a composite's check release the checks waiting for it.
    AlreadyCompleted(TaskRecord),
    /// The agency accepted the task and will call back: nothing to do.
    AwaitingCallback,
    /// No such task.
    NotFound,
}

/// The task statuses [`TaskEvent::Started`] leaves, as the start's SQL guard (one
/// literal, for `concat!`).
macro_rules! startable {
    () => {
        "('QUEUED', 'RUNNING')"
    };
}

/// The columns of a [`TaskRecord`] and its request's status, returned by the start.
/// PostgreSQL joins the request in `FROM`; SQLite's RETURNING cannot name a `FROM`
/// table, so it reads the three request columns by subquery (on the primary key).
macro_rules! start_returning_postgres {
    () => {
        " RETURNING t.id, t.request_id, r.cooperative_id, t.agency, t.service, t.input, \
         t.status, t.outcome, t.attempts, t.deadline_at, r.traceparent, t.child, \
         t.first_failure_at, r.status AS request_status"
    };
}
macro_rules! start_returning_sqlite {
    () => {
        " RETURNING tasks.id, tasks.request_id, \
         (SELECT cooperative_id FROM requests r WHERE r.id = tasks.request_id) AS cooperative_id, \
         tasks.agency, tasks.service, tasks.input, tasks.status, tasks.outcome, tasks.attempts, \
         tasks.deadline_at, \
         (SELECT traceparent FROM requests r WHERE r.id = tasks.request_id) AS traceparent, \
         tasks.child, tasks.first_failure_at, \
         (SELECT status FROM requests r WHERE r.id = tasks.request_id) AS request_status"
    };
}

const START_TASK_POSTGRES: &str = concat!(
    "UPDATE tasks t SET status = $1, attempts = t.attempts + 1, started_at = $2 \
     FROM requests r WHERE t.id = $3 AND r.id = t.request_id AND t.status IN ",
    startable!(),
    start_returning_postgres!()
);
const START_TASK_SQLITE: &str = concat!(
    "UPDATE tasks SET status = $1, attempts = attempts + 1, started_at = $2 \
     WHERE id = $3 AND status IN ",
    startable!(),
    start_returning_sqlite!()
);

/// [`START_TASK_POSTGRES`] for several tasks ([`write_rows`]): the head, whose
/// `{status}` is RUNNING, then the list of `(id, started_at)`, then the tail.
const START_TASKS_HEAD_POSTGRES: &str = "UPDATE tasks t SET status = '{status}', \
     attempts = t.attempts + 1, started_at = v.column2 FROM requests r, (VALUES";
const START_TASKS_TAIL_POSTGRES: &str = concat!(
    ") AS v WHERE t.id = v.column1 AND r.id = t.request_id AND t.status IN ",
    startable!(),
    start_returning_postgres!()
);
const START_TASKS_HEAD_SQLITE: &str = "UPDATE tasks SET status = '{status}', \
     attempts = tasks.attempts + 1, started_at = v.column2 FROM (VALUES";
const START_TASKS_TAIL_SQLITE: &str = concat!(
    ") AS v WHERE tasks.id = v.column1 AND tasks.status IN ",
    startable!(),
    start_returning_sqlite!()
);

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
    /// Whether an answer after the task timed out was already recorded.
    pub(crate) has_late_answer: bool,
}

const LOCK_TASK_POSTGRES: &str = "SELECT id, request_id, agency, status, outcome, late_outcome \
     FROM tasks WHERE id = $1 FOR UPDATE";
const LOCK_TASK_SQLITE: &str = "SELECT id, request_id, agency, status, outcome, late_outcome \
     FROM tasks WHERE id = $1";

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
    /// RUNNING with one more attempt, and its request RUNNING. Returns the task as the
    /// worker needs it to call the agency, from the same statement that started it: one
    /// `UPDATE … RETURNING`, with no read before it. The task is read only when it
    /// could not be started, to say why (a redelivery: rare).
    pub async fn take_task(&self, id: TaskId, now: DateTime<Utc>) -> Result<Taken, StoreError> {
        let mut tx = self.begin_write().await?;
        let taken = self.take_in(&mut tx, id, now).await;
        tx.settle(taken).await
    }

    /// Takes several tasks in one transaction (the worker's group commit), answering
    /// each, in order, as [`Store::take_task`] would have alone.
    pub async fn take_tasks(
        &self,
        starts: &[(TaskId, DateTime<Utc>)],
    ) -> Vec<Result<Taken, StoreError>> {
        write_batch::<crate::group::worker::Starts>(self, starts).await
    }

    pub(crate) async fn take_in(
        &self,
        tx: &mut WriteTx,
        id: TaskId,
        now: DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        // The guard is the state machine's: only the states `TaskEvent::Started` leaves
        // (the `startable_statuses_are_the_state_machines` test keeps them equal), so a
        // task that completed, awaits its callback or is blocked is never started, and
        // two workers racing for one task on PostgreSQL are serialised by the row lock
        // the UPDATE takes.
        let row = sqlx::query(self.by_dialect(START_TASK_POSTGRES, START_TASK_SQLITE))
            .bind(TaskState::Running.status().as_str())
            .bind(millis(now))
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            return not_started(tx.conn(), id).await;
        };
        let (task, request_status) = started(&row)?;
        advance_request(tx, task.request, request_status, now).await?;
        audit_start(tx, &task, now);
        Ok(Taken::Started(task))
    }

    /// Takes several tasks in `tx`, none twice (the worker's batch of starts: a
    /// composite's released checks arrive together): one `UPDATE … FROM (VALUES …)
    /// RETURNING` starts those that can be, then each request moves to RUNNING once.
    /// Each answer, in the order given, is what [`Store::take_in`] would have given
    /// one after the other, in the order of the tasks' ids; a refusal that is the
    /// batch's (a start the state machine forbids) ends it as it would have.
    pub(crate) async fn take_all_in(
        &self,
        tx: &mut WriteTx,
        starts: &[(TaskId, DateTime<Utc>)],
    ) -> Result<Vec<Taken>, StoreError> {
        let mut order: Vec<usize> = (0..starts.len()).collect();
        order.sort_by_key(|&i| starts[i].0.to_string());
        let head = self
            .by_dialect(START_TASKS_HEAD_POSTGRES, START_TASKS_HEAD_SQLITE)
            .replace("{status}", TaskState::Running.status().as_str());
        let tail = self.by_dialect(START_TASKS_TAIL_POSTGRES, START_TASKS_TAIL_SQLITE);
        let rows = write_rows(tx.conn(), &head, tail, 2, &order, |query, &i| {
            let (id, now) = starts[i];
            Ok(query.bind(id.to_string()).bind(millis(now)))
        })
        .await?;
        let mut rows = rows
            .iter()
            .map(|row| started(row).map(|started| (started.0.id, started)))
            .collect::<Result<HashMap<_, _>, StoreError>>()?;
        let mut taken: Vec<Option<Taken>> = starts.iter().map(|_| None).collect();
        let mut advanced = HashSet::new();
        for i in order {
            let (id, now) = starts[i];
            let Some((task, request_status)) = rows.remove(&id) else {
                taken[i] = Some(not_started(tx.conn(), id).await?);
                continue;
            };
            // Every row gives its request's status before the statement: the first
            // start of a request moves it, as it would have alone.
            if advanced.insert(task.request) {
                advance_request(tx, task.request, request_status, now).await?;
            }
            audit_start(tx, &task, now);
            taken[i] = Some(Taken::Started(task));
        }
        // Each position was filled in the loop over `order`, a permutation of them all.
        Ok(taken
            .into_iter()
            .map(|taken| taken.expect("an answer per start"))
            .collect())
    }

    /// [`Store::take_task`] for a caller that needs only the attempt number.
    pub async fn start_task(
        &self,
        id: TaskId,
        now: DateTime<Utc>,
    ) -> Result<StartResult, StoreError> {
        Ok(match self.take_task(id, now).await? {
            Taken::Started(task) => StartResult::Started {
                attempt: task.attempts,
            },
            Taken::AlreadyCompleted(_) => StartResult::AlreadyCompleted,
            Taken::AwaitingCallback => StartResult::AwaitingCallback,
            Taken::NotFound => StartResult::NotFound,
        })
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
        tx.audit(entry, now);
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
        tx.audit(entry, now);
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
            has_late_answer: late.is_some(),
        }))
    }
}

/// The task a start returned, and its request's status before the start.
fn started(row: &AnyRow) -> Result<(TaskRecord, RequestStatus), StoreError> {
    let task = task_record(row)?;
    let request_status = get_enum(row, "request_status", RequestStatus::parse)?;
    Ok((task, request_status))
}

/// Moves the request of a task just started to RUNNING, if the state machine says so.
async fn advance_request(
    tx: &mut WriteTx,
    request: RequestId,
    status: RequestStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let next = status.advance(RequestStatus::Running)?;
    if next != status {
        // Guarded by the old status: concurrent starts of sibling tasks update once.
        sqlx::query(
            "UPDATE requests SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(next.as_str())
        .bind(millis(now))
        .bind(request.to_string())
        .bind(status.as_str())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

fn audit_start(tx: &mut WriteTx, task: &TaskRecord, now: DateTime<Utc>) {
    let mut entry = NewAuditEntry::new(Actor::System, "task.started");
    entry.request = Some(task.request);
    entry.task = Some(task.id);
    entry.detail = json!({ "attempt": task.attempts });
    tx.audit(entry, now);
}

/// Why a task could not be started, read in the start's transaction (on SQLite under
/// its write lock; on PostgreSQL after the UPDATE found no startable row).
async fn not_started(conn: &mut AnyConnection, id: TaskId) -> Result<Taken, StoreError> {
    let row = sqlx::query(select_task_record!("WHERE t.id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    let Some(task) = row.as_ref().map(task_record).transpose()? else {
        return Ok(Taken::NotFound);
    };
    match task.state {
        TaskState::Completed(_) => Ok(Taken::AlreadyCompleted(task)),
        TaskState::AwaitingCallback => Ok(Taken::AwaitingCallback),
        // A message for a check not yet released: refused, as the state machine says.
        TaskState::Blocked => Err(TaskState::Blocked
            .apply(TaskEvent::Started)
            .map_or_else(StoreError::from, |_| {
                StoreError::Conflict(sqlx::Error::RowNotFound)
            })),
        // Startable now, so the row changed between the UPDATE and this read (on
        // PostgreSQL: an operator's replay reopened it): a lost race, which the caller
        // retries as a whole.
        TaskState::Queued | TaskState::Running => {
            Err(StoreError::Conflict(sqlx::Error::RowNotFound))
        }
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

#[cfg(test)]
pub(crate) mod tests {
    use rabt_core::{Outcome, TaskEvent, TaskState};

    /// Every state a task can be in, each outcome's completion included.
    pub(crate) fn every_state() -> impl Iterator<Item = TaskState> {
        [
            TaskState::Blocked,
            TaskState::Queued,
            TaskState::Running,
            TaskState::AwaitingCallback,
        ]
        .into_iter()
        .chain(Outcome::ALL.map(TaskState::Completed))
    }

    /// The start's SQL guard and the state machine must agree on which tasks a worker
    /// may start, or the start would skip a startable task or start a finished one.
    #[test]
    fn startable_statuses_are_the_state_machines() {
        for state in every_state() {
            let quoted = format!("'{}'", state.status().as_str());
            assert_eq!(
                state.apply(TaskEvent::Started).is_ok(),
                startable!().contains(&quoted),
                "{state:?}"
            );
        }
    }
}
