//! Composite requests: a check that waits for others (BLOCKED) is released with the
//! input their answers give it, or skipped with the outcome of the one that failed.
//! Both are conditional on the task still being BLOCKED, so several workers deciding
//! at once apply each decision exactly once.

use chrono::{DateTime, Utc};
use rabt_core::{Outcome, RequestId, TaskEvent, TaskId, TaskMessage, TaskState, TaskStatus};
use serde_json::json;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_parsed, millis};
use crate::complete::{Completion, Finish, finish_task};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::outbox::{QueuedMessage, insert_task_messages};
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
    /// transaction: one conditional `UPDATE … RETURNING` each, then their messages and
    /// audit entries in one statement each. True for each task released; false for
    /// one that was not BLOCKED.
    pub async fn release_tasks(
        &self,
        releases: &[Release],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        // The state machine's: a BLOCKED task released is QUEUED.
        let queued = TaskState::Blocked.apply(TaskEvent::Released)?.status();
        // In the order of the tasks' ids, so that two workers releasing the same checks
        // take their rows in one order.
        let mut order: Vec<usize> = (0..releases.len()).collect();
        order.sort_by_key(|&i| releases[i].task.to_string());
        let mut released = vec![false; releases.len()];
        let mut messages = Vec::new();
        let mut audit = Vec::new();
        let mut tx = self.begin_write().await?;
        for i in order {
            let release = &releases[i];
            let Some((request, message)) = release_one(&mut tx, release, queued).await? else {
                continue;
            };
            released[i] = true;
            let mut entry = NewAuditEntry::new(Actor::System, "task.released");
            entry.request = Some(request);
            entry.task = Some(release.task);
            audit.push(entry);
            messages.push(message);
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
        let Some(task) = self.lock_task(tx.conn(), id).await? else {
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
        let result = finish_task(&mut tx, &task, &finish).await?;
        if matches!(result, Completion::Applied { .. }) {
            let mut entry = task_audit(&task, Actor::System, "task.skipped");
            entry.outcome = Some(outcome.as_str().to_owned());
            entry.detail = json!({ "reason": "a check it depends on did not answer OK" });
            tx.audit(entry, now);
        }
        tx.commit().await?;
        Ok(result)
    }
}

/// Releases one task if it is still BLOCKED: its request and its message (with the
/// request's trace context) to queue, or `None` if it was not.
async fn release_one(
    tx: &mut WriteTx,
    release: &Release,
    queued: TaskStatus,
) -> Result<Option<(RequestId, (TaskMessage, Option<String>))>, StoreError> {
    let row = sqlx::query(
        "UPDATE tasks SET status = $1, input = $2, deadline_at = $3 \
         WHERE id = $4 AND status = 'BLOCKED' RETURNING request_id, agency, service, \
         (SELECT r.traceparent FROM requests r WHERE r.id = tasks.request_id) AS traceparent",
    )
    .bind(queued.as_str())
    .bind(serde_json::to_string(&release.input)?)
    .bind(millis(release.deadline_at))
    .bind(release.task.to_string())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(None);
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
    Ok(Some((request, (message, traceparent))))
}
