//! Dead letters: messages that could never be processed (undecodable, naming no task we
//! know, or handed out more often than the broker's delivery limit), moved out of
//! `rabt.dead.<agency>` into the database, where operators list, replay and purge them.
//!
//! Recording a dead letter that names an open task of ours ends that task
//! `UPSTREAM_ERROR` through the completion path (so the request gets its verdict and
//! event), marks it `dead_lettered`, and audits both, in one transaction. A replay is
//! the operator's explicit way back: it reopens the task and its request.
//!
//! Bodies are kept as base64 (a poison message may be any bytes); text fields lose NUL
//! characters, which PostgreSQL's TEXT refuses, so no message can make recording fail.
//!
//! Layout: this file records and reads; `replay` reopens a task, `composite` the checks
//! skipped because of it, `callback` queues an agency's callback again; `purge`
//! discards; `closing` locks one and closes it as replayed; `pages` walks the open
//! ones for the bulk replay and purge.

mod callback;
mod closing;
mod composite;
mod pages;
mod purge;
mod replay;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rabt_core::{Agency, CallbackId, DeadLetterId, RequestId, TaskEvent, TaskId, TaskStatus};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_opt_enum, get_opt_parsed, get_opt_time, get_parsed, get_time, millis};
use crate::complete::{Completion, Finish, RequestCompleted, finish_task};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::filter::Filtered;
use crate::tasks::task_audit;

pub use purge::PurgeOutcome;
pub use replay::{Queued, ReplayOutcome};

/// The longest reason kept, in characters (reasons come from message headers).
const MAX_REASON_CHARS: usize = 500;
/// The longest message id kept (an AMQP short string holds at most 255 bytes).
const MAX_MESSAGE_ID_CHARS: usize = 255;
/// The largest page [`Store::list_dead_letters`] returns.
const MAX_PAGE: u32 = 1000;

/// A message taken from a dead-letter queue, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadLetter {
    /// Whose dead-letter queue it came from.
    pub agency: Agency,
    /// The task its body names, if it names one; recorded only if such a task of this
    /// agency exists.
    pub task: Option<TaskId>,
    /// The message id it was published with.
    pub message_id: Option<String>,
    /// Why it was dead-lettered (`x-rabt-dead-reason`, or the broker's
    /// `delivery_limit`).
    pub reason: String,
    /// The body, as received.
    pub body: Vec<u8>,
    /// Its headers, as received.
    pub headers: Vec<(String, String)>,
    /// When it was taken from the queue.
    pub dead_at: DateTime<Utc>,
}

/// What [`Store::record_dead_letter`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterRecorded {
    /// The dead letter's id.
    pub id: DeadLetterId,
    /// False when the same message (agency, message id and body) was recorded before
    /// and is still open: a redelivery after a crash between commit and ack. Nothing
    /// was written then.
    pub new: bool,
    /// The task it ended, if it named an open one.
    pub ended: Option<EndedTask>,
}

/// A task that a dead letter ended `UPSTREAM_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedTask {
    /// The task.
    pub task: TaskId,
    /// Its request.
    pub request: RequestId,
    /// Whether it is a check of a composite (the checks waiting for it may now be
    /// skipped).
    pub composite_check: bool,
    /// Set when it was the request's last open task.
    pub request_completed: Option<RequestCompleted>,
}

/// Where a dead letter is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadLetterState {
    /// Waiting for an operator.
    Open,
    /// An operator replayed it (or another dead letter of the same task).
    Replayed,
    /// An operator discarded it.
    Purged,
}

impl DeadLetterState {
    /// The wire name: `open`, `replayed`, `purged`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadLetterState::Open => "open",
            DeadLetterState::Replayed => "replayed",
            DeadLetterState::Purged => "purged",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<DeadLetterState> {
        [
            DeadLetterState::Open,
            DeadLetterState::Replayed,
            DeadLetterState::Purged,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }

    /// The SQL condition selecting dead letters in this state (columns of `d`).
    fn condition(self) -> &'static str {
        match self {
            DeadLetterState::Open => "d.replayed_at IS NULL AND d.purged_at IS NULL",
            DeadLetterState::Replayed => "d.replayed_at IS NOT NULL",
            DeadLetterState::Purged => "d.purged_at IS NOT NULL",
        }
    }
}

/// A recorded dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id.
    pub id: DeadLetterId,
    /// Whose queue it came from.
    pub agency: Agency,
    /// The task it names, if that task exists.
    pub task: Option<TaskId>,
    /// The task's request.
    pub request: Option<RequestId>,
    /// When it names no task: the stored agency callback its message carries, if any.
    pub callback: Option<CallbackId>,
    /// The message id it was published with.
    pub message_id: Option<String>,
    /// Why it was dead-lettered.
    pub reason: String,
    /// The body, as received.
    pub body: Vec<u8>,
    /// Its headers, as received.
    pub headers: Vec<(String, String)>,
    /// When it was recorded.
    pub dead_at: DateTime<Utc>,
    /// When it was replayed.
    pub replayed_at: Option<DateTime<Utc>>,
    /// The operator who replayed it.
    pub replayed_by: Option<String>,
    /// When it was purged.
    pub purged_at: Option<DateTime<Utc>>,
    /// Whether a replay would do something now: it is open, and its task is still the
    /// one it ended, or its callback is not applied yet.
    pub replayable: bool,
}

impl DeadLetter {
    /// Where it is in its life.
    pub fn state(&self) -> DeadLetterState {
        match (self.replayed_at, self.purged_at) {
            (Some(_), _) => DeadLetterState::Replayed,
            (None, Some(_)) => DeadLetterState::Purged,
            (None, None) => DeadLetterState::Open,
        }
    }
}

/// A page of dead letters, newest first. Filters combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterQuery {
    /// Only this agency's.
    pub agency: Option<Agency>,
    /// Only those in this state (`None`: all).
    pub state: Option<DeadLetterState>,
    /// Only those older than this one (the last id of the previous page).
    pub before: Option<DeadLetterId>,
    /// Page size, clamped to 1..=1000.
    pub limit: u32,
}

/// A callback's message carries the callback's id as its message id; a dead letter that
/// names no task is matched to a stored callback by it.
const SELECT: &str = "SELECT d.id, d.agency, d.task_id, d.message_id, d.reason, d.body, \
     d.headers, d.dead_at, d.replayed_at, d.replayed_by, d.purged_at, t.request_id, \
     t.status AS task_status, t.dead_lettered, c.id AS callback_id, \
     c.applied_at AS callback_applied_at, r.payload_expired_at FROM dead_letters d \
     LEFT JOIN tasks t ON t.id = d.task_id \
     LEFT JOIN requests r ON r.id = t.request_id \
     LEFT JOIN callbacks c ON d.task_id IS NULL AND c.id = d.message_id AND c.agency = d.agency";

impl Store {
    /// Records a message taken from `rabt.dead.<agency>`. When it names an open task of
    /// that agency, the task ends `UPSTREAM_ERROR` (`last_error` "dead-lettered:
    /// <reason>") through the completion path and is marked dead-lettered, in the same
    /// transaction. A message recorded before and still open is not recorded twice.
    pub async fn record_dead_letter(
        &self,
        letter: &NewDeadLetter,
    ) -> Result<DeadLetterRecorded, StoreError> {
        let stored = StoredLetter::of(letter)?;
        let mut tx = self.begin_write().await?;
        if let Some(id) = open_duplicate(
            &mut tx,
            letter.agency,
            stored.message_id.as_deref(),
            &stored.body,
        )
        .await?
        {
            tx.rollback().await?;
            return Ok(DeadLetterRecorded {
                id,
                new: false,
                ended: None,
            });
        }
        let task = match letter.task {
            Some(id) => self
                .lock_task(tx.conn(), id)
                .await?
                .filter(|task| task.agency == letter.agency),
            None => None,
        };
        let id = DeadLetterId::new();
        let task_id = task.as_ref().map(|t| t.id);
        let reason = stored.reason.clone();
        stored.insert(tx.conn(), id, letter, task_id).await?;
        let mut entry = NewAuditEntry::new(Actor::System, "dead_letter.recorded");
        entry.detail = json!({ "dead_letter": id.to_string(), "agency": letter.agency.as_str() });
        let mut ended = None;
        if let Some(task) = &task {
            entry.request = Some(task.request);
            entry.task = Some(task.id);
            ended = end_task(&mut tx, task, &reason, letter.dead_at).await?;
        }
        tx.audit(entry, letter.dead_at);
        tx.commit().await?;
        Ok(DeadLetterRecorded {
            id,
            new: true,
            ended,
        })
    }

    /// One dead letter.
    pub async fn dead_letter(&self, id: DeadLetterId) -> Result<Option<DeadLetter>, StoreError> {
        let sql = format!("{SELECT} WHERE d.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(dead_letter_from_row).transpose()
    }

    /// A page of dead letters, newest first.
    pub async fn list_dead_letters(
        &self,
        query: &DeadLetterQuery,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let mut filtered = Filtered::new(format!("{SELECT} WHERE 1 = 1"));
        if let Some(agency) = query.agency {
            filtered.text("d.agency =", agency.as_str().to_owned());
        }
        if let Some(state) = query.state {
            filtered.fixed(state.condition());
        }
        if let Some(before) = query.before {
            filtered.text("d.id <", before.to_string());
        }
        let limit = crate::codec::page_limit(query.limit, MAX_PAGE);
        let rows = filtered.fetch_page("d.id DESC", limit, &self.pool).await?;
        rows.iter().map(dead_letter_from_row).collect()
    }
}

/// A dead letter's text as it is stored: cleaned and bounded, the body in base64.
struct StoredLetter {
    reason: String,
    message_id: Option<String>,
    body: String,
    /// The message's headers, as a JSON list of pairs.
    headers: String,
}

impl StoredLetter {
    fn of(letter: &NewDeadLetter) -> Result<Self, StoreError> {
        let headers: Vec<(String, String)> = letter
            .headers
            .iter()
            .map(|(name, value)| (clean(name, usize::MAX), clean(value, usize::MAX)))
            .collect();
        Ok(StoredLetter {
            reason: clean(&letter.reason, MAX_REASON_CHARS),
            message_id: letter
                .message_id
                .as_deref()
                .map(|id| clean(id, MAX_MESSAGE_ID_CHARS)),
            body: BASE64.encode(&letter.body),
            headers: serde_json::to_string(&headers)?,
        })
    }

    /// Inserts the dead letter `id` (its reason redacted), naming `task` if it ends one.
    async fn insert(
        self,
        conn: &mut AnyConnection,
        id: DeadLetterId,
        letter: &NewDeadLetter,
        task: Option<TaskId>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dead_letters (id, agency, task_id, message_id, reason, body, headers, \
             dead_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(letter.agency.as_str())
        .bind(task.map(|t| t.to_string()))
        .bind(self.message_id)
        .bind(rabt_core::pii::redact(&self.reason))
        .bind(self.body)
        .bind(self.headers)
        .bind(millis(letter.dead_at))
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// The open dead letter recorded from the same message, if any.
async fn open_duplicate(
    tx: &mut WriteTx,
    agency: Agency,
    message_id: Option<&str>,
    body: &str,
) -> Result<Option<DeadLetterId>, StoreError> {
    // Without a message id two poison messages may share a body by chance: keep both.
    let Some(message_id) = message_id else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT id FROM dead_letters WHERE agency = $1 AND message_id = $2 AND body = $3 \
         AND replayed_at IS NULL AND purged_at IS NULL LIMIT 1",
    )
    .bind(agency.as_str())
    .bind(message_id)
    .bind(body)
    .fetch_optional(tx.conn())
    .await?;
    row.as_ref().map(|row| get_parsed(row, "id")).transpose()
}

/// Ends a locked task because its message was dead-lettered, if the state machine
/// allows it (a queued or running task); marks it so that an operator may replay it.
async fn end_task(
    tx: &mut WriteTx,
    task: &crate::tasks::LockedTask,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<Option<EndedTask>, StoreError> {
    let Ok(next) = task.state.apply(TaskEvent::DeadLettered) else {
        return Ok(None);
    };
    let error = format!("dead-lettered: {reason}");
    let finish = Finish {
        outcome: next.outcome().unwrap_or(rabt_core::Outcome::UpstreamError),
        data: None,
        upstream_ref: None,
        error: Some(&error),
        latency_ms: None,
        at,
        actor: Actor::System,
    };
    let Completion::Applied {
        request_completed, ..
    } = finish_task(tx, task, &finish).await?
    else {
        return Ok(None);
    };
    let row = sqlx::query("UPDATE tasks SET dead_lettered = 1 WHERE id = $1 RETURNING child")
        .bind(task.id.to_string())
        .fetch_one(tx.conn())
        .await?;
    let child: Option<String> = row.try_get("child")?;
    let mut entry = task_audit(task, Actor::System, "task.dead_lettered");
    entry.outcome = Some(finish.outcome.as_str().to_owned());
    tx.audit(entry, at);
    Ok(Some(EndedTask {
        task: task.id,
        request: task.request,
        composite_check: child.is_some(),
        request_completed,
    }))
}

fn dead_letter_from_row(row: &AnyRow) -> Result<DeadLetter, StoreError> {
    let body: String = row.try_get("body")?;
    let body = BASE64
        .decode(body.as_bytes())
        .map_err(|_| StoreError::Corrupt {
            column: "body",
            value: "(not base64)".to_owned(),
        })?;
    let headers: String = row.try_get("headers")?;
    let task: Option<TaskId> = get_opt_parsed(row, "task_id")?;
    let task_status = get_opt_enum(row, "task_status", TaskStatus::parse)?;
    let dead_lettered: Option<i64> = row.try_get("dead_lettered")?;
    let letter = DeadLetter {
        id: get_parsed(row, "id")?,
        agency: get_parsed(row, "agency")?,
        task,
        request: get_opt_parsed(row, "request_id")?,
        callback: get_opt_parsed(row, "callback_id")?,
        message_id: row.try_get("message_id")?,
        reason: row.try_get("reason")?,
        body,
        headers: serde_json::from_str(&headers)?,
        dead_at: get_time(row, "dead_at")?,
        replayed_at: get_opt_time(row, "replayed_at")?,
        replayed_by: row.try_get("replayed_by")?,
        purged_at: get_opt_time(row, "purged_at")?,
        replayable: false,
    };
    // A task whose input expired (retention.payloads) has nothing left to send.
    let expired = get_opt_time(row, "payload_expired_at")?.is_some();
    let task_replayable =
        task_status == Some(TaskStatus::Completed) && dead_lettered == Some(1) && !expired;
    let callback_replayable =
        letter.callback.is_some() && get_opt_time(row, "callback_applied_at")?.is_none();
    let replayable =
        letter.state() == DeadLetterState::Open && (task_replayable || callback_replayable);
    Ok(DeadLetter {
        replayable,
        ..letter
    })
}

/// Text as stored: without NUL characters (PostgreSQL's TEXT refuses them) and at most
/// `max` characters long.
fn clean(text: &str, max: usize) -> String {
    text.chars().filter(|c| *c != '\0').take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_loses_nul_characters_and_is_bounded() {
        assert_eq!(clean("a\0b", 10), "ab");
        assert_eq!(clean("مرحبا", 3), "مرح");
    }

    #[test]
    fn states_round_trip() {
        for state in [
            DeadLetterState::Open,
            DeadLetterState::Replayed,
            DeadLetterState::Purged,
        ] {
            assert_eq!(DeadLetterState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DeadLetterState::parse("OPEN"), None);
    }
}
