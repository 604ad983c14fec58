//! Publishing with publisher confirms and `mandatory`: a whole batch is pipelined on
//! one confirm channel and then every confirm is awaited (waiting per message costs
//! 15× in throughput on these machines, FACTS.md).
//! <https://www.rabbitmq.com/docs/confirms#publisher-confirms>

use std::time::{SystemTime, UNIX_EPOCH};

use lapin::message::BasicReturnMessage;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation};
use tokio::time::Instant;

use super::Shared;
use super::headers::to_table;
use super::session::Session;
use crate::error::QueueError;
use crate::message::{OutgoingMessage, check_outgoing};
use crate::names::{CONTENT_TYPE, EVENTS_EXCHANGE};

/// A message turned into what `basic.publish` takes.
pub(crate) struct Prepared {
    pub(crate) exchange: ShortString,
    pub(crate) routing_key: ShortString,
    pub(crate) message_id: String,
    pub(crate) body: Vec<u8>,
    pub(crate) properties: BasicProperties,
    pub(crate) mandatory: bool,
}

/// AMQP delivery mode 2: the broker writes the message to disk, so it survives a
/// restart (quorum queues always do; the flag also covers any classic queue).
const PERSISTENT: u8 = 2;

/// Checks and converts one outgoing message.
pub(crate) fn prepare(message: &OutgoingMessage) -> Result<Prepared, QueueError> {
    check_outgoing(message)?;
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let properties = BasicProperties::default()
        .with_message_id(message.message_id.as_str().into())
        .with_content_type(CONTENT_TYPE.into())
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(timestamp)
        .with_headers(to_table(&message.headers));
    Ok(Prepared {
        exchange: message.exchange.as_str().into(),
        routing_key: message.routing_key.as_str().into(),
        message_id: message.message_id.clone(),
        body: message.body.clone(),
        properties,
        // `mandatory` makes the broker return a message no queue takes; without it an
        // unroutable message is silently dropped and still confirmed. Events are the
        // exception: they are hints, and nobody listening is normal.
        mandatory: message.exchange != EVENTS_EXCHANGE,
    })
}

/// Publishes a batch; `Ok` only when every message was confirmed and routed.
pub(crate) async fn publish(shared: &Shared, batch: &[Prepared]) -> Result<(), QueueError> {
    if batch.is_empty() {
        return Ok(());
    }
    let session = shared.live_session()?;
    if session.connection.status().blocked() {
        // A blocked connection would hold the batch until the alarm clears: fail fast
        // and let the outbox keep it.
        return Err(QueueError::Blocked);
    }
    let bound = shared.settings.publish_timeout;
    let deadline = Instant::now() + bound;
    let timeout = |operation| QueueError::Timeout {
        operation,
        after: bound,
    };
    let mut slot = tokio::time::timeout_at(deadline, session.publisher())
        .await
        .map_err(|_| timeout("waiting for a publisher channel"))?;
    let outcome = tokio::time::timeout_at(deadline, publish_on(&session, &mut slot, batch)).await;
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(
            error @ (QueueError::Unroutable { .. }
            | QueueError::Nacked { .. }
            | QueueError::Unconfirmed { .. }),
        )) => Err(error),
        Ok(Err(error)) => {
            // The channel may be closed or in doubt: the next batch opens a fresh one.
            *slot = None;
            if session.is_alive() {
                Err(error)
            } else {
                Err(QueueError::NotConnected)
            }
        }
        Err(_) => {
            // Late confirms of this batch must not be read as the next batch's.
            *slot = None;
            Err(timeout("publishing with confirms"))
        }
    }
}

async fn publish_on(
    session: &Session,
    slot: &mut Option<Channel>,
    batch: &[Prepared],
) -> Result<(), QueueError> {
    let channel = match slot {
        Some(channel) if channel.status().connected() => channel.clone(),
        _ => {
            let channel = session.connection.create_channel().await?;
            // Confirm mode: the broker acks each message once it has taken
            // responsibility for it (for a quorum queue, once a majority has it).
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            *slot = Some(channel.clone());
            channel
        }
    };
    let mut confirms = Vec::with_capacity(batch.len());
    for message in batch {
        let options = BasicPublishOptions {
            mandatory: message.mandatory,
            immediate: false,
        };
        let confirm = channel
            .basic_publish(
                message.exchange.clone(),
                message.routing_key.clone(),
                options,
                &message.body,
                message.properties.clone(),
            )
            .await?;
        confirms.push(confirm);
    }
    // Await every confirm, even after a failure, so none of this batch's is left over.
    let mut first_error = None;
    for (message, confirm) in batch.iter().zip(confirms) {
        let verdict = match confirm.await? {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(unroutable(&returned)),
            Confirmation::Nack(_) => Err(QueueError::Nacked {
                message_id: message.message_id.clone(),
            }),
            Confirmation::NotRequested => Err(QueueError::Unconfirmed {
                message_id: message.message_id.clone(),
            }),
        };
        if let Err(error) = verdict {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The error for a returned message, named from the message itself: with multiple
/// acks lapin may attach a return to another confirm of the same batch.
fn unroutable(returned: &BasicReturnMessage) -> QueueError {
    QueueError::Unroutable {
        message_id: returned
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string())
            // `publish` sets every message's id; a return without one is no message of
            // ours, and the error says so with an empty id.
            .unwrap_or_default(),
        exchange: returned.delivery.exchange.to_string(),
        routing_key: returned.delivery.routing_key.to_string(),
        reply: returned.reply_text.to_string(),
    }
}
