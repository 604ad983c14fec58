//! The one error type of this crate.

use std::time::Duration;

/// Why a queue operation failed.
///
/// The variants a caller acts on are distinct: [`QueueError::NotConnected`],
/// [`QueueError::Blocked`] and [`QueueError::Timeout`] mean "keep the message (the outbox
/// does) and try again later"; [`QueueError::Unroutable`] and [`QueueError::Nacked`] mean
/// the broker did not take the message; [`QueueError::StaleDelivery`] means the delivery's
/// connection is gone and the broker redelivers it on its own.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The broker returned a `mandatory` message because no queue is bound for it.
    #[error(
        "message `{message_id}` to exchange `{exchange}` with routing key `{routing_key}` \
         matched no queue and was returned ({reply})"
    )]
    Unroutable {
        /// The message's id.
        message_id: String,
        /// The exchange it was published to.
        exchange: String,
        /// Its routing key.
        routing_key: String,
        /// The broker's reply text (e.g. `NO_ROUTE`).
        reply: String,
    },
    /// The broker refused the message (a publisher-confirm `nack`).
    #[error("the broker refused message `{message_id}` (publisher confirm nack)")]
    Nacked {
        /// The message's id.
        message_id: String,
    },
    /// The broker did not confirm the message although confirms were on.
    #[error("the broker did not confirm message `{message_id}`")]
    Unconfirmed {
        /// The message's id.
        message_id: String,
    },
    /// No connection to the broker right now; the reconnect loop is working on it.
    #[error("not connected to RabbitMQ (reconnecting); keep the message and retry later")]
    NotConnected,
    /// The broker blocked publishing on this connection (a memory or disk alarm).
    #[error("RabbitMQ blocks publishing on this connection (resource alarm); retry later")]
    Blocked,
    /// An operation did not finish within its bound.
    #[error("{operation} did not finish within {after:?}")]
    Timeout {
        /// What timed out.
        operation: &'static str,
        /// The bound.
        after: Duration,
    },
    /// The transport was closed with [`crate::Transport::close`].
    #[error("the transport is closed")]
    Closed,
    /// The delivery came on a channel or connection that has since closed: it cannot be
    /// settled any more, and the broker delivers the message again.
    #[error(
        "the delivery's channel or connection has closed; the broker will redeliver the message"
    )]
    StaleDelivery,
    /// The settings cannot work (e.g. a zero heartbeat).
    #[error("invalid queue settings: {0}")]
    InvalidSettings(String),
    /// The message cannot be sent as it is (e.g. a routing key longer than 255 bytes).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The AMQP URL does not parse. The URL itself is never shown: it may hold a password.
    #[error("invalid AMQP URL: {0}")]
    InvalidUrl(String),
    /// Declaring part of the topology failed, e.g. because a queue already exists with
    /// other arguments (RabbitMQ's `PRECONDITION_FAILED`).
    #[error("could not declare {object}")]
    Topology {
        /// The exchange, queue or binding.
        object: String,
        /// What the broker or client said.
        #[source]
        source: lapin::Error,
    },
    /// Any other AMQP client or protocol error.
    #[error("AMQP error")]
    Protocol(#[from] lapin::Error),
}

impl QueueError {
    /// True when retrying the same operation later can succeed without any change on
    /// our side (the connection comes back, the alarm clears, the broker catches up).
    pub fn is_transient(&self) -> bool {
        match self {
            QueueError::NotConnected
            | QueueError::Blocked
            | QueueError::Timeout { .. }
            | QueueError::StaleDelivery
            | QueueError::Unconfirmed { .. }
            | QueueError::Nacked { .. }
            | QueueError::Protocol(_) => true,
            QueueError::Unroutable { .. }
            | QueueError::Closed
            | QueueError::InvalidSettings(_)
            | QueueError::InvalidMessage(_)
            | QueueError::InvalidUrl(_)
            | QueueError::Topology { .. } => false,
        }
    }
}
