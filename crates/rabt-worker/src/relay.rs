//! The outbox relay: publishes what the database committed, then deletes it.
//!
//! Every write that must reach the broker (a new task, a completion event) is an outbox
//! row written in the same transaction as the state it announces. The relay claims rows
//! with a lease, publishes them with publisher confirms, and deletes them only once the
//! broker confirmed. A crash anywhere in between leaves the rows, whose lease expires,
//! and a relay (this one after a restart, or another process's) publishes them again:
//! at-least-once, and consumers are idempotent by task id.

use std::sync::Arc;
use std::time::Duration;

use rabt_queue::{OutgoingMessage, Transport};
use rabt_store::{Handoff, HandoffReceiver, OutboxRow, Store};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Span;

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Rows per claim and per confirmed batch.
    pub batch_size: u32,
    /// How long a claim holds rows before another relay may take them.
    pub lease: Duration,
    /// How often to look for rows when nobody wakes the relay (rows left by crashed
    /// processes, rows of other processes' expired leases).
    pub poll_interval: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 256,
            lease: Duration::from_secs(15),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The relay of one process.
#[derive(Debug)]
pub struct OutboxRelay {
    store: Store,
    transport: Transport,
    wake: Arc<Notify>,
    settings: RelaySettings,
    handed_over: Option<HandoffReceiver>,
}

impl OutboxRelay {
    /// A relay; notify `wake` after committing outbox rows to have them published at once.
    pub fn new(
        store: Store,
        transport: Transport,
        wake: Arc<Notify>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            store,
            transport,
            wake,
            settings,
            handed_over: None,
        }
    }

    /// The handoff through which this process's API gives the relay the outbox rows it
    /// wrote already claimed (for the relay's lease), to be published at once.
    pub fn handoff(&mut self) -> Handoff {
        let (handoff, receiver) = Handoff::new(self.settings.lease);
        self.handed_over = Some(receiver);
        handoff
    }

    /// Publishes until `shutdown`: rows handed over at once, and whatever the table
    /// holds when woken and every poll interval.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut handed_over = self.handed_over.take();
        let mut failures = 0u32;
        let mut search = true;
        let mut next_poll = Instant::now();
        while !shutdown.is_cancelled() {
            if search {
                let result = self.drain().await;
                self.count(&mut failures, result);
                let pause = if failures == 0 {
                    self.settings.poll_interval
                } else {
                    Duration::from_millis(200 * u64::from(failures.min(10)))
                };
                next_poll = Instant::now() + pause;
            }
            search = tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => true,
                () = tokio::time::sleep_until(next_poll) => true,
                Some(rows) = next_handed_over(&mut handed_over) => {
                    let result = self.publish_handed_over(rows, handed_over.as_mut()).await;
                    self.count(&mut failures, result);
                    false
                }
            };
        }
    }

    /// Counts a failed round; one log line per outage, not per retry.
    fn count(&self, failures: &mut u32, result: Result<(), RelayError>) {
        match result {
            Ok(()) => *failures = 0,
            Err(err) => {
                *failures = failures.saturating_add(1);
                if *failures == 1 || failures.is_multiple_of(30) {
                    tracing::warn!(error = %err, failures = *failures, "outbox relay cannot publish; rows stay in the outbox");
                }
            }
        }
    }

    /// Publishes rows handed over (and any more waiting, up to a batch), then deletes
    /// them; if the broker refuses, gives them back to the table for the next search.
    async fn publish_handed_over(
        &self,
        mut rows: Vec<OutboxRow>,
        more: Option<&mut HandoffReceiver>,
    ) -> Result<(), RelayError> {
        if let Some(receiver) = more {
            while rows.len() < self.settings.batch_size as usize {
                match receiver.try_recv() {
                    Ok(next) => rows.extend(next),
                    Err(_) => break,
                }
            }
        }
        self.publish(&rows).await
    }

    /// Publishes batches until the outbox has nothing claimable.
    pub async fn drain(&self) -> Result<(), RelayError> {
        loop {
            let rows = self
                .store
                .claim_outbox(self.settings.batch_size, self.settings.lease)
                .await
                .map_err(RelayError::Store)?;
            if rows.is_empty() {
                return Ok(());
            }
            let full_batch = rows.len() as u32 == self.settings.batch_size;
            self.publish(&rows).await?;
            if !full_batch {
                return Ok(());
            }
        }
    }

    /// Publishes claimed rows with confirms, then deletes them.
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), RelayError> {
        let (messages, spans): (Vec<OutgoingMessage>, Vec<Span>) =
            rows.iter().map(to_message).unzip();
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        if let Err(err) = self.transport.publish(&messages).await {
            for span in &spans {
                rabt_trace::set_error(span, "not confirmed by the broker");
            }
            // Give the rows back now rather than after the lease, so they go out as
            // soon as the broker is back. (Some may have been delivered: consumers
            // are idempotent by task id.)
            if let Err(release) = self.store.release_outbox(&ids).await {
                tracing::debug!(error = %release, "cannot release outbox rows; they wait out their lease");
            }
            return Err(RelayError::Queue(err));
        }
        self.store
            .delete_outbox(&ids)
            .await
            .map_err(RelayError::Store)?;
        tracing::debug!(published = ids.len(), "outbox batch confirmed");
        Ok(())
    }
}

/// The next rows handed over; never, without a handoff.
async fn next_handed_over(receiver: &mut Option<HandoffReceiver>) -> Option<Vec<OutboxRow>> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The message of an outbox row, with the PRODUCER span of its publish: a child of the
/// span that wrote the row (its `traceparent` header), whose own context replaces that
/// header, so the consumer's span is the publish's child. The span ends when dropped,
/// after the broker answered.
fn to_message(row: &OutboxRow) -> (OutgoingMessage, Span) {
    let written_by = header(&row.headers, rabt_trace::TRACEPARENT);
    let span = rabt_trace::producer(&row.exchange, &row.routing_key, &row.message_id, written_by);
    let mut headers = row.headers.clone();
    if let Some(traceparent) = rabt_trace::traceparent(&span) {
        headers.retain(|(name, _)| name != rabt_trace::TRACEPARENT);
        headers.push((rabt_trace::TRACEPARENT.to_owned(), traceparent));
    }
    let message = OutgoingMessage {
        exchange: row.exchange.clone(),
        routing_key: row.routing_key.clone(),
        message_id: row.message_id.clone(),
        body: row.body.clone(),
        headers,
    };
    (message, span)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Why a relay round failed; the rows stay and are retried.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The database failed.
    #[error("outbox store: {0}")]
    Store(#[source] rabt_store::StoreError),
    /// The broker did not confirm.
    #[error("publishing: {0}")]
    Queue(#[source] rabt_queue::QueueError),
}
