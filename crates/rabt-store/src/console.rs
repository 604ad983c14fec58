//! What the operators' console and the operator API read and keep beyond the other
//! modules: console sessions (shared by every api process), the heartbeats every
//! process writes (breakers and calls in flight live in the workers' memory), and the
//! aggregates of the overview and the operators' request list. Every query here is
//! bounded (a window, a limit) and runs on an index of migration 0004.

use chrono::{DateTime, Utc};
use rabt_core::{Agency, CooperativeId, Outcome, RequestId, RequestStatus, ServiceName, Verdict};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::codec::{
    get_count, get_enum, get_opt_enum, get_opt_time, get_parsed, get_time, millis, page_limit,
};
use crate::connect::Store;
use crate::cooperatives::{Operator, OperatorRole};
use crate::error::StoreError;
use crate::filter::Filtered;

/// A console session, found by the digest of its cookie's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Who is logged in (their role as of now: a changed role applies at once).
    pub operator: Operator,
    /// The session's CSRF token, which every state-changing form must carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// One process's last heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    /// The process (one id per start).
    pub id: String,
    /// `api`, `worker` or `all`.
    pub role: String,
    /// Its host name.
    pub host: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it last wrote.
    pub seen_at: DateTime<Utc>,
    /// What it reported (JSON: per agency breaker state and calls in flight).
    pub figures: serde_json::Value,
}

/// A task that ended, for an agency's tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// When.
    pub at: DateTime<Utc>,
    /// How.
    pub outcome: Outcome,
    /// How long the agency took, when it was called.
    pub latency_ms: Option<i64>,
    /// Why it did not answer OK, when known.
    pub error: Option<String>,
}

/// The operators' search of every cooperative's requests, newest first. Filters
/// combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpsRequestQuery {
    /// Only this cooperative's.
    pub cooperative: Option<CooperativeId>,
    /// Only this service.
    pub service: Option<ServiceName>,
    /// Only this status.
    pub status: Option<RequestStatus>,
    /// Only this verdict.
    pub verdict: Option<Verdict>,
    /// Accepted at or after.
    pub since: Option<DateTime<Utc>>,
    /// Accepted before.
    pub until: Option<DateTime<Utc>>,
    /// Older than this one (the cursor).
    pub before: Option<RequestId>,
    /// Page size, 1..=200.
    pub limit: u32,
}

/// A request in the operators' list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsRequestSummary {
    /// Its id.
    pub id: RequestId,
    /// Whose.
    pub cooperative: CooperativeId,
    /// Which service.
    pub service: ServiceName,
    /// Where it is.
    pub status: RequestStatus,
    /// Its verdict.
    pub verdict: Option<Verdict>,
    /// When accepted.
    pub created_at: DateTime<Utc>,
    /// When completed.
    pub completed_at: Option<DateTime<Utc>>,
}

/// How many tasks of one agency's tile are read at most (the newest of the window).
const MAX_ENDED: u32 = 5000;

impl Store {
    /// Starts a console session.
    pub async fn create_console_session(
        &self,
        token_hash: &str,
        operator: &str,
        csrf: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        // Expired sessions go as new ones come: the table stays small.
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, operator, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(operator)
        .bind(csrf)
        .bind(millis(now))
        .bind(millis(expires_at))
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// The session of a cookie's token digest, if it has not expired at `now`.
    pub async fn console_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(
            "SELECT o.name, o.role, s.csrf, s.expires_at FROM console_sessions s \
             JOIN operators o ON o.name = s.operator \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ConsoleSession {
                operator: Operator {
                    name: row.try_get("name")?,
                    role: get_enum(&row, "role", OperatorRole::parse)?,
                },
                csrf: row.try_get("csrf")?,
                expires_at: get_time(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Ends a session (logout).
    pub async fn end_console_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Writes (or refreshes) a process's heartbeat.
    pub async fn heartbeat(
        &self,
        id: &str,
        role: &str,
        host: &str,
        started_at: DateTime<Utc>,
        figures: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO process_heartbeats (id, role, host, started_at, seen_at, figures) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, figures = excluded.figures",
        )
        .bind(id)
        .bind(role)
        .bind(host)
        .bind(millis(started_at))
        .bind(millis(Utc::now()))
        .bind(serde_json::to_string(figures)?)
        .execute(tx.conn())
        .await?;
        // Processes gone for a day are forgotten.
        sqlx::query("DELETE FROM process_heartbeats WHERE seen_at < $1")
            .bind(millis(Utc::now() - chrono::Duration::days(1)))
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// The heartbeats written since `since`.
    pub async fn heartbeats(&self, since: DateTime<Utc>) -> Result<Vec<Heartbeat>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, role, host, started_at, seen_at, figures FROM process_heartbeats \
             WHERE seen_at >= $1 ORDER BY id",
        )
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let figures: String = row.try_get("figures")?;
                Ok(Heartbeat {
                    id: row.try_get("id")?,
                    role: row.try_get("role")?,
                    host: row.try_get("host")?,
                    started_at: get_time(row, "started_at")?,
                    seen_at: get_time(row, "seen_at")?,
                    figures: serde_json::from_str(&figures)?,
                })
            })
            .collect()
    }

    /// The newest tasks of `agency` that ended since `since` (at most 5000), newest
    /// first.
    pub async fn ended_tasks(
        &self,
        agency: Agency,
        since: DateTime<Utc>,
    ) -> Result<Vec<Ended>, StoreError> {
        let rows = sqlx::query(
            "SELECT completed_at, outcome, latency_ms, last_error FROM tasks \
             WHERE agency = $1 AND completed_at >= $2 ORDER BY completed_at DESC LIMIT $3",
        )
        .bind(agency.as_str())
        .bind(millis(since))
        .bind(i64::from(MAX_ENDED))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ended_from_row).collect()
    }

    /// The last task of `agency` that the agency answered (`answered`: any outcome but
    /// `UPSTREAM_ERROR` and `TIMEOUT`), or that it failed (one of those two).
    pub async fn last_ended(
        &self,
        agency: Agency,
        answered: bool,
    ) -> Result<Option<Ended>, StoreError> {
        let condition = if answered {
            "outcome NOT IN ('UPSTREAM_ERROR', 'TIMEOUT')"
        } else {
            "outcome IN ('UPSTREAM_ERROR', 'TIMEOUT')"
        };
        let sql = format!(
            "SELECT completed_at, outcome, latency_ms, last_error FROM tasks \
             WHERE agency = $1 AND completed_at IS NOT NULL AND {condition} \
             ORDER BY completed_at DESC LIMIT 1"
        );
        // `condition` is one of two fixed fragments; the agency is bound.
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(agency.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ended_from_row).transpose()
    }

    /// Requests accepted since `since`, per service.
    pub async fn requests_per_service(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(ServiceName, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT service, COUNT(*) AS n FROM requests WHERE created_at >= $1 \
             GROUP BY service ORDER BY service",
        )
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((get_parsed(row, "service")?, get_count(row, "n")?)))
            .collect()
    }

    /// Rows waiting in the outbox, and the age of the oldest.
    pub async fn outbox_backlog(&self) -> Result<(u32, Option<DateTime<Utc>>), StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok((get_count(&row, "n")?, get_opt_time(&row, "oldest")?))
    }

    /// Open dead letters per agency.
    pub async fn open_dead_letters(&self) -> Result<Vec<(Agency, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT agency, COUNT(*) AS n FROM dead_letters \
             WHERE replayed_at IS NULL AND purged_at IS NULL GROUP BY agency",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((get_parsed(row, "agency")?, get_count(row, "n")?)))
            .collect()
    }

    /// Every cooperative's requests that match, newest first.
    pub async fn ops_requests(
        &self,
        query: &OpsRequestQuery,
    ) -> Result<Vec<OpsRequestSummary>, StoreError> {
        let mut filtered = Filtered::new(
            "SELECT id, cooperative_id, service, status, verdict, created_at, completed_at \
             FROM requests WHERE 1 = 1",
        );
        if let Some(c) = query.cooperative {
            filtered.text("cooperative_id =", c.to_string());
        }
        if let Some(s) = &query.service {
            filtered.text("service =", s.to_string());
        }
        if let Some(s) = query.status {
            filtered.text("status =", s.as_str().to_owned());
        }
        if let Some(v) = query.verdict {
            filtered.text("verdict =", v.as_str().to_owned());
        }
        if let Some(before) = query.before {
            filtered.text("id <", before.to_string());
        }
        if let Some(since) = query.since {
            filtered.number("created_at >=", millis(since));
        }
        if let Some(until) = query.until {
            filtered.number("created_at <", millis(until));
        }
        let rows = filtered
            .fetch_page("id DESC", page_limit(query.limit, 200), &self.pool)
            .await?;
        rows.iter().map(ops_request_from_row).collect()
    }
}

fn ops_request_from_row(row: &AnyRow) -> Result<OpsRequestSummary, StoreError> {
    Ok(OpsRequestSummary {
        id: get_parsed(row, "id")?,
        cooperative: get_parsed(row, "cooperative_id")?,
        service: get_parsed(row, "service")?,
        status: get_enum(row, "status", RequestStatus::parse)?,
        verdict: get_opt_enum(row, "verdict", Verdict::parse)?,
        created_at: get_time(row, "created_at")?,
        completed_at: get_opt_time(row, "completed_at")?,
    })
}

fn ended_from_row(row: &AnyRow) -> Result<Ended, StoreError> {
    Ok(Ended {
        at: get_time(row, "completed_at")?,
        outcome: get_enum(row, "outcome", Outcome::parse)?,
        latency_ms: row.try_get("latency_ms")?,
        error: row.try_get("last_error")?,
    })
}
