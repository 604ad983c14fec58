//! Composite requests: a check that waits for others (BLOCKED) is released with the
//! input their answers give it, or skipped with the outcome of the one that failed.
//! Both are conditional on the task still being BLOCKED, so several workers deciding
//! at once apply each decision exactly once.

use chrono::{DateTime, Utc};
use rabt_core::{Outcome, TaskEvent, TaskId, TaskMessage, TaskState};
use serde_json::json;

use crate::audit::{Actor, insert_audit};
use crate::codec::millis;
use crate::complete::{Completion, Finish, finish_task};
use crate::connect::Store;
use crate::error::StoreError;
use crate::outbox::insert_task_message;
use crate::tasks::task_audit;

impl Store {
    /// Releases a BLOCKED task: it gets its input and deadline, becomes QUEUED and its
    /// message goes to the outbox, in one transaction. False if it was not BLOCKED (a
    /// concurrent worker released or skipped it first).
    pub async fn release_task(
        &self,
        id: TaskId,
        input: &serde_json::Value,
        deadline_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(task) = self.lock_task(tx.conn(), id).await? else {
            return Err(StoreError::NotFound { what: "task" });
        };
        if task.state != TaskState::Blocked {
            return Ok(false);
        }
        let next = task.state.apply(TaskEvent::Released)?;
        let row = sqlx::query(
            "UPDATE tasks SET status = $1, input = $2, deadline_at = $3 \
             WHERE id = $4 AND status = 'BLOCKED' RETURNING service",
        )
        .bind(next.status().as_str())
        .bind(serde_json::to_string(input)?)
        .bind(millis(deadline_at))
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let service: String = sqlx::Row::try_get(&row, "service")?;
        let traceparent: Option<String> =
            sqlx::query_scalar("SELECT traceparent FROM requests WHERE id = $1")
                .bind(task.request.to_string())
                .fetch_one(tx.conn())
                .await?;
        let message = TaskMessage::V1 {
            task: id,
            request: task.request,
            agency: task.agency,
            service: service.parse().map_err(|_| StoreError::Corrupt {
                column: "service",
                value: service.clone(),
            })?,
            deadline_at: Some(deadline_at),
        };
        insert_task_message(&mut tx, &message, traceparent.as_deref(), now).await?;
        let entry = task_audit(&task, Actor::System, "task.released");
        insert_audit(tx.conn(), &entry, now).await?;
        tx.commit().await?;
        Ok(true)
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
            insert_audit(tx.conn(), &entry, now).await?;
        }
        tx.commit().await?;
        Ok(result)
    }
}
