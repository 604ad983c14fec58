//! How a replay or a purge finds a dead letter still open, and how a replay closes it
//! (and the letters it settles along with it), each closed one audited.

use chrono::{DateTime, Utc};
use rabt_core::{Agency, CallbackId, DeadLetterId, RequestId, TaskId};
use serde_json::json;
use sqlx::Row;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_opt_time, get_parsed, millis};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;

const LOCK_DEAD_LETTER_POSTGRES: &str =
    "SELECT replayed_at, replayed_by, purged_at FROM dead_letters WHERE id = $1 FOR UPDATE";
const LOCK_DEAD_LETTER_SQLITE: &str =
    "SELECT replayed_at, replayed_by, purged_at FROM dead_letters WHERE id = $1";

/// How a dead letter stopped being open.
pub(super) enum Closed {
    /// Replayed, by an operator where one is recorded.
    Replayed {
        by: Option<String>,
        at: DateTime<Utc>,
    },
    /// Purged.
    Purged { at: DateTime<Utc> },
}

impl Store {
    /// Locks the dead letter for a replay or a purge ([`StoreError::NotFound`] for an
    /// unknown id); how it was closed, if it no longer is open.
    pub(super) async fn lock_dead_letter(
        &self,
        tx: &mut WriteTx,
        id: DeadLetterId,
    ) -> Result<Option<Closed>, StoreError> {
        let row = sqlx::query(self.by_dialect(LOCK_DEAD_LETTER_POSTGRES, LOCK_DEAD_LETTER_SQLITE))
            .bind(id.to_string())
            .fetch_optional(tx.conn())
            .await?
            .ok_or(StoreError::NotFound {
                what: "dead letter",
            })?;
        if let Some(at) = get_opt_time(&row, "replayed_at")? {
            let by: Option<String> = row.try_get("replayed_by")?;
            return Ok(Some(Closed::Replayed { by, at }));
        }
        Ok(get_opt_time(&row, "purged_at")?.map(|at| Closed::Purged { at }))
    }
}

/// A replay, for closing the dead letters it settles and auditing each.
pub(super) struct Replayed<'a> {
    /// The dead letter replayed (the others were closed with it).
    pub(super) id: DeadLetterId,
    /// Which other open dead letters the replay settles along with it.
    pub(super) closes: Closes,
    pub(super) operator: &'a str,
    pub(super) request: RequestId,
    pub(super) task: TaskId,
    /// What else to say; each entry adds `dead_letter` (and `with`).
    pub(super) detail: serde_json::Value,
}

/// The open dead letters a replay closes besides its own.
pub(super) enum Closes {
    /// Every one of the replayed task: it runs again, so all its letters are answered.
    Task,
    /// The copies of the same callback message on its agency's queue (they name no
    /// task): the callback is queued once, so all its letters are answered.
    Callback {
        agency: Agency,
        callback: CallbackId,
    },
}

/// Marks the replayed dead letter, and those it settles along with it, replayed by
/// the operator, and audits `dead_letter.replayed` for each one closed.
pub(super) async fn close_replayed(
    tx: &mut WriteTx,
    replayed: &Replayed<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let query = match &replayed.closes {
        Closes::Task => sqlx::query(
            "UPDATE dead_letters SET replayed_at = $1, replayed_by = $2 \
             WHERE task_id = $3 AND replayed_at IS NULL AND purged_at IS NULL RETURNING id",
        )
        .bind(millis(now))
        .bind(replayed.operator)
        .bind(replayed.task.to_string()),
        Closes::Callback { agency, callback } => sqlx::query(
            "UPDATE dead_letters SET replayed_at = $1, replayed_by = $2 \
             WHERE (id = $3 OR (agency = $4 AND message_id = $5 AND task_id IS NULL)) \
             AND replayed_at IS NULL AND purged_at IS NULL RETURNING id",
        )
        .bind(millis(now))
        .bind(replayed.operator)
        .bind(replayed.id.to_string())
        .bind(agency.as_str())
        .bind(callback.to_string()),
    };
    let closed = query.fetch_all(tx.conn()).await?;
    let mut entries = Vec::with_capacity(closed.len());
    for row in &closed {
        let closed_id: DeadLetterId = get_parsed(row, "id")?;
        let actor = Actor::Operator(replayed.operator.to_owned());
        let mut entry = NewAuditEntry::new(actor, "dead_letter.replayed");
        entry.request = Some(replayed.request);
        entry.task = Some(replayed.task);
        entry.detail = replayed.detail.clone();
        entry.detail["dead_letter"] = json!(closed_id.to_string());
        if closed_id != replayed.id {
            entry.detail["with"] = json!(replayed.id.to_string());
        }
        entries.push(entry);
    }
    tx.audits(entries, now);
    Ok(())
}
