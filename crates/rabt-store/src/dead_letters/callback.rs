//! Replaying the dead letter of an agency's callback: the callback is stored (the API
//! accepted it) but no worker could apply it — its message went over the delivery
//! limit, or no worker had the agency's adapter. A replay queues its message again, as
//! the API did when it stored it; the worker then applies it as any callback (to a task
//! that timed out meanwhile, as a late answer).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rabt_core::{Agency, CallbackId, DeadLetterId, RequestId, TaskId, TaskMessage};
use serde_json::json;
use sqlx::Row;

use super::ReplayOutcome;
use super::closing::{Closes, Replayed, close_replayed};
use crate::codec::{get_opt_time, get_parsed};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::outbox::insert_task_message;

const LOCK_CALLBACK_POSTGRES: &str = "SELECT c.task_id, c.applied_at, t.request_id \
     FROM callbacks c JOIN tasks t ON t.id = c.task_id \
     WHERE c.id = $1 AND c.agency = $2 FOR UPDATE OF c";
const LOCK_CALLBACK_SQLITE: &str = "SELECT c.task_id, c.applied_at, t.request_id \
     FROM callbacks c JOIN tasks t ON t.id = c.task_id WHERE c.id = $1 AND c.agency = $2";

impl Store {
    /// Queues again the callback a dead letter (locked, open, naming no task) carries,
    /// if it is one of ours and not applied yet.
    pub(super) async fn requeue_callback(
        &self,
        tx: &mut WriteTx,
        id: DeadLetterId,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<ReplayOutcome, StoreError> {
        let row = sqlx::query("SELECT agency, body FROM dead_letters WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(tx.conn())
            .await?;
        let agency: Agency = get_parsed(&row, "agency")?;
        let body: String = row.try_get("body")?;
        let Some(callback) = carried_callback(agency, &body) else {
            return Ok(ReplayOutcome::NoTask);
        };
        let row = sqlx::query(self.by_dialect(LOCK_CALLBACK_POSTGRES, LOCK_CALLBACK_SQLITE))
            .bind(callback.to_string())
            .bind(agency.as_str())
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            return Ok(ReplayOutcome::NoTask);
        };
        if get_opt_time(&row, "applied_at")?.is_some() {
            return Ok(ReplayOutcome::CallbackApplied { callback });
        }
        let task: TaskId = get_parsed(&row, "task_id")?;
        let request: RequestId = get_parsed(&row, "request_id")?;
        let message = TaskMessage::CallbackV1 { callback, agency };
        insert_task_message(tx, &message, None, now).await?;
        let replayed = Replayed {
            id,
            closes: Closes::Callback { agency, callback },
            operator,
            request,
            task,
            detail: json!({ "agency": agency.as_str(), "callback": callback.to_string() }),
        };
        close_replayed(tx, &replayed, now).await?;
        Ok(ReplayOutcome::CallbackRequeued { callback, task })
    }
}

/// The callback a dead letter's body (the message as the broker held it, in base64)
/// names, if it is a callback message on its own agency's queue.
fn carried_callback(agency: Agency, body: &str) -> Option<CallbackId> {
    let bytes = BASE64.decode(body.as_bytes()).ok()?;
    match serde_json::from_slice::<TaskMessage>(&bytes).ok()? {
        TaskMessage::CallbackV1 {
            callback,
            agency: named,
        } if named == agency => Some(callback),
        TaskMessage::CallbackV1 { .. } | TaskMessage::V1 { .. } => None,
    }
}
