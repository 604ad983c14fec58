//! What goes out ([`OutgoingMessage`]) and what comes in ([`Delivery`]).

use std::fmt;

use rabt_core::Agency;

use crate::error::QueueError;
use crate::names::DEAD_REASON_HEADER;
use crate::{amqp, embedded};

/// A message to publish. The body is JSON (`content_type: application/json`); every
/// message is persistent and carries its id, so a consumer can deduplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The exchange, e.g. [`crate::TASKS_EXCHANGE`] or [`crate::EVENTS_EXCHANGE`].
    pub exchange: String,
    /// The routing key: the agency's wire name on `rabt.tasks`, the event's key on
    /// `rabt.events`.
    pub routing_key: String,
    /// A unique id (the outbox row's or the task's), kept as the AMQP `message_id`.
    pub message_id: String,
    /// The body.
    pub body: Vec<u8>,
    /// Headers (attempt count, first-failure time, W3C `traceparent` …).
    pub headers: Vec<(String, String)>,
}

impl OutgoingMessage {
    /// A task for `agency`'s queue, published to `rabt.tasks`.
    pub fn task(agency: Agency, message_id: impl Into<String>, body: Vec<u8>) -> Self {
        OutgoingMessage {
            exchange: crate::TASKS_EXCHANGE.to_owned(),
            routing_key: agency.as_str().to_owned(),
            message_id: message_id.into(),
            body,
            headers: Vec::new(),
        }
    }

    /// An event on `rabt.events` with its topic routing key.
    pub fn event(
        routing_key: impl Into<String>,
        message_id: impl Into<String>,
        body: Vec<u8>,
    ) -> Self {
        OutgoingMessage {
            exchange: crate::EVENTS_EXCHANGE.to_owned(),
            routing_key: routing_key.into(),
            message_id: message_id.into(),
            body,
            headers: Vec::new(),
        }
    }

    /// The same message with one more header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The content of a received message, the same for both transports.
#[derive(Clone)]
pub(crate) struct Received {
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) message_id: Option<String>,
    pub(crate) redelivered: bool,
    pub(crate) delivery_count: u32,
    pub(crate) agency: Agency,
    pub(crate) dead_reason: Option<String>,
}

/// How a delivery is settled: through the AMQP channel it came on, or in process.
pub(crate) enum Settle {
    // Boxed: lapin's acker and properties make it much larger than the embedded one.
    Amqp(Box<amqp::AmqpSettle>),
    Embedded(embedded::EmbeddedSettle),
}

/// A message handed to a consumer. Settle it exactly once with [`Delivery::ack`],
/// [`Delivery::requeue`] or [`Delivery::dead_letter`]; a delivery dropped unsettled goes
/// back to its queue as redelivered, as if its consumer had died.
pub struct Delivery {
    pub(crate) received: Received,
    pub(crate) settle: Settle,
}

impl Delivery {
    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.received.body
    }

    /// A header's value. Numbers and booleans are given in decimal text; nested
    /// values (such as RabbitMQ's `x-death` table) are not exposed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.received
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in the order received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.received.headers
    }

    /// True when the broker delivered this message before (to this or another
    /// consumer) without it being acked.
    pub fn redelivered(&self) -> bool {
        self.received.redelivered
    }

    /// How often the message was delivered before and handed back: 0 on the first
    /// delivery (from quorum queues' `x-delivery-count`).
    pub fn delivery_count(&self) -> u32 {
        self.received.delivery_count
    }

    /// The message id given at publishing.
    pub fn message_id(&self) -> Option<&str> {
        self.received.message_id.as_deref()
    }

    /// The agency whose queue this came from.
    pub fn agency(&self) -> Agency {
        self.received.agency
    }

    /// For a message read from a dead-letter queue, why it is there: the reason given to
    /// [`Delivery::dead_letter`], or the broker's own (`delivery_limit` after too many
    /// redeliveries). `None` for ordinary task deliveries.
    pub fn dead_reason(&self) -> Option<&str> {
        self.received.dead_reason.as_deref()
    }

    /// Acknowledges the message: the broker forgets it.
    ///
    /// Fails with [`QueueError::StaleDelivery`] when the delivery's connection is gone;
    /// the broker then delivers the message again, so the work must be idempotent.
    pub async fn ack(self) -> Result<(), QueueError> {
        match self.settle {
            Settle::Amqp(s) => s.ack().await,
            Settle::Embedded(s) => s.ack(),
        }
    }

    /// Hands the message back to its queue (`basic.nack` with `requeue`). Counts toward
    /// the delivery limit: past it, the message goes to `rabt.dead.<agency>`.
    pub async fn requeue(self) -> Result<(), QueueError> {
        match self.settle {
            Settle::Amqp(s) => s.requeue().await,
            Settle::Embedded(s) => s.requeue(),
        }
    }

    /// Moves the message to `rabt.dead.<agency>` with `reason` in the
    /// `x-rabt-dead-reason` header and its other headers kept: publishes the copy with a
    /// confirm, then acks the original.
    pub async fn dead_letter(self, reason: &str) -> Result<(), QueueError> {
        match self.settle {
            Settle::Amqp(s) => s.dead_letter(self.received, reason).await,
            Settle::Embedded(s) => s.dead_letter(self.received, reason),
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies and header values stay out of logs: they are task ids today, but nothing
        // stops a caller from putting more in them.
        let header_names: Vec<&str> = self
            .received
            .headers
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        f.debug_struct("Delivery")
            .field("agency", &self.received.agency)
            .field("message_id", &self.received.message_id)
            .field("redelivered", &self.received.redelivered)
            .field("delivery_count", &self.received.delivery_count)
            .field("body_len", &self.received.body.len())
            .field("headers", &header_names)
            .finish()
    }
}

/// Sets (or replaces) the dead-letter reason in a header list.
pub(crate) fn with_dead_reason(headers: &mut Vec<(String, String)>, reason: &str) {
    headers.retain(|(n, _)| n != DEAD_REASON_HEADER);
    headers.push((DEAD_REASON_HEADER.to_owned(), reason.to_owned()));
}

/// AMQP short strings (exchange, routing key, message id, header names) hold at most
/// 255 bytes; both transports refuse longer ones alike.
pub(crate) fn check_short(field: &str, value: &str) -> Result<(), QueueError> {
    if value.len() > 255 {
        return Err(QueueError::InvalidMessage(format!(
            "{field} is {} bytes long; AMQP allows at most 255",
            value.len()
        )));
    }
    Ok(())
}

/// Checks every short string of an outgoing message.
pub(crate) fn check_outgoing(message: &OutgoingMessage) -> Result<(), QueueError> {
    check_short("the exchange name", &message.exchange)?;
    check_short("the routing key", &message.routing_key)?;
    check_short("the message id", &message.message_id)?;
    for (name, _) in &message.headers {
        check_short("a header name", name)?;
    }
    Ok(())
}

/// The agency a task message is for, from its routing key, for `publish_delayed`.
pub(crate) fn delayed_agency(message: &OutgoingMessage) -> Result<Agency, QueueError> {
    if message.exchange != crate::TASKS_EXCHANGE {
        return Err(QueueError::InvalidMessage(format!(
            "publish_delayed sends tasks back to `{}`, not to `{}`",
            crate::TASKS_EXCHANGE,
            message.exchange
        )));
    }
    message
        .routing_key
        .parse()
        .map_err(|e: rabt_core::UnknownAgency| QueueError::InvalidMessage(e.to_string()))
}
