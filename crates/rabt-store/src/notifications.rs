//! Notifications to cooperatives: when a request with a `notify_url` completes, a
//! notification row is written in the completion's own transaction (so a crash never
//! loses one); notifiers claim due rows with a lease, send them, and record every
//! attempt, then reschedule the row, or close it as delivered or failed.
//!
//! The lease is also a fencing token: an attempt is recorded only by the claimer whose
//! lease is still on the row, so a notifier that stalled past its lease while another
//! took the row over cannot record over it (the receiver may then see the notification
//! twice, with the same `webhook-id`, and deduplicates).
//!
//! Layout: this file claims and records; `history` reads a request's notifications
//! back and keeps the cooperatives' webhook secrets, which sign them (unlike API keys
//! they are stored as they are: signing needs the secret itself).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rabt_core::{CooperativeId, NotificationId, RequestId, ServiceName, Verdict};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::{Actor, NewAuditEntry, insert_audit};
use crate::codec::{get_count, get_opt_enum, get_parsed, get_time, millis, page_limit};
use crate::connect::Store;
use crate::error::StoreError;

mod history;

pub use history::{AttemptRecord, NotificationRecord};

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Every attempt of the schedule failed (or it could never be sent).
    Failed,
}

impl NotificationStatus {
    /// The storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "PENDING",
            NotificationStatus::Delivered => "DELIVERED",
            NotificationStatus::Failed => "FAILED",
        }
    }

    /// Parses a storage name.
    pub fn parse(text: &str) -> Option<NotificationStatus> {
        [
            NotificationStatus::Pending,
            NotificationStatus::Delivered,
            NotificationStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// The claim a notifier holds on a notification; it must show it to record the
/// attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease(i64);

/// A notification claimed for one attempt, with what its body and signature need.
#[derive(Clone, PartialEq, Eq)]
pub struct DueNotification {
    /// The notification (its `webhook-id`).
    pub id: NotificationId,
    /// The number of this attempt (1 for the first).
    pub attempt: u32,
    /// Where to send it. May carry a token of the cooperative's: never logged.
    pub url: String,
    /// The request that completed.
    pub request: RequestId,
    /// Whose request it is.
    pub cooperative: CooperativeId,
    /// The service that was asked.
    pub service: ServiceName,
    /// The request's verdict.
    pub verdict: Option<Verdict>,
    /// The cooperative's own reference for the request.
    pub reference: Option<String>,
    /// When the request completed.
    pub completed_at: DateTime<Utc>,
    /// The cooperative's `whsec_…` secret; `None` if it has none (onboarded before
    /// notifications existed), and then the notification cannot be signed.
    pub webhook_secret: Option<String>,
    /// The request's W3C `traceparent`, so the attempt continues its trace.
    pub traceparent: Option<String>,
    /// The claim, to record the attempt with.
    pub lease: Lease,
}

impl fmt::Debug for DueNotification {
    // The URL may hold a token and the secret signs: neither goes to a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DueNotification")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("request", &self.request)
            .field("cooperative", &self.cooperative)
            .finish_non_exhaustive()
    }
}

/// What became of a notification after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: no more attempts.
    Delivered,
    /// Failed this time; try again at this time.
    RetryAt(DateTime<Utc>),
    /// Failed for good: the schedule is exhausted or it can never be sent.
    Failed,
}

/// One attempt, as the notifier saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// The notification.
    pub notification: NotificationId,
    /// The claim it was sent under.
    pub lease: Lease,
    /// The attempt's number ([`DueNotification::attempt`]).
    pub attempt: u32,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Why it failed, if it did: never a URL or a secret.
    pub error: Option<String>,
    /// How long the attempt took.
    pub latency_ms: Option<i64>,
    /// What happens next.
    pub next: NextStep,
}

/// The largest batch [`Store::claim_notifications`] returns.
const MAX_CLAIM: u32 = 100;
/// The longest error kept per attempt.
const MAX_ERROR_LEN: usize = 500;

const CLAIM_POSTGRES: &str = "UPDATE notifications SET lease_until = $1 \
     WHERE id IN (SELECT id FROM notifications WHERE status = 'PENDING' \
                  AND next_attempt_at <= $2 AND lease_until <= $2 \
                  ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id";
const CLAIM_SQLITE: &str = "UPDATE notifications SET lease_until = $1 \
     WHERE id IN (SELECT id FROM notifications WHERE status = 'PENDING' \
                  AND next_attempt_at <= $2 AND lease_until <= $2 \
                  ORDER BY next_attempt_at LIMIT $3) \
     RETURNING id";

impl Store {
    /// Claims up to `limit` pending notifications that are due at `now` and not
    /// leased, for `lease`, oldest due first. Concurrent claimers never get the same
    /// row: on PostgreSQL locked rows are skipped, on SQLite claims are serialised.
    pub async fn claim_notifications(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<DueNotification>, StoreError> {
        // At least a millisecond, so the lease stays a token no later claim repeats.
        let lease = chrono::Duration::from_std(lease)
            .unwrap_or(chrono::Duration::MAX)
            .max(chrono::Duration::milliseconds(1));
        let until = millis(
            now.checked_add_signed(lease)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(self.by_dialect(CLAIM_POSTGRES, CLAIM_SQLITE))
            .bind(until)
            .bind(millis(now))
            .bind(page_limit(limit, MAX_CLAIM))
            .fetch_all(tx.conn())
            .await?;
        let ids: Vec<String> = claimed
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT n.id, n.url, n.attempts, n.request_id, r.cooperative_id, r.service, \
             r.verdict, r.reference, r.completed_at, r.traceparent, c.webhook_secret \
             FROM notifications n JOIN requests r ON r.id = n.request_id \
             JOIN cooperatives c ON c.id = r.cooperative_id \
             WHERE n.id IN ({}) ORDER BY n.next_attempt_at, n.id",
            placeholders.join(", ")
        );
        // Only numbered placeholders are interpolated; the ids are bound.
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in &ids {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(tx.conn()).await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| due_from_row(row, Lease(until)))
            .collect()
    }

    /// Records one attempt and what follows it, in one transaction, and audits a
    /// delivery or a final failure. Returns false, recording nothing, when the claim
    /// was lost (the lease ran out and another notifier took the notification).
    pub async fn record_notification_attempt(
        &self,
        report: &AttemptReport,
    ) -> Result<bool, StoreError> {
        // A notify URL or a receiver's answer may quote personal data: masked first.
        let error = report
            .error
            .as_deref()
            .map(|e| truncate(&rabt_core::pii::redact(e)));
        let (status, next_at, delivered_at) = match report.next {
            NextStep::Delivered => (NotificationStatus::Delivered, None, Some(millis(report.at))),
            NextStep::RetryAt(at) => (NotificationStatus::Pending, Some(millis(at)), None),
            NextStep::Failed => (NotificationStatus::Failed, None, None),
        };
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, status = $1, \
             next_attempt_at = COALESCE($2, next_attempt_at), lease_until = 0, \
             delivered_at = $3, last_error = $4 \
             WHERE id = $5 AND lease_until = $6 AND status = 'PENDING' \
             RETURNING request_id, attempts",
        )
        .bind(status.as_str())
        .bind(next_at)
        .bind(delivered_at)
        .bind(error.clone())
        .bind(report.notification.to_string())
        .bind(report.lease.0)
        .fetch_optional(tx.conn())
        .await?;
        let Some(row) = updated else {
            tx.rollback().await?;
            return Ok(false);
        };
        let request: RequestId = get_parsed(&row, "request_id")?;
        let attempts = get_count(&row, "attempts")?;
        sqlx::query(
            "INSERT INTO notification_attempts (notification_id, attempt, at, status_code, \
             error, latency_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(report.notification.to_string())
        .bind(i64::from(report.attempt))
        .bind(millis(report.at))
        .bind(report.status_code.map(i64::from))
        .bind(error)
        .bind(report.latency_ms)
        .execute(tx.conn())
        .await?;
        if status != NotificationStatus::Pending {
            audit_end(tx.conn(), report, request, attempts, status).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Queues the notification of a request that just completed, if it asked for one,
/// inside the completion's transaction.
pub(crate) async fn queue_notification(
    conn: &mut AnyConnection,
    request: RequestId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notifications (id, request_id, url, status, attempts, next_attempt_at, \
         lease_until, created_at) \
         SELECT $1, id, notify_url, 'PENDING', 0, $2, 0, $2 FROM requests \
         WHERE id = $3 AND notify_url IS NOT NULL",
    )
    .bind(NotificationId::new().to_string())
    .bind(millis(at))
    .bind(request.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// `notification.delivered` or `notification.failed`, with the attempt's status code
/// (or `error`) as outcome; never the URL.
async fn audit_end(
    conn: &mut AnyConnection,
    report: &AttemptReport,
    request: RequestId,
    attempts: u32,
    status: NotificationStatus,
) -> Result<(), StoreError> {
    let action = match status {
        NotificationStatus::Delivered => "notification.delivered",
        NotificationStatus::Failed | NotificationStatus::Pending => "notification.failed",
    };
    let mut entry = NewAuditEntry::new(Actor::System, action);
    entry.request = Some(request);
    entry.outcome = Some(
        report
            .status_code
            .map_or_else(|| "error".to_owned(), |code| code.to_string()),
    );
    entry.latency_ms = report.latency_ms;
    entry.detail = json!({
        "notification": report.notification.to_string(),
        "attempts": attempts,
        "error": report.error.as_deref().map(truncate),
    });
    insert_audit(conn, &entry, report.at).await
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn due_from_row(row: &AnyRow, lease: Lease) -> Result<DueNotification, StoreError> {
    let attempts = get_count(row, "attempts")?;
    Ok(DueNotification {
        id: get_parsed(row, "id")?,
        attempt: attempts.saturating_add(1),
        url: row.try_get("url")?,
        request: get_parsed(row, "request_id")?,
        cooperative: get_parsed(row, "cooperative_id")?,
        service: get_parsed(row, "service")?,
        verdict: get_opt_enum(row, "verdict", Verdict::parse)?,
        reference: row.try_get("reference")?,
        completed_at: get_time(row, "completed_at")?,
        webhook_secret: row.try_get("webhook_secret")?,
        traceparent: row.try_get("traceparent")?,
        lease,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for status in [
            NotificationStatus::Pending,
            NotificationStatus::Delivered,
            NotificationStatus::Failed,
        ] {
            assert_eq!(NotificationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(NotificationStatus::parse("pending"), None);
    }

    #[test]
    fn long_errors_are_cut() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(MAX_ERROR_LEN + 10);
        assert_eq!(truncate(&long).chars().count(), MAX_ERROR_LEN + 1);
    }
}
