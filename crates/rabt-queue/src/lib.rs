//! Rabt's message transport: tasks to the agencies' workers, retries, dead letters and
//! events, over RabbitMQ or in process.
//!
//! This is the only crate that names lapin. Everything else sees [`Transport`], which is
//! either a RabbitMQ connection — the topology of DESIGN.md declared at every connect,
//! publisher confirms with `mandatory`, manual acks with a prefetch, retry-tier queues
//! instead of the delayed-message plugin, dead-letter queues, and a reconnect loop of
//! our own — or an embedded in-process broker with the same semantics for `rabt demo`.
//! It depends on `rabt-core` only; it knows nothing of the database, the API or the
//! adapters, and never parses a message body.
//!
//! Layout:
//! - [`names`] — exchange, queue and header names;
//! - [`settings`] — [`Settings`] (delivery limit, retry tiers, heartbeat, publish bound);
//! - [`message`] — [`OutgoingMessage`] and [`Delivery`];
//! - [`error`] — [`QueueError`];
//! - `amqp` — the RabbitMQ transport (sessions, topology, publish, consume, settle);
//! - `embedded` — the in-process transport;
//! - `backoff`, `topic` — reconnect backoff and topic matching.
//!
//! [`Transport`] itself, [`Consumer`] and [`EventSubscription`] live here and only pick
//! the transport.

#![forbid(unsafe_code)]

mod amqp;
mod backoff;
mod embedded;
pub mod error;
pub mod message;
pub mod names;
pub mod settings;
mod topic;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rabt_core::Agency;
use tokio::sync::mpsc;

pub use error::QueueError;
pub use message::{Delivery, OutgoingMessage};
pub use names::{
    DEAD_EXCHANGE, DEAD_REASON_HEADER, DELIVERY_LIMIT_REASON, EVENTS_EXCHANGE, TASKS_EXCHANGE,
    dead_queue, retry_queue, task_queue,
};
pub use settings::Settings;

/// Where messages go: RabbitMQ, or the in-process broker. Cheap to clone; every clone
/// shares one connection (or one embedded broker).
#[derive(Clone)]
pub struct Transport {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Amqp(Arc<amqp::Shared>),
    Embedded(Arc<embedded::Broker>),
}

/// Messages waiting in an agency's queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// Ready (not yet delivered) messages in `rabt.tasks.<agency>`.
    pub ready: u32,
    /// Ready messages in `rabt.dead.<agency>`.
    pub dead: u32,
    /// Consumers of `rabt.tasks.<agency>` (RabbitMQ; the embedded broker says 0).
    pub consumers: u32,
    /// Messages waiting in each retry tier `rabt.retry.<agency>.<tier>` (RabbitMQ; the
    /// embedded broker keeps retries on timers and lists none).
    pub retry: Vec<(std::time::Duration, u32)>,
}

/// A dead letter as the embedded broker keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message id.
    pub message_id: String,
    /// Why it was dead-lettered (`delivery_limit`, or the reason given).
    pub reason: String,
    /// The body.
    pub body: Vec<u8>,
    /// The headers it carried.
    pub headers: Vec<(String, String)>,
}

impl Transport {
    /// Connects to RabbitMQ at `urls` (`amqp://user:pass@host:port/vhost`, or several
    /// separated by commas: the nodes of a cluster), declares the topology and starts
    /// the supervisor that reconnects when the connection is lost — to the next node
    /// of the list first, so publishers and consumers move to a node that is up. Fails
    /// if no node can be connected to and declared on at first.
    pub async fn amqp(urls: &str, settings: Settings) -> Result<Transport, QueueError> {
        let settings = settings.validated()?;
        let shared = amqp::connect(urls, settings).await?;
        Ok(Transport {
            inner: Inner::Amqp(shared),
        })
    }

    /// An in-process broker with the same semantics, for `rabt demo` and tests. The
    /// heartbeat and publish bound do not apply to it.
    pub fn embedded(mut settings: Settings) -> Transport {
        settings.retry_tiers.sort();
        settings.retry_tiers.dedup();
        Transport {
            inner: Inner::Embedded(embedded::Broker::new(settings)),
        }
    }

    /// How long a task published with [`Transport::publish_delayed`]`(_, delay)` really
    /// waits: the retry tier it lands in (the smallest not shorter than `delay`, or the
    /// longest). Callers deciding whether a retry still fits a deadline must use this,
    /// not the raw backoff.
    pub fn retry_delay(&self, delay: Duration) -> Duration {
        self.settings().tier_for(delay).unwrap_or(delay)
    }

    /// The longest retry tier that brings a task back within `wait` (the shortest tier
    /// if all are longer): for a task that must not wait past `wait`, where
    /// [`Transport::retry_delay`] rounds up.
    pub fn retry_delay_within(&self, wait: Duration) -> Duration {
        self.settings().tier_within(wait).unwrap_or(wait)
    }

    fn settings(&self) -> &Settings {
        match &self.inner {
            Inner::Amqp(shared) => &shared.settings,
            Inner::Embedded(broker) => broker.settings(),
        }
    }

    /// True for the in-process broker.
    pub fn is_embedded(&self) -> bool {
        matches!(self.inner, Inner::Embedded(_))
    }

    /// Publishes a batch. `Ok` only when every message was confirmed by the broker and
    /// routed to a queue (events on `rabt.events` need not reach anyone: they are hints).
    /// While disconnected it fails at once with [`QueueError::NotConnected`]; the caller's
    /// outbox keeps the messages. On error, some messages of the batch may have been
    /// delivered: publish again with the same message ids, consumers deduplicate.
    pub async fn publish(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        match &self.inner {
            Inner::Amqp(shared) => amqp::publish(shared, messages).await,
            Inner::Embedded(broker) => broker.publish(messages),
        }
    }

    /// Sends a task back to `rabt.tasks` after (at least) `delay`: through the smallest
    /// retry tier not shorter than `delay` (the longest if none is). The agency is the
    /// message's routing key; its headers travel with it.
    pub async fn publish_delayed(
        &self,
        message: &OutgoingMessage,
        delay: Duration,
    ) -> Result<(), QueueError> {
        match &self.inner {
            Inner::Amqp(shared) => amqp::publish_delayed(shared, message, delay).await,
            Inner::Embedded(broker) => broker.publish_delayed(message, delay),
        }
    }

    /// Consumes `rabt.tasks.<agency>` with manual acks and at most `prefetch` unsettled
    /// deliveries (0: no limit). The consumer survives reconnects: it re-opens on each
    /// new connection and keeps feeding the same [`Consumer`]. Opening one fails with
    /// [`QueueError::NotConnected`] while the transport is reconnecting.
    pub async fn consume(&self, agency: Agency, prefetch: u16) -> Result<Consumer, QueueError> {
        self.consume_queue(agency, prefetch, false).await
    }

    /// Consumes `rabt.dead.<agency>`, for the operator's listing and replay; each
    /// delivery's [`Delivery::dead_reason`] says why it is there.
    pub async fn consume_dead_letters(
        &self,
        agency: Agency,
        prefetch: u16,
    ) -> Result<Consumer, QueueError> {
        self.consume_queue(agency, prefetch, true).await
    }

    async fn consume_queue(
        &self,
        agency: Agency,
        prefetch: u16,
        dead_letters: bool,
    ) -> Result<Consumer, QueueError> {
        let inner = match &self.inner {
            Inner::Amqp(shared) => {
                ConsumerInner::Amqp(amqp::consume(shared, agency, prefetch, dead_letters).await?)
            }
            Inner::Embedded(broker) => {
                ConsumerInner::Embedded(broker.consume(agency, prefetch, dead_letters)?)
            }
        };
        Ok(Consumer { inner })
    }

    /// Receives the bodies of events on `rabt.events` whose routing key matches
    /// `binding_key` (`*` one word, `#` any number). Events published while the
    /// connection is down are missed: they are hints, and the database has the truth.
    pub async fn subscribe_events(
        &self,
        binding_key: &str,
    ) -> Result<EventSubscription, QueueError> {
        let inner = match &self.inner {
            Inner::Amqp(shared) => {
                SubscriptionInner::Amqp(amqp::subscribe(shared, binding_key).await?)
            }
            Inner::Embedded(broker) => SubscriptionInner::Embedded(broker.subscribe(binding_key)?),
        };
        Ok(EventSubscription { inner })
    }

    /// True while connected with the topology declared (always, for the embedded
    /// broker until closed). For `/readyz`.
    pub fn is_ready(&self) -> bool {
        match &self.inner {
            Inner::Amqp(shared) => amqp::is_ready(shared),
            Inner::Embedded(broker) => !broker.is_closed(),
        }
    }

    /// How many messages wait in the agency's task and dead-letter queues.
    pub async fn depth(&self, agency: Agency) -> Result<QueueDepth, QueueError> {
        match &self.inner {
            Inner::Amqp(shared) => amqp::depth(shared, agency).await,
            Inner::Embedded(broker) => broker.depth(agency),
        }
    }

    /// The depths of every agency's task and dead-letter queues, asked of the broker
    /// through one channel (for `/metrics`).
    pub async fn depths(&self) -> Result<Vec<(Agency, QueueDepth)>, QueueError> {
        match &self.inner {
            Inner::Amqp(shared) => amqp::depths(shared, &Agency::ALL).await,
            Inner::Embedded(broker) => Agency::ALL
                .into_iter()
                .map(|agency| Ok((agency, broker.depth(agency)?)))
                .collect(),
        }
    }

    /// The embedded broker's dead letters for `agency`, oldest first, without taking
    /// them. `None` on RabbitMQ, where they are read with
    /// [`Transport::consume_dead_letters`].
    pub fn dead_letters(&self, agency: Agency) -> Option<Vec<DeadLetter>> {
        match &self.inner {
            Inner::Amqp(_) => None,
            Inner::Embedded(broker) => Some(broker.dead_letters(agency)),
        }
    }

    /// Stops reconnecting, ends every consumer and subscription (their `next` returns
    /// `None`) and closes the connection. Unsettled deliveries go back to their queues.
    pub async fn close(&self) {
        match &self.inner {
            Inner::Amqp(shared) => amqp::close(shared).await,
            Inner::Embedded(broker) => broker.close(),
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it holds the broker password.
        let kind = match self.inner {
            Inner::Amqp(_) => "amqp",
            Inner::Embedded(_) => "embedded",
        };
        f.debug_struct("Transport")
            .field("kind", &kind)
            .field("ready", &self.is_ready())
            .finish()
    }
}

/// Deliveries from one queue. Dropping it stops consuming; unsettled deliveries still
/// out can be settled, and go back to the queue if dropped.
pub struct Consumer {
    inner: ConsumerInner,
}

enum ConsumerInner {
    Amqp(amqp::Feeder<Delivery>),
    Embedded(embedded::EmbeddedConsumer),
}

impl Consumer {
    /// The next delivery; waits while there is none. `None` only after
    /// [`Transport::close`].
    pub async fn next(&mut self) -> Option<Delivery> {
        match &mut self.inner {
            ConsumerInner::Amqp(feeder) => feeder.next_delivery().await,
            ConsumerInner::Embedded(consumer) => consumer.next().await,
        }
    }
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").finish_non_exhaustive()
    }
}

/// Event bodies from `rabt.events` matching one binding key.
pub struct EventSubscription {
    inner: SubscriptionInner,
}

enum SubscriptionInner {
    Amqp(amqp::Feeder<Vec<u8>>),
    Embedded(mpsc::Receiver<Vec<u8>>),
}

impl EventSubscription {
    /// The next event's body; `None` only after [`Transport::close`].
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        match &mut self.inner {
            SubscriptionInner::Amqp(feeder) => feeder.recv().await,
            SubscriptionInner::Embedded(receiver) => receiver.recv().await,
        }
    }
}

impl fmt::Debug for EventSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSubscription").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_and_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}

    #[test]
    fn handles_and_deliveries_cross_tasks() {
        send_and_sync::<Transport>();
        send_and_sync::<Delivery>();
        send_and_sync::<Consumer>();
        send_and_sync::<EventSubscription>();
        send_and_sync::<QueueError>();
    }

    /// Compiles only if the futures can be spawned (axum handlers, tokio::spawn).
    #[allow(dead_code)]
    fn futures_are_send(t: &Transport, m: &OutgoingMessage, c: &mut Consumer, d: Delivery) {
        send(&t.publish(std::slice::from_ref(m)));
        send(&t.publish_delayed(m, Duration::ZERO));
        send(&t.consume(Agency::Labor, 1));
        send(&t.subscribe_events("#"));
        send(&t.depth(Agency::Labor));
        send(&t.close());
        send(&c.next());
        send(&d.ack());
    }
}
