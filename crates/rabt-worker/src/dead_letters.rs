//! The dead-letter drain: one consumer per agency on `rabt.dead.<agency>` that records
//! every message in the database (where operators list, replay and purge it) and acks
//! it only after the commit.
//!
//! Whatever put the message there — the worker's own `dead_letter` (undecodable, unknown
//! task or callback) or the broker's delivery limit — recording it ends the task it
//! names `UPSTREAM_ERROR` (the store does that in the same transaction), so the
//! request gets its verdict now instead of at its deadline. The drain never parses more
//! of a body than a task id and never fails on one: any bytes are recorded as they
//! are (the first [`MAX_BODY_BYTES`] of them). A redelivery after a crash between
//! commit and ack is recognised by the store and not recorded twice.

use std::time::Duration;

use chrono::Utc;
use rabt_core::{Agency, TaskMessage};
use rabt_metrics::metrics;
use rabt_queue::{Consumer, Delivery};
use rabt_store::{DeadLetterRecorded, NewDeadLetter};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Worker;

/// The most of a body kept. Rabt's own messages are ids (a few hundred bytes); a larger
/// poison message keeps its head, and its full length in the header
/// [`BODY_BYTES_HEADER`].
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Added to a dead letter's headers when its body was cut to [`MAX_BODY_BYTES`]: the
/// body's real length.
pub const BODY_BYTES_HEADER: &str = "x-rabt-body-bytes";
/// The reason recorded for a message that carries none (published to `rabt.dead` by
/// hand, or dead-lettered by the broker without an `x-death` entry).
const UNKNOWN_REASON: &str = "unknown";
/// Unsettled dead letters per agency: they are handled one at a time anyway.
const PREFETCH: u16 = 16;
/// The longest pause before a dead letter that could not be recorded is tried again.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// Moves the dead letters of a worker's agencies from the broker into the database.
/// Run it beside the worker ([`Worker::dead_letter_drain`]); any number of processes
/// may drain the same queues.
#[derive(Debug, Clone)]
pub struct DeadLetterDrain {
    worker: Worker,
}

impl Worker {
    /// The drain of the dead-letter queues of the agencies this worker serves.
    pub fn dead_letter_drain(&self) -> DeadLetterDrain {
        DeadLetterDrain {
            worker: self.clone(),
        }
    }
}

impl DeadLetterDrain {
    /// Drains until `shutdown`; the dead letter in hand is recorded and acked first.
    pub async fn run(self, shutdown: CancellationToken) {
        let drain = DeadLetterDrain {
            worker: Worker {
                stop: shutdown.clone(),
                ..self.worker
            },
        };
        let mut loops = JoinSet::new();
        for agency in drain.worker.agencies() {
            let (this, stop) = (drain.clone(), shutdown.clone());
            let supervisor = drain.worker.supervisor.clone();
            loops.spawn(async move {
                supervisor
                    .run(
                        format!("dead-letter-drain:{agency}"),
                        stop.clone(),
                        move || this.clone().drain(agency, stop.clone()),
                    )
                    .await;
            });
        }
        while loops.join_next().await.is_some() {}
    }

    async fn drain(self, agency: Agency, shutdown: CancellationToken) {
        let Some(mut consumer) = self.open(agency, &shutdown).await else {
            return;
        };
        tracing::info!(%agency, "draining dead letters");
        let mut failures = 0u32;
        loop {
            let delivery = tokio::select! {
                () = shutdown.cancelled() => break,
                delivery = consumer.next() => delivery,
            };
            let Some(delivery) = delivery else { break };
            if self.take(delivery).await {
                failures = 0;
            } else {
                failures = failures.saturating_add(1);
                // The same message comes straight back: pause, or a store that keeps
                // refusing it would spin (a dead-letter queue has no delivery limit).
                let pause = Duration::from_millis(250)
                    .saturating_mul(2u32.saturating_pow(failures.min(8)))
                    .min(MAX_PAUSE);
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// Opens the agency's dead-letter consumer, retrying while the broker is away.
    async fn open(&self, agency: Agency, shutdown: &CancellationToken) -> Option<Consumer> {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self
                .worker
                .transport
                .consume_dead_letters(agency, PREFETCH)
                .await
            {
                Ok(consumer) => return Some(consumer),
                Err(err) => {
                    tracing::warn!(%agency, error = %err, "cannot consume dead letters; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Records one dead letter and acks it; false if it could not be recorded (it is
    /// handed back to the queue).
    async fn take(&self, delivery: Delivery) -> bool {
        let letter = new_dead_letter(&delivery);
        let store = &self.worker.store;
        let recorded = self
            .worker
            .with_db("recording a dead letter", || {
                store.record_dead_letter(&letter)
            })
            .await;
        match recorded {
            Ok(recorded) => {
                self.after(&letter, &recorded).await;
                if let Err(err) = delivery.ack().await {
                    // The broker hands it out again; the store recognises it.
                    tracing::debug!(%err, "could not ack a recorded dead letter");
                }
                true
            }
            Err(err) => {
                tracing::warn!(agency = %letter.agency, error = %err, "cannot record a dead letter; handing it back");
                if let Err(err) = delivery.requeue().await {
                    tracing::debug!(%err, "requeue failed; the broker redelivers after the channel closes");
                }
                false
            }
        }
    }

    /// Logs what recording did, and lets its consequences follow: the completion event
    /// is published, a composite's waiting checks are skipped.
    async fn after(&self, letter: &NewDeadLetter, recorded: &DeadLetterRecorded) {
        if !recorded.new {
            tracing::debug!(dead_letter = %recorded.id, "dead letter recorded before; acking the redelivery");
            return;
        }
        metrics().dead_letter(letter.agency, &letter.reason);
        tracing::warn!(
            dead_letter = %recorded.id,
            agency = %letter.agency,
            reason = %letter.reason,
            task = ?recorded.ended.as_ref().map(|e| e.task),
            "dead letter recorded"
        );
        let Some(ended) = &recorded.ended else {
            return;
        };
        if let Some(done) = ended.request_completed {
            self.worker.request_completed(done);
        } else if ended.composite_check
            && let Err(err) = self.worker.compose(ended.request).await
        {
            // The sweeper settles composites again before long.
            tracing::warn!(request = %ended.request, error = %err, "cannot settle a composite's checks after a dead letter");
        }
    }
}

/// The dead letter to record for a delivery from `rabt.dead.<agency>`.
fn new_dead_letter(delivery: &Delivery) -> NewDeadLetter {
    let task = match serde_json::from_slice::<TaskMessage>(delivery.body()) {
        Ok(TaskMessage::V1 { task, .. }) => Some(task),
        Ok(TaskMessage::CallbackV1 { .. }) | Err(_) => None,
    };
    let mut headers = delivery.headers().to_vec();
    let body = delivery.body();
    if body.len() > MAX_BODY_BYTES {
        headers.push((BODY_BYTES_HEADER.to_owned(), body.len().to_string()));
    }
    NewDeadLetter {
        agency: delivery.agency(),
        task,
        message_id: delivery
            .message_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        reason: delivery
            .dead_reason()
            .filter(|reason| !reason.is_empty())
            .unwrap_or(UNKNOWN_REASON)
            .to_owned(),
        body: body[..body.len().min(MAX_BODY_BYTES)].to_vec(),
        headers,
        dead_at: Utc::now(),
    }
}
