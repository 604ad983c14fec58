//! Turning a lapin delivery into ours, and settling it on the channel it came from.

use std::sync::Arc;

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Acker, BasicProperties, Channel};
use rabt_core::Agency;

use super::Shared;
use super::headers::{delivery_count, from_table, last_death_reason};
use super::publish::{self, Prepared};
use crate::error::QueueError;
use crate::message::{Delivery, Received, Settle};
use crate::names::{DEAD_EXCHANGE, DEAD_REASON_HEADER, DELIVERY_COUNT_HEADER};

/// Where a delivery came from: which connection, which channel, which agency.
pub(crate) struct Origin<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) generation: u64,
    pub(crate) channel: &'a Channel,
    pub(crate) agency: Agency,
    /// True when read from `rabt.dead.<agency>`.
    pub(crate) dead_letters: bool,
}

/// Our delivery for a lapin delivery.
pub(crate) fn delivery(origin: Origin<'_>, delivery: lapin::message::Delivery) -> Delivery {
    let table = delivery.properties.headers().as_ref();
    let headers = from_table(table);
    let dead_reason = if origin.dead_letters {
        headers
            .iter()
            .find(|(name, _)| name == DEAD_REASON_HEADER)
            .map(|(_, value)| value.clone())
            .or_else(|| last_death_reason(table))
    } else {
        None
    };
    let received = Received {
        message_id: delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string()),
        delivery_count: delivery_count(table),
        redelivered: delivery.redelivered,
        agency: origin.agency,
        headers,
        dead_reason,
        body: delivery.data,
    };
    let settle = AmqpSettle {
        shared: Arc::clone(origin.shared),
        generation: origin.generation,
        agency: origin.agency,
        acker: delivery.acker,
        _channel: origin.channel.clone(),
        properties: delivery.properties,
        settled: false,
    };
    Delivery {
        received,
        settle: Settle::Amqp(Box::new(settle)),
    }
}

/// The AMQP side of a [`Delivery`].
pub(crate) struct AmqpSettle {
    shared: Arc<Shared>,
    generation: u64,
    agency: Agency,
    /// Bound to the delivery's own connection and channel: a delivery tag is only ever
    /// sent back where it came from.
    acker: Acker,
    /// Keeps the consumer channel open until this delivery is settled, even after its
    /// consumer is dropped (closing the channel would requeue it).
    _channel: Channel,
    properties: BasicProperties,
    settled: bool,
}

impl AmqpSettle {
    /// True while the delivery's connection is the transport's current one and its
    /// channel is open, i.e. settling it can work.
    pub(crate) fn is_current(&self) -> bool {
        self.acker.usable()
            && self
                .shared
                .current()
                .is_some_and(|s| s.generation == self.generation && s.is_alive())
    }

    fn ensure_current(&self) -> Result<(), QueueError> {
        if self.is_current() {
            Ok(())
        } else if self.shared.shutdown.is_cancelled() {
            Err(QueueError::Closed)
        } else {
            Err(QueueError::StaleDelivery)
        }
    }

    pub(crate) async fn ack(mut self) -> Result<(), QueueError> {
        self.ensure_current()?;
        self.settled = true;
        let acked = self.acker.ack(BasicAckOptions::default()).await;
        self.outcome(acked)
    }

    pub(crate) async fn requeue(mut self) -> Result<(), QueueError> {
        self.ensure_current()?;
        self.settled = true;
        let nacked = self.acker.nack(requeue()).await;
        self.outcome(nacked)
    }

    /// Publishes a copy to `rabt.dead` (confirmed), then acks the original. If the copy
    /// is not confirmed the original is handed back when `self` drops.
    pub(crate) async fn dead_letter(
        mut self,
        received: Received,
        reason: &str,
    ) -> Result<(), QueueError> {
        self.ensure_current()?;
        let copy = Prepared {
            exchange: DEAD_EXCHANGE.into(),
            routing_key: self.agency.as_str().into(),
            // A message someone else published may carry no id: its dead copy gets an
            // empty one rather than a refusal, since a poison message must still leave.
            message_id: received.message_id.unwrap_or_default(),
            body: received.body,
            properties: self
                .properties
                .clone()
                .with_headers(dead_headers(self.properties.headers().as_ref(), reason)),
            mandatory: true,
        };
        publish::publish(&self.shared, &[copy]).await?;
        self.settled = true;
        let acked = self.acker.ack(BasicAckOptions::default()).await;
        self.outcome(acked)
    }

    /// lapin answers `Ok(false)` for an acker whose channel is gone.
    fn outcome(&self, result: lapin::Result<bool>) -> Result<(), QueueError> {
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(QueueError::StaleDelivery),
            Err(_) if !self.is_current() => Err(QueueError::StaleDelivery),
            Err(error) => Err(QueueError::Protocol(error)),
        }
    }
}

/// The original headers (the `x-death` history included) with the reason added; the
/// delivery count is dropped, as the dead-letter queue keeps its own.
fn dead_headers(original: Option<&FieldTable>, reason: &str) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in original.map(FieldTable::inner).into_iter().flatten() {
        if name.as_str() != DELIVERY_COUNT_HEADER && name.as_str() != DEAD_REASON_HEADER {
            table.insert(name.clone(), value.clone());
        }
    }
    table.insert(
        DEAD_REASON_HEADER.into(),
        AMQPValue::LongString(LongString::from(reason)),
    );
    table
}

fn requeue() -> BasicNackOptions {
    BasicNackOptions {
        multiple: false,
        requeue: true,
    }
}

impl Drop for AmqpSettle {
    fn drop(&mut self) {
        if self.settled || !self.acker.usable() {
            return;
        }
        // Dropped unsettled: hand it back now rather than holding a prefetch slot until
        // the channel closes. Without a runtime, the channel's closing does it later.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let acker = self.acker.clone();
            runtime.spawn(async move {
                if let Err(error) = acker.nack(requeue()).await {
                    tracing::debug!(error = %error, "requeueing a dropped delivery failed");
                }
            });
        }
    }
}
