//! Agency maintenance pauses. An operator pauses an agency with a reason and an
//! expected end; every worker reads the pauses (one small table) and sends the
//! agency's tasks back unattempted while it is paused, and the deadline sweeper leaves
//! them alone. Resuming gives each open task of the agency (and its request) back the
//! time it spent paused, so a pause never turns into timeouts: the tasks run as if the
//! pause had not been. Both are audited with the operator's name.

use chrono::{DateTime, Utc};
use rabt_core::Agency;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_opt_time, get_parsed, get_time, millis, now};
use crate::connect::Store;
use crate::error::StoreError;

/// A paused agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyPause {
    /// Which agency.
    pub agency: Agency,
    /// Why (shown to operators).
    pub reason: String,
    /// Who paused it.
    pub paused_by: String,
    /// Since when.
    pub paused_at: DateTime<Utc>,
    /// When the operator expects the agency back (shown to cooperatives too); the pause
    /// lasts until someone resumes it, whatever this says.
    pub expected_end: Option<DateTime<Utc>>,
}

/// What a pause did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseOutcome {
    /// Paused now.
    Paused(AgencyPause),
    /// It was paused already (nothing changed).
    Already(AgencyPause),
}

/// What a resume did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The pause that ended.
    pub pause: AgencyPause,
    /// Open tasks whose deadline was moved by the time they spent paused.
    pub extended_tasks: u64,
}

impl Store {
    /// Pauses `agency`, audited as done by `operator`.
    pub async fn pause_agency(
        &self,
        agency: Agency,
        reason: &str,
        expected_end: Option<DateTime<Utc>>,
        operator: &str,
    ) -> Result<PauseOutcome, StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        if let Some(existing) = pause_in(tx.conn(), agency).await? {
            tx.rollback().await?;
            return Ok(PauseOutcome::Already(existing));
        }
        sqlx::query(
            "INSERT INTO agency_pauses (agency, reason, paused_by, paused_at, expected_end) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(agency.as_str())
        .bind(reason)
        .bind(operator)
        .bind(millis(at))
        .bind(expected_end.map(millis))
        .execute(tx.conn())
        .await?;
        let mut entry = NewAuditEntry::new(Actor::Operator(operator.to_owned()), "agency.paused");
        entry.detail = json!({
            "agency": agency.as_str(),
            "reason": reason,
            "expectedEnd": expected_end.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        });
        tx.audit(entry, at);
        tx.commit().await?;
        Ok(PauseOutcome::Paused(AgencyPause {
            agency,
            reason: reason.to_owned(),
            paused_by: operator.to_owned(),
            paused_at: at,
            expected_end,
        }))
    }

    /// Resumes `agency`: its open tasks (and their requests) get back the time they
    /// spent paused. `None` if it was not paused.
    pub async fn resume_agency(
        &self,
        agency: Agency,
        operator: &str,
    ) -> Result<Option<Resumed>, StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let Some(pause) = pause_in(tx.conn(), agency).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        // A task created during the pause waited only since it was created.
        let waited = "($1 - CASE WHEN created_at > $2 THEN created_at ELSE $2 END)";
        let requests = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE requests SET deadline_at = deadline_at + {waited} \
             WHERE status <> 'COMPLETED' AND id IN \
             (SELECT request_id FROM tasks WHERE agency = $3 AND status <> 'COMPLETED')"
        )));
        requests
            .bind(millis(at))
            .bind(millis(pause.paused_at))
            .bind(agency.as_str())
            .execute(tx.conn())
            .await?;
        let tasks = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE tasks SET deadline_at = deadline_at + {waited} \
             WHERE agency = $3 AND status <> 'COMPLETED'"
        )))
        .bind(millis(at))
        .bind(millis(pause.paused_at))
        .bind(agency.as_str())
        .execute(tx.conn())
        .await?;
        sqlx::query("DELETE FROM agency_pauses WHERE agency = $1")
            .bind(agency.as_str())
            .execute(tx.conn())
            .await?;
        let mut entry = NewAuditEntry::new(Actor::Operator(operator.to_owned()), "agency.resumed");
        entry.detail = json!({
            "agency": agency.as_str(),
            "pausedAt": pause.paused_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "pausedBy": pause.paused_by,
            "extendedTasks": tasks.rows_affected(),
        });
        tx.audit(entry, at);
        tx.commit().await?;
        Ok(Some(Resumed {
            pause,
            extended_tasks: tasks.rows_affected(),
        }))
    }

    /// Every paused agency.
    pub async fn agency_pauses(&self) -> Result<Vec<AgencyPause>, StoreError> {
        let rows = sqlx::query(
            "SELECT agency, reason, paused_by, paused_at, expected_end FROM agency_pauses \
             ORDER BY agency",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pause_from_row).collect()
    }
}

async fn pause_in(
    conn: &mut sqlx::AnyConnection,
    agency: Agency,
) -> Result<Option<AgencyPause>, StoreError> {
    let row = sqlx::query(
        "SELECT agency, reason, paused_by, paused_at, expected_end FROM agency_pauses \
         WHERE agency = $1",
    )
    .bind(agency.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(pause_from_row).transpose()
}

fn pause_from_row(row: &AnyRow) -> Result<AgencyPause, StoreError> {
    Ok(AgencyPause {
        agency: get_parsed(row, "agency")?,
        reason: row.try_get("reason")?,
        paused_by: row.try_get("paused_by")?,
        paused_at: get_time(row, "paused_at")?,
        expected_end: get_opt_time(row, "expected_end")?,
    })
}
