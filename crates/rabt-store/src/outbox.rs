//! The transactional outbox: messages are written in the same transaction as the state
//! change they announce, and a relay publishes them afterwards (at least once) and
//! deletes them when the broker confirmed.
//!
//! A relay claims rows with a lease instead of holding a transaction open while it
//! publishes; a relay that dies leaves its rows to be claimed again when the lease runs
//! out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rabt_core::{EVENTS_EXCHANGE, Event, TASKS_EXCHANGE, TaskMessage};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::codec::{get_count, get_parsed, get_time, millis, page_limit, write_rows};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;

/// The message header that carries the W3C trace context.
pub use rabt_core::message::TRACEPARENT as TRACEPARENT_HEADER;

/// A message waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The row's id, for [`Store::delete_outbox`].
    pub id: i64,
    /// The exchange to publish to.
    pub exchange: String,
    /// The routing key.
    pub routing_key: String,
    /// The AMQP message id: receivers deduplicate on it (the task id for tasks).
    pub message_id: String,
    /// The message body (JSON).
    pub body: Vec<u8>,
    /// Message headers, such as `traceparent`.
    pub headers: Vec<(String, String)>,
    /// How many times the row has been claimed, this claim included.
    pub attempts: u32,
}

/// Outbox rows a process claimed as it wrote them, on their way to its own relay: the
/// relay publishes them at once without looking for them in the table (on a busy
/// outbox that search was most of the database's time on the accept path). Should the
/// process die first, their lease runs out and any relay claims them as usual.
#[derive(Debug, Clone)]
pub struct Handoff {
    rows: tokio::sync::mpsc::UnboundedSender<Vec<OutboxRow>>,
    lease: Duration,
}

/// The relay's end of a [`Handoff`].
pub type HandoffReceiver = tokio::sync::mpsc::UnboundedReceiver<Vec<OutboxRow>>;

impl Handoff {
    /// A handoff whose rows are claimed for `lease` (the relay's lease) as they are
    /// written, and the relay's end of it.
    pub fn new(lease: Duration) -> (Handoff, HandoffReceiver) {
        let (rows, receiver) = tokio::sync::mpsc::unbounded_channel();
        (Handoff { rows, lease }, receiver)
    }

    /// How long rows are claimed for.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Gives committed rows to the relay. False if the relay has stopped (the rows
    /// then wait out their lease and are claimed from the table).
    pub fn send(&self, rows: Vec<OutboxRow>) -> bool {
        rows.is_empty() || self.rows.send(rows).is_ok()
    }
}

/// The largest batch [`Store::claim_outbox`] returns.
const MAX_CLAIM: u32 = 1000;
/// Rows per DELETE statement (well under every bind-parameter limit).
const DELETE_CHUNK: usize = 500;

const CLAIM_POSTGRES: &str = "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox WHERE lease_until <= $2 ORDER BY id LIMIT $3 \
                  FOR UPDATE SKIP LOCKED) \
     RETURNING id, exchange, routing_key, message_id, body, headers, attempts";
const CLAIM_SQLITE: &str = "UPDATE outbox SET lease_until = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM outbox WHERE lease_until <= $2 ORDER BY id LIMIT $3) \
     RETURNING id, exchange, routing_key, message_id, body, headers, attempts";

impl Store {
    /// Claims up to `limit` rows whose lease has run out (new rows at once) for
    /// `lease`, in id order. Concurrent claimers never get the same row: on PostgreSQL
    /// locked rows are skipped, on SQLite claims are serialised.
    pub async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let now = Utc::now();
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let until = now
            .checked_add_signed(lease)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let sql = self.by_dialect(CLAIM_POSTGRES, CLAIM_SQLITE);
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sql)
            .bind(millis(until))
            .bind(millis(now))
            .bind(page_limit(limit, MAX_CLAIM))
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        let mut claimed = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING gives no order guarantee.
        claimed.sort_by_key(|row| row.id);
        Ok(claimed)
    }

    /// Deletes rows the broker confirmed. Unknown ids are ignored.
    pub async fn delete_outbox(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.for_outbox_rows("DELETE FROM outbox WHERE id IN", ids)
            .await
    }

    /// Gives claimed rows back at once (their publish failed), so that the next relay
    /// round — of this process or another — takes them without waiting out the lease.
    pub async fn release_outbox(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.for_outbox_rows("UPDATE outbox SET lease_until = 0 WHERE id IN", ids)
            .await
    }

    /// Requests that have checks still BLOCKED, oldest first: a worker settles them
    /// again at start-up and now and then, in case the process that ended what they
    /// wait for died before releasing them.
    pub async fn requests_with_blocked_tasks(
        &self,
        limit: u32,
    ) -> Result<Vec<rabt_core::RequestId>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT request_id FROM tasks WHERE status = 'BLOCKED' ORDER BY request_id LIMIT $1",
        )
        .bind(i64::from(limit.clamp(1, 10_000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| get_parsed(row, "request_id"))
            .collect()
    }

    /// Runs `statement (<ids>)` over the rows, a chunk of ids per transaction.
    async fn for_outbox_rows(
        &self,
        statement: &'static str,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        for chunk in ids.chunks(DELETE_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{statement} ({})", placeholders.join(", "));
            // Only numbered placeholders are interpolated; the ids are bound. Not kept
            // as a prepared statement: each batch size would be another one.
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for id in chunk {
                q = q.bind(*id);
            }
            let mut tx = self.begin_write().await?;
            q.execute(tx.conn()).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Queues again every task that is QUEUED or RUNNING, and every stored callback not
    /// applied yet, that has no message waiting in the outbox; returns how many. The
    /// embedded mode calls this at start-up, because its in-memory queue does not
    /// survive the process. Duplicates are harmless: workers are idempotent by task and
    /// callback id.
    pub async fn requeue_open_tasks(&self) -> Result<u64, StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT t.id, t.request_id, t.agency, t.service, t.deadline_at, r.traceparent \
             FROM tasks t JOIN requests r ON r.id = t.request_id \
             WHERE t.status IN ('QUEUED', 'RUNNING') \
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = t.id) \
             ORDER BY t.id",
        )
        .fetch_all(tx.conn())
        .await?;
        for row in &rows {
            let traceparent: Option<String> = row.try_get("traceparent")?;
            let message = TaskMessage::V1 {
                task: get_parsed(row, "id")?,
                request: get_parsed(row, "request_id")?,
                agency: get_parsed(row, "agency")?,
                service: get_parsed(row, "service")?,
                deadline_at: Some(get_time(row, "deadline_at")?),
            };
            insert_task_message(&mut tx, &message, traceparent.as_deref(), now).await?;
        }
        // Callbacks stored but not applied lost their message with the queue too.
        let callbacks = sqlx::query(
            "SELECT c.id, c.agency FROM callbacks c WHERE c.applied_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = c.id) ORDER BY c.id",
        )
        .fetch_all(tx.conn())
        .await?;
        for row in &callbacks {
            let message = TaskMessage::CallbackV1 {
                callback: get_parsed(row, "id")?,
                agency: get_parsed(row, "agency")?,
            };
            insert_task_message(&mut tx, &message, None, now).await?;
        }
        tx.commit().await?;
        Ok((rows.len() + callbacks.len()) as u64)
    }
}

/// Writes the outbox row that publishes a task to its agency's queue.
pub(crate) async fn insert_task_message(
    tx: &mut WriteTx,
    message: &TaskMessage,
    traceparent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let lease_until = tx.outbox_lease_until(now);
    let row = insert_task_message_until(tx.conn(), message, traceparent, now, lease_until).await?;
    tx.hand_over(row);
    Ok(())
}

/// Writes the outbox row that publishes a task, claimed until `lease_until` (`now`:
/// claimable by any relay at once), and returns it.
async fn insert_task_message_until(
    conn: &mut AnyConnection,
    message: &TaskMessage,
    traceparent: Option<&str>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<OutboxRow, StoreError> {
    let outgoing = Outgoing::task(message, traceparent)?;
    let id = insert_outbox_until(conn, &outgoing, now, lease_until).await?;
    Ok(outgoing.into_row(id))
}

/// A task's message to write to the outbox, claimable from `lease_until`.
pub(crate) struct QueuedMessage<'a> {
    pub(crate) message: TaskMessage,
    pub(crate) traceparent: Option<&'a str>,
    pub(crate) lease_until: DateTime<Utc>,
}

/// Writes the outbox rows that queue `messages`, in as few statements as fit; returns
/// the rows in the order of `messages`, for a relay to publish at once.
pub(crate) async fn insert_task_messages(
    conn: &mut AnyConnection,
    messages: &[QueuedMessage<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<OutboxRow>, StoreError> {
    let outgoing = messages
        .iter()
        .map(|queued| {
            let outgoing = Outgoing::task(&queued.message, queued.traceparent)?;
            Ok((outgoing, queued.lease_until))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let returned = write_rows(
        conn,
        "INSERT INTO outbox (exchange, routing_key, message_id, body, headers, attempts, \
         lease_until, created_at) VALUES",
        "RETURNING id, message_id",
        8,
        &outgoing,
        |query, (outgoing, lease_until)| {
            Ok(query
                .bind(outgoing.exchange)
                .bind(outgoing.routing_key.clone())
                .bind(outgoing.message_id.clone())
                .bind(outgoing.body.clone())
                .bind(serde_json::to_string(&outgoing.headers())?)
                .bind(0_i64)
                .bind(millis(*lease_until))
                .bind(millis(now)))
        },
    )
    .await?;
    in_order_written(outgoing, &returned)
}

/// The rows of `outgoing` with the ids `returned` gives them. RETURNING promises no
/// order: the rows are matched by message id (a task's id, one message per task here).
fn in_order_written(
    outgoing: Vec<(Outgoing<'_>, DateTime<Utc>)>,
    returned: &[AnyRow],
) -> Result<Vec<OutboxRow>, StoreError> {
    let mut ids = returned
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<String, _>("message_id")?,
                row.try_get::<i64, _>("id")?,
            ))
        })
        .collect::<Result<std::collections::HashMap<String, i64>, StoreError>>()?;
    outgoing
        .into_iter()
        .map(|(outgoing, _)| {
            let id = ids
                .remove(&outgoing.message_id)
                .ok_or(StoreError::Corrupt {
                    column: "outbox.id",
                    value: outgoing.message_id.clone(),
                })?;
            Ok(outgoing.into_row(id))
        })
        .collect()
}

/// Writes the outbox row that publishes an event, claimable from `lease_until`;
/// returns it, for a relay to publish at once.
pub(crate) async fn insert_event(
    conn: &mut AnyConnection,
    event: &Event,
    message_id: String,
    traceparent: Option<&str>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<OutboxRow, StoreError> {
    let outgoing = Outgoing {
        exchange: EVENTS_EXCHANGE,
        routing_key: event.routing_key(),
        message_id,
        body: serde_json::to_vec(event)?,
        traceparent,
    };
    let id = insert_outbox_until(conn, &outgoing, now, lease_until).await?;
    Ok(outgoing.into_row(id))
}

struct Outgoing<'a> {
    exchange: &'static str,
    routing_key: String,
    message_id: String,
    body: Vec<u8>,
    traceparent: Option<&'a str>,
}

impl<'a> Outgoing<'a> {
    /// The row that publishes a task to its agency's queue.
    fn task(message: &TaskMessage, traceparent: Option<&'a str>) -> Result<Self, StoreError> {
        Ok(Outgoing {
            exchange: TASKS_EXCHANGE,
            routing_key: message.agency().as_str().to_owned(),
            message_id: message.subject(),
            body: serde_json::to_vec(message)?,
            traceparent,
        })
    }

    /// The row as written, with the id the database gave it.
    fn into_row(self, id: i64) -> OutboxRow {
        OutboxRow {
            id,
            exchange: self.exchange.to_owned(),
            headers: self.headers(),
            routing_key: self.routing_key,
            message_id: self.message_id,
            body: self.body,
            attempts: 0,
        }
    }

    fn headers(&self) -> Vec<(String, String)> {
        self.traceparent
            .map(|tp| (TRACEPARENT_HEADER.to_owned(), tp.to_owned()))
            .into_iter()
            .collect()
    }
}

/// Inserts a row claimable from `lease_until`; returns its id.
async fn insert_outbox_until(
    conn: &mut AnyConnection,
    outgoing: &Outgoing<'_>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO outbox (exchange, routing_key, message_id, body, headers, attempts, \
         lease_until, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7) RETURNING id",
    )
    .bind(outgoing.exchange)
    .bind(outgoing.routing_key.as_str())
    .bind(outgoing.message_id.as_str())
    .bind(outgoing.body.clone())
    .bind(serde_json::to_string(&outgoing.headers())?)
    .bind(millis(lease_until))
    .bind(millis(now))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("id")?)
}

fn outbox_from_row(row: &AnyRow) -> Result<OutboxRow, StoreError> {
    let headers: String = row.try_get("headers")?;
    Ok(OutboxRow {
        id: row.try_get("id")?,
        exchange: row.try_get("exchange")?,
        routing_key: row.try_get("routing_key")?,
        message_id: row.try_get("message_id")?,
        body: row.try_get("body")?,
        headers: serde_json::from_str(&headers)?,
        attempts: get_count(row, "attempts")?,
    })
}
