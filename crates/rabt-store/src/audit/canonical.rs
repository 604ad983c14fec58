//! What an audit entry's leaf is made of: its columns as one JSON document, in RFC 8785
//! bytes. The sealer stores these bytes beside the leaf, exactly as hashed; `rabt audit
//! verify` encodes the row again and compares, so a column changed behind the log's
//! back shows.
//!
//! The document (version 1) holds every column but `seq`, whose order the tree itself
//! records: `{"v":1,"at":"…Z","actor":{"kind","id"},"action","request","task",
//! "outcome","latency_ms","detail"}`, absent values left out. It is built from the raw
//! column values, so a row an attacker filled with nonsense still encodes (and then
//! differs) instead of stopping the sealer or the verifier.

use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;

/// The columns of `audit_log` the document is made of, in this order.
pub(crate) const ENTRY_COLUMNS: &str =
    "seq, at, actor_kind, actor_id, action, request_id, task_id, outcome, latency_ms, detail";

/// One row of `audit_log`, as stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawEntry {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    request_id: Option<String>,
    task_id: Option<String>,
    outcome: Option<String>,
    latency_ms: Option<i64>,
    detail: String,
}

impl RawEntry {
    /// Reads a row selected with [`ENTRY_COLUMNS`].
    pub(crate) fn from_row(row: &AnyRow) -> Result<RawEntry, StoreError> {
        Ok(RawEntry {
            seq: row.try_get("seq")?,
            at: row.try_get("at")?,
            actor_kind: row.try_get("actor_kind")?,
            actor_id: row.try_get("actor_id")?,
            action: row.try_get("action")?,
            request_id: row.try_get("request_id")?,
            task_id: row.try_get("task_id")?,
            outcome: row.try_get("outcome")?,
            latency_ms: row.try_get("latency_ms")?,
            detail: row.try_get("detail")?,
        })
    }

    /// The entry as a JSON document.
    fn document(&self) -> Value {
        let at = DateTime::from_timestamp_millis(self.at).map_or_else(
            || Value::from(self.at),
            |at| Value::from(at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        let mut actor = Map::new();
        actor.insert("kind".into(), Value::from(self.actor_kind.as_str()));
        if let Some(id) = &self.actor_id {
            actor.insert("id".into(), Value::from(id.as_str()));
        }
        let mut doc = Map::new();
        doc.insert("v".into(), json!(1));
        doc.insert("at".into(), at);
        doc.insert("actor".into(), Value::Object(actor));
        doc.insert("action".into(), Value::from(self.action.as_str()));
        let optional = [
            ("request", self.request_id.as_deref()),
            ("task", self.task_id.as_deref()),
            ("outcome", self.outcome.as_deref()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                doc.insert(name.into(), Value::from(value));
            }
        }
        if let Some(latency) = self.latency_ms {
            doc.insert("latency_ms".into(), Value::from(latency));
        }
        // Stored detail that is not JSON (only a tampered row) is kept as its text.
        let detail = serde_json::from_str(&self.detail)
            .unwrap_or_else(|_| Value::from(self.detail.as_str()));
        doc.insert("detail".into(), detail);
        Value::Object(doc)
    }

    /// The entry's RFC 8785 bytes, as text (they are UTF-8 JSON).
    pub(crate) fn canonical(&self) -> Result<String, StoreError> {
        let bytes =
            rabt_audit::jcs::canonical(&self.document()).map_err(|err| StoreError::Corrupt {
                column: "audit_log",
                value: format!("entry {}: {err}", self.seq),
            })?;
        String::from_utf8(bytes).map_err(|_| StoreError::Corrupt {
            column: "audit_log",
            value: format!("entry {} does not encode as UTF-8", self.seq),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    fn entry() -> RawEntry {
        RawEntry {
            seq: 7,
            at: 1_765_100_520_123,
            actor_kind: "cooperative".into(),
            actor_id: Some("coop_0190".into()),
            action: "request.accepted".into(),
            request_id: Some("req_0190".into()),
            task_id: None,
            outcome: None,
            latency_ms: Some(12),
            detail: r#"{"tasks": 1, "service": "post.address.verify"}"#.into(),
        }
    }

    #[test]
    fn documents_are_canonical_and_leave_out_what_is_absent() {
        assert_eq!(
            entry().canonical().unwrap(),
            r#"{"action":"request.accepted","actor":{"id":"coop_0190","kind":"cooperative"},"at":"2025-12-07T09:42:00.123Z","detail":{"service":"post.address.verify","tasks":1},"latency_ms":12,"request":"req_0190","v":1}"#
        );
    }

    #[test]
    fn every_column_but_seq_changes_the_bytes() {
        let base = entry().canonical().unwrap();
        let mut moved = entry();
        moved.seq = 8;
        assert_eq!(moved.canonical().unwrap(), base);
        let changes: [fn(&mut RawEntry); 9] = [
            |e| e.at += 1,
            |e| e.actor_kind = "system".into(),
            |e| e.actor_id = None,
            |e| e.action = "request.completed".into(),
            |e| e.request_id = Some("req_0191".into()),
            |e| e.task_id = Some("task_1".into()),
            |e| e.outcome = Some("OK".into()),
            |e| e.latency_ms = None,
            |e| e.detail = "not json".into(),
        ];
        for change in changes {
            let mut changed = entry();
            change(&mut changed);
            assert_ne!(changed.canonical().unwrap(), base, "{changed:?}");
        }
    }
}
