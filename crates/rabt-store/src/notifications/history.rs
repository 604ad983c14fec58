//! Reading a request's notifications and their attempts back (for operators and tests),
//! and the cooperatives' webhook secrets.

use std::fmt;

use chrono::{DateTime, Utc};
use rabt_core::{CooperativeId, NotificationId, RequestId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::NotificationStatus;
use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_count, get_enum, get_opt_time, get_parsed, get_time};
use crate::connect::Store;
use crate::error::StoreError;

/// A notification and its attempts, for operators and tests.
#[derive(Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    /// The notification (its `webhook-id`).
    pub id: NotificationId,
    /// The request it announces.
    pub request: RequestId,
    /// Where it goes (never logged: it may hold a token).
    pub url: String,
    /// Where it stands.
    pub status: NotificationStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (meaningful while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// When it was queued (the request's completion).
    pub created_at: DateTime<Utc>,
    /// When a receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Every attempt, in order.
    pub history: Vec<AttemptRecord>,
}

impl fmt::Debug for NotificationRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationRecord")
            .field("id", &self.id)
            .field("request", &self.request)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("delivered_at", &self.delivered_at)
            .field("last_error", &self.last_error)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Its number, from 1.
    pub attempt: u32,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: Option<i64>,
}

impl Store {
    /// The notifications of a request (normally none or one), with their attempts.
    pub async fn notifications_of(
        &self,
        request: RequestId,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, request_id, url, status, attempts, next_attempt_at, created_at, \
             delivered_at, last_error FROM notifications WHERE request_id = $1 ORDER BY id",
        )
        .bind(request.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut record = record_from_row(row)?;
            record.history = self.attempts_of(record.id).await?;
            records.push(record);
        }
        Ok(records)
    }

    async fn attempts_of(&self, id: NotificationId) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, at, status_code, error, latency_ms FROM notification_attempts \
             WHERE notification_id = $1 ORDER BY attempt",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: Option<i64> = row.try_get("status_code")?;
                Ok(AttemptRecord {
                    attempt: get_count(row, "attempt")?,
                    at: get_time(row, "at")?,
                    status_code: status.and_then(|s| u16::try_from(s).ok()),
                    error: row.try_get("error")?,
                    latency_ms: row.try_get("latency_ms")?,
                })
            })
            .collect()
    }

    /// Sets (or replaces) a cooperative's webhook secret, the `whsec_…` text, and
    /// audits it (never the secret) as done by `by`; false if there is no such
    /// cooperative. The caller generates the secret and shows it once.
    pub async fn set_webhook_secret(
        &self,
        cooperative: CooperativeId,
        secret: &str,
        by: Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE cooperatives SET webhook_secret = $1 WHERE id = $2")
            .bind(secret)
            .bind(cooperative.to_string())
            .execute(tx.conn())
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut entry = NewAuditEntry::new(by, "cooperative.webhook_secret");
        entry.detail = json!({ "cooperative": cooperative.to_string() });
        tx.audit(entry, Utc::now());
        tx.commit().await?;
        Ok(true)
    }

    /// A cooperative's webhook secret, if it has one.
    pub async fn webhook_secret(
        &self,
        cooperative: CooperativeId,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT webhook_secret FROM cooperatives WHERE id = $1")
            .bind(cooperative.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get("webhook_secret")?,
            None => None,
        })
    }
}

fn record_from_row(row: &AnyRow) -> Result<NotificationRecord, StoreError> {
    Ok(NotificationRecord {
        id: get_parsed(row, "id")?,
        request: get_parsed(row, "request_id")?,
        url: row.try_get("url")?,
        status: get_enum(row, "status", NotificationStatus::parse)?,
        attempts: get_count(row, "attempts")?,
        next_attempt_at: get_time(row, "next_attempt_at")?,
        created_at: get_time(row, "created_at")?,
        delivered_at: get_opt_time(row, "delivered_at")?,
        last_error: row.try_get("last_error")?,
        history: Vec::new(),
    })
}
