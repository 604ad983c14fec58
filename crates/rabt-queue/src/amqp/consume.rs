//! Consumers that outlive their connection: a task per consumer opens a lapin consumer
//! on the current session, forwards its deliveries, and when the connection (or just
//! the channel) dies, opens again on the next session — feeding the same channel the
//! caller reads from.

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use lapin::Channel;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use rabt_core::Agency;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::session::Session;
use super::settle::{self, Origin};
use super::{Shared, topology};
use crate::backoff;
use crate::error::QueueError;
use crate::message::{Delivery, Settle};
use crate::names::{EVENTS_EXCHANGE, dead_queue, task_queue};

/// What a consumer task reads and what it hands on.
pub(crate) trait Feed: Send + Sync + 'static {
    /// What the caller receives.
    type Item: Send + 'static;
    /// Opens a channel and a lapin consumer on `session`.
    fn open(
        &self,
        shared: &Arc<Shared>,
        session: &Session,
    ) -> impl Future<Output = Result<(Channel, lapin::Consumer), QueueError>> + Send;
    /// Turns one lapin delivery into the item.
    fn convert(
        &self,
        shared: &Arc<Shared>,
        session: &Session,
        channel: &Channel,
        delivery: lapin::message::Delivery,
    ) -> Self::Item;
}

/// An agency's task queue, or its dead-letter queue, with manual acks.
pub(crate) struct Tasks {
    pub(crate) agency: Agency,
    pub(crate) prefetch: u16,
    pub(crate) dead_letters: bool,
}

impl Feed for Tasks {
    type Item = Delivery;

    async fn open(
        &self,
        shared: &Arc<Shared>,
        session: &Session,
    ) -> Result<(Channel, lapin::Consumer), QueueError> {
        // Re-declared on every open, so a queue deleted by hand comes back.
        let channel = channel_with_exchanges(session).await?;
        topology::declare_agency(&channel, self.agency, &shared.settings).await?;
        // Per consumer (global: false): at most `prefetch` unacked deliveries in flight
        // to it. https://www.rabbitmq.com/docs/consumer-prefetch
        channel
            .basic_qos(self.prefetch, BasicQosOptions { global: false })
            .await?;
        let queue = if self.dead_letters {
            dead_queue(self.agency)
        } else {
            task_queue(self.agency)
        };
        // no_ack: false (the default) — manual acks: a message leaves the queue only
        // when we ack it, and comes back if this consumer dies first.
        consume(
            channel,
            queue.as_str().into(),
            BasicConsumeOptions::default(),
        )
        .await
    }

    fn convert(
        &self,
        shared: &Arc<Shared>,
        session: &Session,
        channel: &Channel,
        delivery: lapin::message::Delivery,
    ) -> Delivery {
        let origin = Origin {
            shared,
            generation: session.generation,
            channel,
            agency: self.agency,
            dead_letters: self.dead_letters,
        };
        settle::delivery(origin, delivery)
    }
}

/// A private queue bound to `rabt.events`, consumed without acks.
pub(crate) struct Events {
    pub(crate) binding_key: String,
}

impl Feed for Events {
    type Item = Vec<u8>;

    async fn open(
        &self,
        _: &Arc<Shared>,
        session: &Session,
    ) -> Result<(Channel, lapin::Consumer), QueueError> {
        let channel = channel_with_exchanges(session).await?;
        let options = QueueDeclareOptions {
            // Exclusive and auto-delete: the queue belongs to this connection and goes
            // away with it or with the consumer, so listeners leave nothing behind.
            exclusive: true,
            auto_delete: true,
            durable: false,
            ..QueueDeclareOptions::default()
        };
        // An empty name asks the broker for a fresh one.
        let queue = channel
            .queue_declare("".into(), options, FieldTable::default())
            .await?;
        channel
            .queue_bind(
                queue.name().clone(),
                EVENTS_EXCHANGE.into(),
                self.binding_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        // no_ack: events are hints (the database is the truth), so the broker may
        // forget them once sent.
        let options = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        consume(channel, queue.name().clone(), options).await
    }

    fn convert(
        &self,
        _: &Arc<Shared>,
        _: &Session,
        _: &Channel,
        delivery: lapin::message::Delivery,
    ) -> Vec<u8> {
        delivery.data
    }
}

/// A new channel on `session` with Rabt's exchanges declared (again, on every open:
/// declaring is idempotent, and what was deleted by hand comes back), for a [`Feed`]
/// to declare and bind its queue on.
async fn channel_with_exchanges(session: &Session) -> Result<Channel, QueueError> {
    let channel = session.connection.create_channel().await?;
    topology::declare_exchanges(&channel).await?;
    Ok(channel)
}

/// Starts consuming `queue` on `channel` under a consumer tag the broker picks (the
/// empty tag), and hands the channel on with its consumer: what every [`Feed`] opens.
async fn consume(
    channel: Channel,
    queue: ShortString,
    options: BasicConsumeOptions,
) -> Result<(Channel, lapin::Consumer), QueueError> {
    let consumer = channel
        .basic_consume(queue, "".into(), options, FieldTable::default())
        .await?;
    Ok((channel, consumer))
}

/// The caller's end of a consumer task. Dropping it stops the task.
pub(crate) struct Feeder<T> {
    receiver: mpsc::Receiver<T>,
    _stop: DropGuard,
}

impl<T> Feeder<T> {
    pub(crate) async fn recv(&mut self) -> Option<T> {
        self.receiver.recv().await
    }
}

impl Feeder<Delivery> {
    /// The next delivery that can still be settled. Deliveries that came on a
    /// connection which has died since are skipped: they cannot be acked, and the
    /// broker delivers them again.
    pub(crate) async fn next_delivery(&mut self) -> Option<Delivery> {
        loop {
            let delivery = self.receiver.recv().await?;
            match &delivery.settle {
                Settle::Amqp(settle) if !settle.is_current() => continue,
                Settle::Amqp(_) | Settle::Embedded(_) => return Some(delivery),
            }
        }
    }
}

/// Opens the first consumer now (so the caller sees errors and nothing published after
/// this returns is missed), then keeps it alive in a task.
pub(crate) async fn start<F: Feed>(
    shared: &Arc<Shared>,
    feed: F,
    buffer: usize,
) -> Result<Feeder<F::Item>, QueueError> {
    let session = shared.live_session()?;
    let bound = shared.settings.publish_timeout;
    let (channel, consumer) = tokio::time::timeout(bound, feed.open(shared, &session))
        .await
        .map_err(|_| QueueError::Timeout {
            operation: "opening a consumer",
            after: bound,
        })??;
    let (sender, receiver) = mpsc::channel(buffer.max(1));
    let stop = shared.shutdown.child_token();
    let task = Task {
        shared: Arc::clone(shared),
        feed,
        sender,
        stop: stop.clone(),
    };
    tokio::spawn(task.run((session, channel, consumer)));
    Ok(Feeder {
        receiver,
        _stop: stop.drop_guard(),
    })
}

struct Task<F: Feed> {
    shared: Arc<Shared>,
    feed: F,
    sender: mpsc::Sender<F::Item>,
    stop: CancellationToken,
}

enum Ended {
    /// The caller is gone or the transport closed: the task ends.
    Stopped,
    /// The channel or connection died: open again.
    Lost,
}

impl<F: Feed> Task<F> {
    async fn run(self, first: (Arc<Session>, Channel, lapin::Consumer)) {
        let mut opened = Some(first);
        let mut failures = 0u32;
        loop {
            if let Some((session, channel, consumer)) = opened.take() {
                failures = 0;
                if let Ended::Stopped = self.forward(&session, channel, consumer).await {
                    return;
                }
            }
            // Back off before opening again, so a queue that keeps cancelling us (or a
            // flapping broker) is not hammered.
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(backoff::delay(failures)) => {}
            }
            failures = failures.saturating_add(1);
            let Some(session) = self.shared.wait_session(&self.stop).await else {
                return;
            };
            match self.feed.open(&self.shared, &session).await {
                Ok((channel, consumer)) => opened = Some((session, channel, consumer)),
                Err(error) => tracing::warn!(error = %error, "re-opening a consumer failed"),
            }
        }
    }

    async fn forward(
        &self,
        session: &Session,
        channel: Channel,
        mut consumer: lapin::Consumer,
    ) -> Ended {
        loop {
            let next = tokio::select! {
                biased;
                () = self.stop.cancelled() => return Ended::Stopped,
                next = consumer.next() => next,
            };
            let delivery = match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => {
                    tracing::warn!(error = %error, "consumer failed; re-opening");
                    return Ended::Lost;
                }
                None => {
                    tracing::warn!(queue = %consumer.queue(), "consumer cancelled; re-opening");
                    return Ended::Lost;
                }
            };
            let item = self.feed.convert(&self.shared, session, &channel, delivery);
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Ended::Stopped,
                sent = self.sender.send(item) => if sent.is_err() {
                    return Ended::Stopped;
                },
            }
        }
    }
}
