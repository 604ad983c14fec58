//! Personal data kept no longer than needed: after `retention.payloads`, a completed
//! request's input, its tasks' inputs and answers and its agencies' callbacks are
//! replaced by their keyed digests. The request, its verdict, every check's outcome and
//! the sealed audit log stay. Whoever still holds an original can show it is the one
//! Rabt handled (same digest under the deployment's key); nobody can read it back.

use chrono::{DateTime, Utc};
use rabt_audit::PiiKey;
use rabt_core::RequestId;
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

use crate::audit::{Actor, NewAuditEntry, insert_audit};
use crate::codec::{get_parsed, millis, now};
use crate::connect::Store;
use crate::error::StoreError;

/// What replaces an expired document: its digest, and that it expired.
fn expired(key: &PiiKey, document: &Value) -> Result<Value, StoreError> {
    let digest = key
        .document_digest(document)
        .map_err(|err| StoreError::Corrupt {
            column: "payload",
            value: err.to_string(),
        })?;
    Ok(json!({ "expired": true, "digest": digest }))
}

/// A stored JSON text replaced by its expired form.
fn expire_text(key: &PiiKey, text: &str) -> Result<String, StoreError> {
    let document: Value = serde_json::from_str(text)?;
    Ok(expired(key, &document)?.to_string())
}

const DUE: &str = "SELECT id FROM requests WHERE payload_expired_at IS NULL \
                   AND status = 'COMPLETED' AND created_at < $1 ORDER BY created_at LIMIT $2";

const LOCK_POSTGRES: &str = "SELECT input FROM requests WHERE id = $1 \
                             AND payload_expired_at IS NULL AND status = 'COMPLETED' FOR UPDATE";
const LOCK_SQLITE: &str = "SELECT input FROM requests WHERE id = $1 \
                           AND payload_expired_at IS NULL AND status = 'COMPLETED'";

impl Store {
    /// Expires the payloads of up to `limit` completed requests accepted before
    /// `cutoff`, each in a transaction of its own with a `request.payload_expired` audit
    /// entry carrying the input's digest. Returns how many it expired.
    pub async fn expire_payloads(
        &self,
        cutoff: DateTime<Utc>,
        key: &PiiKey,
        limit: u32,
    ) -> Result<u32, StoreError> {
        let due = sqlx::query(DUE)
            .bind(millis(cutoff))
            .bind(i64::from(limit.max(1)))
            .fetch_all(&self.pool)
            .await?;
        let mut expired = 0;
        for row in &due {
            let id: RequestId = get_parsed(row, "id")?;
            let mut tx = self.begin_write().await?;
            // Locked and checked again: a replay may have reopened it, another sweeper
            // may have expired it.
            let locked = sqlx::query(self.by_dialect(LOCK_POSTGRES, LOCK_SQLITE))
                .bind(id.to_string())
                .fetch_optional(tx.conn())
                .await?;
            let Some(locked) = locked else {
                tx.rollback().await?;
                continue;
            };
            let input: String = locked.try_get("input")?;
            expire_request(tx.conn(), id, &input, key).await?;
            tx.commit().await?;
            expired += 1;
        }
        Ok(expired)
    }
}

async fn expire_request(
    conn: &mut AnyConnection,
    id: RequestId,
    input: &str,
    key: &PiiKey,
) -> Result<(), StoreError> {
    let at = now();
    let input = expire_text(key, input)?;
    sqlx::query("UPDATE requests SET input = $1, payload_expired_at = $2 WHERE id = $3")
        .bind(input.as_str())
        .bind(millis(at))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let tasks = sqlx::query("SELECT id, input, data, late_data FROM tasks WHERE request_id = $1")
        .bind(id.to_string())
        .fetch_all(&mut *conn)
        .await?;
    for task in &tasks {
        let task_id: String = task.try_get("id")?;
        let task_input: String = task.try_get("input")?;
        let data: Option<String> = task.try_get("data")?;
        let late: Option<String> = task.try_get("late_data")?;
        let data = data.map(|d| expire_text(key, &d)).transpose()?;
        let late = late.map(|d| expire_text(key, &d)).transpose()?;
        sqlx::query("UPDATE tasks SET input = $1, data = $2, late_data = $3 WHERE id = $4")
            .bind(expire_text(key, &task_input)?)
            .bind(data)
            .bind(late)
            .bind(task_id.as_str())
            .execute(&mut *conn)
            .await?;
        let callbacks = sqlx::query("SELECT id, body FROM callbacks WHERE task_id = $1")
            .bind(task_id.as_str())
            .fetch_all(&mut *conn)
            .await?;
        for callback in &callbacks {
            let callback_id: String = callback.try_get("id")?;
            let body: String = callback.try_get("body")?;
            sqlx::query("UPDATE callbacks SET body = $1 WHERE id = $2")
                .bind(expire_text(key, &body)?)
                .bind(callback_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    let digest: Value = serde_json::from_str(&input)?;
    let mut entry = NewAuditEntry::new(Actor::System, "request.payload_expired");
    entry.request = Some(id);
    entry.detail = json!({ "input_digest": digest["digest"], "tasks": tasks.len() });
    insert_audit(conn, &entry, at).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn an_expired_document_keeps_only_its_keyed_digest() {
        let key = PiiKey::new("a personal-data key of enough length!").unwrap();
        let text = r#"{"idNumber":"1000000008","birthDate":{"year":1400}}"#;
        let expired = expire_text(&key, text).unwrap();
        assert!(!expired.contains("1000000008"));
        let value: Value = serde_json::from_str(&expired).unwrap();
        assert_eq!(value["expired"], true);
        let again = expire_text(
            &key,
            r#"{"birthDate":{"year":1400},"idNumber":"1000000008"}"#,
        );
        assert_eq!(
            again.unwrap(),
            expired,
            "the digest is of the canonical form"
        );
    }
}
