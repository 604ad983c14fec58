//! The append-only audit log. Every state change writes its entry in the same
//! transaction; database triggers refuse UPDATE and DELETE on both backends.
//!
//! Entries hold ids, outcomes, latencies and error kinds, never personal data: the
//! accept path puts keyed digests of the identifiers a request concerns in its
//! `request.accepted` entry (and in `request_subjects`, where
//! [`Store::requests_by_subject`] finds them).
//!
//! The log is sealed into an RFC 9162 Merkle tree with signed checkpoints:
//! - `canonical`: the bytes an entry's leaf is made of;
//! - [`seal`]: the one sealer that appends entries in `seq` order;
//! - [`proofs`]: checkpoints, proofs and a request's evidence;
//! - [`verify`]: `rabt audit verify`, the whole log checked from its rows.

use chrono::{DateTime, Utc};
use rabt_core::{Agency, CooperativeId, RequestId, RequestStatus, ServiceName, TaskId, Verdict};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::codec::{
    get_enum, get_opt_enum, get_opt_parsed, get_parsed, get_time, millis, page_limit,
};
use crate::connect::Store;
use crate::error::StoreError;
use crate::filter::Filtered;

mod canonical;
pub mod proofs;
mod rows;
pub mod seal;
pub mod verify;

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A cooperative, through its API key.
    Cooperative(CooperativeId),
    /// An agency: its answer or callback.
    Agency(Agency),
    /// An operator, by name.
    Operator(String),
    /// Rabt itself (workers, the deadline sweeper, start-up).
    System,
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::Cooperative(_) => "cooperative",
            Actor::Agency(_) => "agency",
            Actor::Operator(_) => "operator",
            Actor::System => "system",
        }
    }

    fn id(&self) -> Option<String> {
        match self {
            Actor::Cooperative(id) => Some(id.to_string()),
            Actor::Agency(agency) => Some(agency.as_str().to_owned()),
            Actor::Operator(name) => Some(name.clone()),
            Actor::System => None,
        }
    }

    fn from_columns(kind: String, id: Option<String>) -> Result<Actor, StoreError> {
        let corrupt = |value: String| StoreError::Corrupt {
            column: "actor",
            value,
        };
        match (kind.as_str(), id) {
            ("cooperative", Some(id)) => {
                id.parse().map(Actor::Cooperative).map_err(|_| corrupt(id))
            }
            ("agency", Some(id)) => id.parse().map(Actor::Agency).map_err(|_| corrupt(id)),
            ("operator", Some(name)) => Ok(Actor::Operator(name)),
            ("system", None) => Ok(Actor::System),
            (_, _) => Err(corrupt(kind)),
        }
    }
}

/// An entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Who.
    pub actor: Actor,
    /// What, as a dotted verb (`request.accepted`, `task.completed`, `operator.replay`…).
    pub action: String,
    /// The request concerned.
    pub request: Option<RequestId>,
    /// The task concerned.
    pub task: Option<TaskId>,
    /// The outcome, where there is one (`OK`, `MISMATCH`…, or an error kind).
    pub outcome: Option<String>,
    /// How long the agency took, where it was called.
    pub latency_ms: Option<i64>,
    /// Anything else, without personal data.
    pub detail: serde_json::Value,
}

impl NewAuditEntry {
    /// An entry with no request, task, outcome or latency and an empty detail object.
    pub fn new(actor: Actor, action: impl Into<String>) -> NewAuditEntry {
        NewAuditEntry {
            actor,
            action: action.into(),
            request: None,
            task: None,
            outcome: None,
            latency_ms: None,
            detail: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Position in the log, increasing.
    pub seq: i64,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: String,
    /// The request concerned.
    pub request: Option<RequestId>,
    /// The task concerned.
    pub task: Option<TaskId>,
    /// The outcome.
    pub outcome: Option<String>,
    /// The agency's latency.
    pub latency_ms: Option<i64>,
    /// Anything else.
    pub detail: serde_json::Value,
}

/// A search of the log, oldest first. All filters are optional and combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only entries about this request.
    pub request: Option<RequestId>,
    /// Only entries about this task.
    pub task: Option<TaskId>,
    /// Only entries with this action.
    pub action: Option<String>,
    /// Only entries after this sequence number (the cursor of the previous page).
    pub after_seq: Option<i64>,
    /// Only entries before this sequence number (the cursor of a page read newest
    /// first).
    pub before_seq: Option<i64>,
    /// Only entries by this operator.
    pub operator: Option<String>,
    /// Only entries by this cooperative or about its requests.
    pub cooperative: Option<CooperativeId>,
    /// Only entries written at or after.
    pub since: Option<DateTime<Utc>>,
    /// Only entries written before.
    pub until: Option<DateTime<Utc>>,
    /// Newest first (the console) instead of oldest first.
    pub newest_first: bool,
    /// Page size, clamped to 1..=1000.
    pub limit: u32,
}

/// The largest page [`Store::audit_log`] returns.
const MAX_AUDIT_PAGE: u32 = 1000;

impl Store {
    /// Appends one entry (for actions outside the store's own transactions: agency
    /// calls, operator actions).
    pub async fn record_audit(&self, entry: &NewAuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        tx.audit(entry.clone(), Utc::now());
        tx.commit().await
    }

    /// Reads the log, oldest first.
    ///
    /// On PostgreSQL, sequence numbers are handed out before commit, so an entry with
    /// a lower `seq` can become visible after one with a higher `seq`. A reader that
    /// tails the log with `after_seq` should stay a little behind the newest entry.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut filtered = Filtered::new(
            "SELECT seq, at, actor_kind, actor_id, action, request_id, task_id, outcome, \
             latency_ms, detail FROM audit_log WHERE 1 = 1",
        );
        if let Some(request) = query.request {
            filtered.text("request_id =", request.to_string());
        }
        if let Some(task) = query.task {
            filtered.text("task_id =", task.to_string());
        }
        if let Some(action) = &query.action {
            filtered.text("action =", action.clone());
        }
        if let Some(operator) = &query.operator {
            filtered.text("actor_kind = 'operator' AND actor_id =", operator.clone());
        }
        if let Some(cooperative) = query.cooperative {
            filtered.text_with(cooperative.to_string(), |n| {
                format!(
                    "((actor_kind = 'cooperative' AND actor_id = ${n}) OR request_id IN \
                     (SELECT id FROM requests WHERE cooperative_id = ${n}))"
                )
            });
        }
        filtered.number("seq >", query.after_seq.unwrap_or(0));
        if let Some(before) = query.before_seq {
            filtered.number("seq <", before);
        }
        if let Some(since) = query.since {
            filtered.number("at >=", millis(since));
        }
        if let Some(until) = query.until {
            filtered.number("at <", millis(until));
        }
        let order = if query.newest_first {
            "seq DESC"
        } else {
            "seq ASC"
        };
        let rows = filtered
            .fetch_page(order, page_limit(query.limit, MAX_AUDIT_PAGE), &self.pool)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// A request that concerns a person, found by the digest of one of their identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectMatch {
    /// The request.
    pub request: RequestId,
    /// Whose request it is.
    pub cooperative: CooperativeId,
    /// The service asked for.
    pub service: ServiceName,
    /// Where it is in its lifecycle.
    pub status: RequestStatus,
    /// Its verdict, once completed.
    pub verdict: Option<Verdict>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Every request whose input held an identifier with one of these digests (keyed
    /// digests: the store never sees the number), newest first, at most `limit`.
    pub async fn requests_by_subject(
        &self,
        digests: &[String],
        limit: u32,
    ) -> Result<Vec<SubjectMatch>, StoreError> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=digests.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT DISTINCT r.id, r.cooperative_id, r.service, r.status, r.verdict, r.created_at \
             FROM request_subjects s JOIN requests r ON r.id = s.request_id \
             WHERE s.digest IN ({}) ORDER BY r.id DESC LIMIT ${}",
            marks.join(", "),
            digests.len() + 1
        );
        // Assembled from placeholders only; every value is bound.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for digest in digests {
            query = query.bind(digest.as_str());
        }
        let rows = query
            .bind(page_limit(limit, MAX_AUDIT_PAGE))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SubjectMatch {
                    request: get_parsed(row, "id")?,
                    cooperative: get_parsed(row, "cooperative_id")?,
                    service: get_parsed(row, "service")?,
                    status: get_enum(row, "status", RequestStatus::parse)?,
                    verdict: get_opt_enum(row, "verdict", Verdict::parse)?,
                    created_at: get_time(row, "created_at")?,
                })
            })
            .collect()
    }
}

/// Appends an entry inside the caller's transaction.
pub(crate) async fn insert_audit(
    conn: &mut AnyConnection,
    entry: &NewAuditEntry,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    insert_audits(conn, std::slice::from_ref(entry), at).await
}

/// Columns of an audit row as inserted, in the order of [`insert_audits`]' binds.
const AUDIT_COLUMNS: usize = 9;
/// Rows per INSERT statement (9 binds each: well under every bind-parameter limit).
const AUDIT_CHUNK: usize = 100;

/// Appends entries in their order, as few statements as possible: one round trip for
/// a request's entries instead of one each (the accept path writes 1 + its tasks).
pub(crate) async fn insert_audits(
    conn: &mut AnyConnection,
    entries: &[NewAuditEntry],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<(&NewAuditEntry, DateTime<Utc>)> =
        entries.iter().map(|entry| (entry, at)).collect();
    insert_rows(conn, &rows, None).await
}

/// [`insert_audits`] for entries each at its own moment (a transaction's, written when
/// it commits: [`crate::connect::WriteTx::audit`]), then `then` in the same call to
/// the database if given: SQLite only, which runs several statements in one call.
pub(crate) async fn insert_audits_at(
    conn: &mut AnyConnection,
    entries: &[(NewAuditEntry, DateTime<Utc>)],
    then: Option<&'static str>,
) -> Result<(), StoreError> {
    let rows: Vec<(&NewAuditEntry, DateTime<Utc>)> =
        entries.iter().map(|(entry, at)| (entry, *at)).collect();
    insert_rows(conn, &rows, then).await
}

async fn insert_rows(
    conn: &mut AnyConnection,
    entries: &[(&NewAuditEntry, DateTime<Utc>)],
    then: Option<&'static str>,
) -> Result<(), StoreError> {
    let chunks = entries.len().div_ceil(AUDIT_CHUNK);
    for (n, chunk) in entries.chunks(AUDIT_CHUNK).enumerate() {
        let rows: Vec<String> = (0..chunk.len())
            .map(|row| {
                let first = row * AUDIT_COLUMNS + 1;
                let binds: Vec<String> = (first..first + AUDIT_COLUMNS)
                    .map(|n| format!("${n}"))
                    .collect();
                format!("({})", binds.join(", "))
            })
            .collect();
        let mut sql = format!(
            "INSERT INTO audit_log (at, actor_kind, actor_id, action, request_id, task_id, \
             outcome, latency_ms, detail) VALUES {}",
            rows.join(", ")
        );
        if let Some(then) = then.filter(|_| n + 1 == chunks) {
            sql.push_str("; ");
            sql.push_str(then);
        }
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (entry, at) in chunk {
            query = query
                .bind(millis(*at))
                .bind(entry.actor.kind())
                .bind(entry.actor.id())
                .bind(entry.action.as_str())
                .bind(entry.request.map(|r| r.to_string()))
                .bind(entry.task.map(|t| t.to_string()))
                .bind(entry.outcome.clone())
                .bind(entry.latency_ms)
                .bind(serde_json::to_string(&entry.detail)?);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

fn audit_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let detail: String = row.try_get("detail")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: get_time(row, "at")?,
        actor: Actor::from_columns(row.try_get("actor_kind")?, row.try_get("actor_id")?)?,
        action: row.try_get("action")?,
        request: get_opt_parsed(row, "request_id")?,
        task: get_opt_parsed(row, "task_id")?,
        outcome: row.try_get("outcome")?,
        latency_ms: row.try_get("latency_ms")?,
        detail: serde_json::from_str(&detail)?,
    })
}
