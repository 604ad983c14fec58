//! Composite requests: a check that waits for others (BLOCKED) is released with the
//! input their answers give it, or skipped with the outcome of the one that failed.
//! Both are conditional on the task still being BLOCKED, so several workers deciding
//! at once apply each decision exactly once.
//!
//! The store has no catalogue: what to do with each waiting check is a [`Decider`]'s
//! (the worker's). Given one, the store applies its decisions inside the transaction
//! that completed the check they waited for ([`Store::deciding_with`]), or in one of
//! their own ([`Store::compose`]).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rabt_core::{Outcome, RequestId, TaskEvent, TaskId, TaskMessage, TaskState};
use serde_json::json;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_parsed, millis, write_rows};
use crate::complete::{Completion, Finish, RequestCompleted, finish_task};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::outbox::{QueuedMessage, insert_task_messages};
use crate::reads::{RequestRecord, fetch_request};
use crate::tasks::task_audit;

/// A BLOCKED check to release: the input its dependencies' answers gave it, and its
/// deadline from now.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// The check.
    pub task: TaskId,
    /// Its input.
    pub input: serde_json::Value,
    /// When it times out.
    pub deadline_at: DateTime<Utc>,
}

/// What to do with one BLOCKED check whose dependencies have all ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Run it: `check` is its name in the catalogue, for the log.
    Release {
        /// Its name in the catalogue.
        check: String,
        /// The task, its input and its deadline.
        release: Release,
    },
    /// It can never run: end it with `outcome`.
    Skip {
        /// The check.
        task: TaskId,
        /// Its outcome.
        outcome: Outcome,
        /// Why, kept as the task's error.
        reason: String,
    },
}

impl Decision {
    fn task(&self) -> TaskId {
        match self {
            Decision::Release { release, .. } => release.task,
            Decision::Skip { task, .. } => *task,
        }
    }
}

/// Decides a composite request's waiting checks: the catalogue's part of composing,
/// which the store does not know. Pure: it reads the request given and writes nothing.
pub trait Decider: Send + Sync + std::fmt::Debug {
    /// A decision for each BLOCKED check of `request` whose dependencies have all
    /// ended; none for the checks that must wait still, nor for a request that is not
    /// a composite. `now` is when a released check's deadline starts.
    fn decide(&self, request: &RequestRecord, now: DateTime<Utc>) -> Vec<Decision>;
}

/// What deciding a composite's waiting checks did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    /// The checks released, each with its name in the catalogue.
    pub released: Vec<(TaskId, String)>,
    /// The checks skipped, each with its outcome and why.
    pub skipped: Vec<(TaskId, Outcome, String)>,
    /// Set when a skip ended the request's last open check: the request has its
    /// verdict.
    pub request_completed: Option<RequestCompleted>,
}

impl Store {
    /// Releases a BLOCKED task: it gets its input and deadline, becomes QUEUED and its
    /// message goes to the outbox, in one transaction. False if it was not BLOCKED (a
    /// concurrent worker released or skipped it first, or it does not exist).
    pub async fn release_task(
        &self,
        id: TaskId,
        input: &serde_json::Value,
        deadline_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let release = Release {
            task: id,
            input: input.clone(),
            deadline_at,
        };
        let released = self
            .release_tasks(std::slice::from_ref(&release), now)
            .await?;
        Ok(released.first().copied().unwrap_or(false))
    }

    /// Releases several BLOCKED tasks (the checks a composite's answer unblocked) in one
    /// transaction: one conditional `UPDATE … RETURNING` for them all, then their
    /// messages and audit entries in one statement each. True for each task released;
    /// false for one that was not BLOCKED.
    pub async fn release_tasks(
        &self,
        releases: &[Release],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.begin_write().await?;
        let released = release_in(&mut tx, releases, now).await?;
        tx.commit().await?;
        Ok(released)
    }

    /// Ends a BLOCKED task that can never run (a check it depends on did not answer
    /// OK, or its input could not be built) with `outcome`, through the completion path
    /// so the request's verdict follows. `AlreadyCompleted` if it was not BLOCKED.
    pub async fn skip_task(
        &self,
        id: TaskId,
        outcome: Outcome,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Completion, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = skip_in(self, &mut tx, id, outcome, reason, now).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// This store, deciding with `decider` the checks that wait for a check it
    /// completes, in the completion's own transaction ([`crate::CompletionGroup`]
    /// over it does so): the answer, the checks it releases or skips and, when a
    /// skip ends the request, the verdict commit together, and nothing is read again
    /// after the commit.
    pub fn deciding_with(mut self, decider: Arc<dyn Decider>) -> Store {
        self.decider = Some(decider);
        self
    }

    /// Decides the waiting checks of `request` with `decider`, in one transaction of
    /// their own (after a redelivery, a timeout, or at start-up, when the process that
    /// ended what they wait for may have died before deciding).
    pub async fn compose(
        &self,
        request: RequestId,
        decider: &dyn Decider,
        now: DateTime<Utc>,
    ) -> Result<Decided, StoreError> {
        // Most requests looked at again (at start-up, after a redelivery) have nothing
        // to decide: a read says so without taking a writer (on SQLite, the database's
        // one write lock).
        let Some(record) = fetch_request(&self.pool, request, None).await? else {
            return Ok(Decided::default());
        };
        if decider.decide(&record, now).is_empty() {
            return Ok(Decided::default());
        }
        let mut tx = self.begin_write().await?;
        let decided = compose_in(self, &mut tx, request, decider, now).await?;
        tx.commit().await?;
        Ok(decided)
    }
}

/// The most rounds [`compose_in`] takes: each round but the last skips a check, so a
/// request cannot need more than it has checks; this bounds a decider that would
/// decide the same skip forever.
const MAX_ROUNDS: usize = 256;

/// Applies `decider`'s decisions on the waiting checks of `request` in `tx`, round
/// after round while a skip leaves checks waiting (a skip ends a check, which may
/// decide others).
pub(crate) async fn compose_in(
    store: &Store,
    tx: &mut WriteTx,
    request: RequestId,
    decider: &dyn Decider,
    now: DateTime<Utc>,
) -> Result<Decided, StoreError> {
    let mut decided = Decided::default();
    for _ in 0..MAX_ROUNDS {
        let Some(record) = fetch_request(tx.conn(), request, None).await? else {
            break;
        };
        let mut decisions = decider.decide(&record, now);
        // In the order of the tasks' ids, so that two transactions deciding the same
        // checks take their rows in one order.
        decisions.sort_by_key(|d| d.task().to_string());
        let mut look_again = false;
        let mut releases = Vec::new();
        for decision in decisions {
            match decision {
                Decision::Release { check, release } => releases.push((check, release)),
                Decision::Skip {
                    task,
                    outcome,
                    reason,
                } => match skip_in(store, tx, task, outcome, &reason, now).await? {
                    Completion::Applied {
                        request_completed,
                        checks_waiting,
                        ..
                    } => {
                        decided.skipped.push((task, outcome, reason));
                        decided.request_completed = decided.request_completed.or(request_completed);
                        look_again = checks_waiting;
                    }
                    // Ended meanwhile by another transaction: read again, as that one
                    // may not have decided.
                    Completion::AlreadyCompleted => look_again = true,
                },
            }
        }
        let (checks, releases): (Vec<String>, Vec<Release>) = releases.into_iter().unzip();
        let released = release_in(tx, &releases, now).await?;
        for ((check, release), released) in checks.into_iter().zip(&releases).zip(released) {
            if released {
                decided.released.push((release.task, check));
            }
        }
        if !look_again {
            break;
        }
    }
    Ok(decided)
}

/// Releases each of `releases` that is still BLOCKED, in `tx`: one conditional
/// `UPDATE … FROM (VALUES …) RETURNING` for them all (a composite's answer releases
/// several checks at once: eight of the establishment check's nine), then their
/// messages and audit entries in one statement each. True for each task released;
/// false for one that was not BLOCKED.
async fn release_in(
    tx: &mut WriteTx,
    releases: &[Release],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, StoreError> {
    // The state machine's: a BLOCKED task released is QUEUED.
    let queued = TaskState::Blocked.apply(TaskEvent::Released)?.status();
    // In the order of the tasks' ids, so that two workers releasing the same checks
    // take their rows in one order (PostgreSQL joins the few rows of a VALUES list in
    // their order).
    let mut order: Vec<usize> = (0..releases.len()).collect();
    order.sort_by_key(|&i| releases[i].task.to_string());
    let head = format!(
        "UPDATE tasks SET status = '{}', input = v.column2, deadline_at = v.column3 \
         FROM (VALUES",
        queued.as_str()
    );
    let rows = write_rows(tx.conn(), &head, RELEASE_TAIL, 3, &order, |query, &i| {
        let release = &releases[i];
        Ok(query
            .bind(release.task.to_string())
            .bind(serde_json::to_string(&release.input)?)
            .bind(millis(release.deadline_at)))
    })
    .await?;
    let mut rows = rows
        .into_iter()
        .map(|row| Ok((get_parsed::<TaskId>(&row, "id")?, row)))
        .collect::<Result<HashMap<_, _>, StoreError>>()?;
    let mut released = vec![false; releases.len()];
    let mut messages = Vec::new();
    let mut audit = Vec::new();
    for i in order {
        let release = &releases[i];
        let Some(row) = rows.remove(&release.task) else {
            continue;
        };
        let request: RequestId = get_parsed(&row, "request_id")?;
        let message = TaskMessage::V1 {
            task: release.task,
            request,
            agency: get_parsed(&row, "agency")?,
            service: get_parsed(&row, "service")?,
            deadline_at: Some(release.deadline_at),
        };
        let traceparent: Option<String> = sqlx::Row::try_get(&row, "traceparent")?;
        released[i] = true;
        let mut entry = NewAuditEntry::new(Actor::System, "task.released");
        entry.request = Some(request);
        entry.task = Some(release.task);
        audit.push(entry);
        messages.push((message, traceparent));
    }
    if !messages.is_empty() {
        let lease_until = tx.outbox_lease_until(now);
        let queued: Vec<QueuedMessage<'_>> = messages
            .iter()
            .map(|(message, traceparent)| QueuedMessage {
                message: message.clone(),
                traceparent: traceparent.as_deref(),
                lease_until,
            })
            .collect();
        for row in insert_task_messages(tx.conn(), &queued, now).await? {
            tx.hand_over(row);
        }
        tx.audits(audit, now);
    }
    Ok(released)
}

/// The rest of the release's `UPDATE … FROM (VALUES`, after the list of
/// `(id, input, deadline_at)`: only a task still BLOCKED is released.
const RELEASE_TAIL: &str = ") AS v WHERE tasks.id = v.column1 AND tasks.status = 'BLOCKED' \
     RETURNING tasks.id, tasks.request_id, tasks.agency, tasks.service, \
     (SELECT r.traceparent FROM requests r WHERE r.id = tasks.request_id) AS traceparent";

/// Ends task `id` with `outcome` in `tx` if it is still BLOCKED, through the completion
/// path, and audits why; `AlreadyCompleted` if it was not BLOCKED.
async fn skip_in(
    store: &Store,
    tx: &mut WriteTx,
    id: TaskId,
    outcome: Outcome,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Completion, StoreError> {
    let Some(task) = store.lock_task(tx.conn(), id).await? else {
        return Err(StoreError::NotFound { what: "task" });
    };
    if task.state != TaskState::Blocked {
        return Ok(Completion::AlreadyCompleted);
    }
    let next = task.state.apply(TaskEvent::Skipped(outcome))?;
    let finish = Finish {
        outcome: next.outcome().unwrap_or(outcome),
        data: None,
        upstream_ref: None,
        error: Some(reason),
        latency_ms: None,
        at: now,
        actor: Actor::System,
    };
    let result = finish_task(tx, &task, &finish).await?;
    if matches!(result, Completion::Applied { .. }) {
        let mut entry = task_audit(&task, Actor::System, "task.skipped");
        entry.outcome = Some(outcome.as_str().to_owned());
        entry.detail = json!({ "reason": "a check it depends on did not answer OK" });
        tx.audit(entry, now);
    }
    Ok(result)
}
