//! An operator discarding dead letters: one, or every open one of an agency or of all.
//! Conditional on the dead letter being open, so it happens once; audited with the
//! operator as actor. A purged dead letter stays in the table, and its task keeps its
//! outcome.

use chrono::{DateTime, Utc};
use rabt_core::{Agency, DeadLetterId};
use serde_json::json;
use sqlx::Row;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::millis;
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;

use super::closing::Closed;
use super::pages::OpenPages;

/// What [`Store::purge_dead_letter`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// Discarded now.
    Purged,
    /// Purged before; nothing changed.
    AlreadyPurged {
        /// When.
        at: DateTime<Utc>,
    },
    /// Replayed before: a replayed dead letter is history, not something to discard.
    AlreadyReplayed {
        /// When.
        at: DateTime<Utc>,
    },
}

impl Store {
    /// Purges one dead letter as `operator` (audited), if it is still open.
    /// [`StoreError::NotFound`] for an unknown id.
    pub async fn purge_dead_letter(
        &self,
        id: DeadLetterId,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<PurgeOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(closed) = self.lock_dead_letter(&mut tx, id).await? {
            tx.rollback().await?;
            return Ok(match closed {
                Closed::Replayed { at, .. } => PurgeOutcome::AlreadyReplayed { at },
                Closed::Purged { at } => PurgeOutcome::AlreadyPurged { at },
            });
        }
        purge_open(&mut tx, id, operator, now).await?;
        tx.commit().await?;
        Ok(PurgeOutcome::Purged)
    }

    /// Purges every open dead letter (of `agency`, or of all agencies) as `operator`,
    /// each audited; returns the ids purged.
    pub async fn purge_dead_letters(
        &self,
        agency: Option<Agency>,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeadLetterId>, StoreError> {
        let mut purged = Vec::new();
        let mut pages = OpenPages::new(agency);
        while let Some(page) = pages.next(self).await? {
            for id in page {
                match self.purge_dead_letter(id, operator, now).await? {
                    PurgeOutcome::Purged => purged.push(id),
                    PurgeOutcome::AlreadyPurged { .. } | PurgeOutcome::AlreadyReplayed { .. } => {}
                }
            }
        }
        Ok(purged)
    }
}

/// Marks an open, locked dead letter purged and audits it.
async fn purge_open(
    tx: &mut WriteTx,
    id: DeadLetterId,
    operator: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "UPDATE dead_letters SET purged_at = $1 WHERE id = $2 \
         AND replayed_at IS NULL AND purged_at IS NULL RETURNING agency, task_id",
    )
    .bind(millis(now))
    .bind(id.to_string())
    .fetch_one(tx.conn())
    .await?;
    let agency: String = row.try_get("agency")?;
    let mut entry = NewAuditEntry::new(Actor::Operator(operator.to_owned()), "dead_letter.purged");
    entry.task = crate::codec::get_opt_parsed(&row, "task_id")?;
    entry.detail = json!({ "dead_letter": id.to_string(), "agency": agency });
    tx.audit(entry, now);
    Ok(())
}
