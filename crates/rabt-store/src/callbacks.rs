//! Agency callbacks: the API stores a verified callback with an outbox message for
//! the agency's worker, in one transaction keyed by (agency, webhook-id), so a
//! replayed delivery changes nothing; the worker reads it back and marks it applied.

use chrono::{DateTime, Utc};
use rabt_core::{Agency, CallbackId, RequestId, TaskId, TaskMessage};
use serde_json::json;
use sqlx::Row;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_json, get_opt_time, get_parsed, get_time, millis};
use crate::connect::Store;
use crate::error::StoreError;
use crate::outbox::insert_task_message;

/// A callback that passed every check of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCallback {
    /// Its id.
    pub id: CallbackId,
    /// Who sent it.
    pub agency: Agency,
    /// Its `webhook-id`: the agency's id of this delivery, the replay key.
    pub webhook_id: String,
    /// The agency's reference it answers.
    pub reference: String,
    /// The task that reference belongs to.
    pub task: TaskId,
    /// That task's request.
    pub request: RequestId,
    /// The body as received (valid against the agency's callback schema).
    pub body: serde_json::Value,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// The W3C `traceparent` of the span that received it: its outbox message carries
    /// it, so applying the callback continues the request's trace.
    pub traceparent: Option<String>,
}

/// The result of [`Store::accept_callback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackAccepted {
    /// Stored, and queued for the agency's worker.
    New,
    /// This `webhook-id` was seen before: nothing was written.
    Duplicate,
}

/// A stored callback, for the worker that applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRecord {
    /// Its id.
    pub id: CallbackId,
    /// Who sent it.
    pub agency: Agency,
    /// The agency's reference it answers.
    pub reference: String,
    /// The task of that reference.
    pub task: TaskId,
    /// The body.
    pub body: serde_json::Value,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When a worker applied it, if one did.
    pub applied_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Stores a verified callback and queues it for the agency's worker, with an audit
    /// entry, in one transaction; a repeated `webhook-id` writes nothing.
    pub async fn accept_callback(&self, new: &NewCallback) -> Result<CallbackAccepted, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO callbacks (id, agency, webhook_id, reference, task_id, body, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (agency, webhook_id) DO NOTHING",
        )
        .bind(new.id.to_string())
        .bind(new.agency.as_str())
        .bind(new.webhook_id.as_str())
        .bind(new.reference.as_str())
        .bind(new.task.to_string())
        .bind(serde_json::to_string(&new.body)?)
        .bind(millis(new.received_at))
        .execute(tx.conn())
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(CallbackAccepted::Duplicate);
        }
        let message = TaskMessage::CallbackV1 {
            callback: new.id,
            agency: new.agency,
        };
        insert_task_message(
            &mut tx,
            &message,
            new.traceparent.as_deref(),
            new.received_at,
        )
        .await?;
        let mut entry = NewAuditEntry::new(Actor::Agency(new.agency), "callback.accepted");
        entry.request = Some(new.request);
        entry.task = Some(new.task);
        entry.detail = json!({ "callback": new.id.to_string() });
        tx.audit(entry, new.received_at);
        tx.commit().await?;
        Ok(CallbackAccepted::New)
    }

    /// A stored callback.
    pub async fn callback(&self, id: CallbackId) -> Result<Option<CallbackRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, agency, reference, task_id, body, received_at, applied_at \
             FROM callbacks WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(CallbackRecord {
            id: get_parsed(&row, "id")?,
            agency: get_parsed(&row, "agency")?,
            reference: row.try_get("reference")?,
            task: get_parsed(&row, "task_id")?,
            body: get_json(&row, "body")?,
            received_at: get_time(&row, "received_at")?,
            applied_at: get_opt_time(&row, "applied_at")?,
        }))
    }

    /// Marks a callback applied (its answers recorded). Idempotent.
    pub async fn mark_callback_applied(
        &self,
        id: CallbackId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE callbacks SET applied_at = $1 WHERE id = $2 AND applied_at IS NULL")
            .bind(millis(at))
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
