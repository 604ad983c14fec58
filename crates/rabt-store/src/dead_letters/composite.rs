//! Replaying a check of a composite request: the checks that were skipped (never run)
//! because a check they wait for did not answer `OK` go back to `BLOCKED`, so that once
//! the replayed check has its outcome the worker decides again whether each runs — as
//! it decided the first time. The store does not know which check waits for which (the
//! catalogue does), so every skipped check of the request waits again; for those whose
//! reason has not changed, the worker's decision is the same skip as before.

use chrono::{DateTime, Utc};
use rabt_core::{RequestId, TaskEvent, TaskId};
use serde_json::json;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_parsed, millis};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::reads::task_state;

/// The checks a skip ended: of a composite (`child`), never started, not ended by a
/// dead letter, with an outcome a skip gives (a `TIMEOUT` is final).
const SKIPPED_POSTGRES: &str = "SELECT id, status, outcome FROM tasks WHERE request_id = $1 \
     AND status = 'COMPLETED' AND child IS NOT NULL AND started_at IS NULL \
     AND dead_lettered = 0 AND outcome IN ('NOT_FOUND', 'MISMATCH', 'INVALID_INPUT', \
     'UPSTREAM_ERROR') ORDER BY id FOR UPDATE";
const SKIPPED_SQLITE: &str = "SELECT id, status, outcome FROM tasks WHERE request_id = $1 \
     AND status = 'COMPLETED' AND child IS NOT NULL AND started_at IS NULL \
     AND dead_lettered = 0 AND outcome IN ('NOT_FOUND', 'MISMATCH', 'INVALID_INPUT', \
     'UPSTREAM_ERROR') ORDER BY id";

impl Store {
    /// Puts the skipped checks of `request` back to `BLOCKED` with `deadline`, audited
    /// as `operator`'s; returns how many (each one more task the request waits for).
    pub(super) async fn unskip_checks(
        &self,
        tx: &mut WriteTx,
        request: RequestId,
        deadline: DateTime<Utc>,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let rows = sqlx::query(self.by_dialect(SKIPPED_POSTGRES, SKIPPED_SQLITE))
            .bind(request.to_string())
            .fetch_all(tx.conn())
            .await?;
        let mut unskipped = 0;
        for row in &rows {
            let id: TaskId = get_parsed(row, "id")?;
            let next = task_state(row, "status")?.apply(TaskEvent::Unskipped)?;
            sqlx::query(
                "UPDATE tasks SET status = $1, outcome = NULL, data = NULL, completed_at = NULL, \
                 latency_ms = NULL, last_error = NULL, deadline_at = $2 \
                 WHERE id = $3 AND status = 'COMPLETED'",
            )
            .bind(next.status().as_str())
            .bind(millis(deadline))
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
            let mut entry =
                NewAuditEntry::new(Actor::Operator(operator.to_owned()), "task.unskipped");
            entry.request = Some(request);
            entry.task = Some(id);
            entry.detail = json!({ "reason": "a check of the request was replayed" });
            tx.audit(entry, now);
            unskipped += 1;
        }
        Ok(unskipped)
    }
}
