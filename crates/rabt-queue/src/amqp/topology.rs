//! Declaring Rabt's exchanges and queues. Every declaration is idempotent (same name,
//! same arguments), so it runs at every (re)connect and whenever a consumer re-opens:
//! a queue deleted by hand comes back, and a fresh broker needs no setup.
//!
//! See <https://www.rabbitmq.com/docs/quorum-queues> and
//! <https://www.rabbitmq.com/docs/dlx> for the arguments below.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};
use rabt_core::Agency;

use crate::error::QueueError;
use crate::names::{
    DEAD_EXCHANGE, EVENTS_EXCHANGE, TASKS_EXCHANGE, dead_queue, retry_queue, task_queue,
};
use crate::settings::Settings;

/// Declares the three exchanges and every agency's queues.
pub(crate) async fn declare_all(channel: &Channel, settings: &Settings) -> Result<(), QueueError> {
    declare_exchanges(channel).await?;
    for agency in Agency::ALL {
        declare_agency(channel, agency, settings).await?;
    }
    Ok(())
}

/// Declares `rabt.tasks` (direct), `rabt.dead` (direct) and `rabt.events` (topic).
pub(crate) async fn declare_exchanges(channel: &Channel) -> Result<(), QueueError> {
    for (name, kind) in [
        (TASKS_EXCHANGE, ExchangeKind::Direct),
        (DEAD_EXCHANGE, ExchangeKind::Direct),
        (EVENTS_EXCHANGE, ExchangeKind::Topic),
    ] {
        let options = ExchangeDeclareOptions {
            // Durable: the exchange outlives a broker restart, as its queues do.
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(name.into(), kind, options, FieldTable::default())
            .await
            .map_err(|source| topology_error(format!("exchange `{name}`"), source))?;
    }
    Ok(())
}

/// Declares one agency's task queue, dead-letter queue and retry-tier queues, with
/// their bindings.
pub(crate) async fn declare_agency(
    channel: &Channel,
    agency: Agency,
    settings: &Settings,
) -> Result<(), QueueError> {
    // The dead-letter queue first, so nothing dead-lettered ever lacks a home.
    let dead = dead_queue(agency);
    declare_queue(channel, &dead, quorum(settings)).await?;
    bind(channel, &dead, DEAD_EXCHANGE, agency.as_str()).await?;

    let tasks = task_queue(agency);
    declare_queue(channel, &tasks, task_queue_arguments(agency, settings)).await?;
    bind(channel, &tasks, TASKS_EXCHANGE, agency.as_str()).await?;

    for tier in &settings.retry_tiers {
        let name = retry_queue(agency, *tier);
        // No binding: publish_delayed publishes to it by name through the default
        // exchange, which every queue is bound to.
        declare_queue(
            channel,
            &name,
            retry_queue_arguments(agency, *tier, settings),
        )
        .await?;
    }
    Ok(())
}

/// The arguments of `rabt.tasks.<agency>`.
fn task_queue_arguments(agency: Agency, settings: &Settings) -> FieldTable {
    let mut args = quorum(settings);
    // RabbitMQ 3.10 has no default delivery limit: without one a message that crashes
    // its consumer is redelivered for ever. Past the limit it is dead-lettered.
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(settings.delivery_limit)),
    );
    dead_letter_to(&mut args, DEAD_EXCHANGE, agency);
    args
}

/// The arguments of `rabt.retry.<agency>.<tier>`: messages wait out the TTL, then are
/// dead-lettered back to `rabt.tasks` with the agency's routing key. This replaces the
/// delayed-message plugin, which Debian's RabbitMQ does not ship.
fn retry_queue_arguments(agency: Agency, tier: Duration, settings: &Settings) -> FieldTable {
    let mut args = quorum(settings);
    // A queue-wide TTL (not per message): every message in the tier waits the same
    // time, so the head always expires first and none is stuck behind a longer one.
    // https://www.rabbitmq.com/docs/ttl
    let ttl = i64::try_from(tier.as_millis()).unwrap_or(i64::MAX);
    args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
    dead_letter_to(&mut args, TASKS_EXCHANGE, agency);
    args
}

/// A durable, replicated queue.
fn quorum(settings: &Settings) -> FieldTable {
    let mut args = FieldTable::default();
    // Quorum queues replicate with Raft and keep acknowledged messages through node
    // failures and partitions; classic mirrored queues do not (Jepsen).
    args.insert("x-queue-type".into(), long_string("quorum"));
    // How many nodes hold a replica: with 3 of them a queue survives one node's loss
    // (a majority, 2, stays). https://www.rabbitmq.com/docs/quorum-queues#replication-factor
    if let Some(size) = settings.quorum_size {
        args.insert(
            "x-quorum-initial-group-size".into(),
            AMQPValue::LongLongInt(i64::from(size)),
        );
    }
    args
}

/// Dead-letters to `exchange` with the agency as routing key, at least once.
fn dead_letter_to(args: &mut FieldTable, exchange: &str, agency: Agency) {
    args.insert("x-dead-letter-exchange".into(), long_string(exchange));
    // Explicit, so the message lands in the agency's queue whatever key it came with.
    args.insert(
        "x-dead-letter-routing-key".into(),
        long_string(agency.as_str()),
    );
    // The default (at-most-once) drops the message if the target does not take it;
    // at-least-once keeps it until the target queue confirms (3.10+).
    // https://www.rabbitmq.com/blog/2022/03/29/at-least-once-dead-lettering
    args.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    // Required by at-least-once: with the default drop-head overflow the broker falls
    // back to at-most-once.
    args.insert("x-overflow".into(), long_string("reject-publish"));
}

async fn declare_queue(channel: &Channel, name: &str, args: FieldTable) -> Result<(), QueueError> {
    let options = QueueDeclareOptions {
        // Durable: the queue and its persistent messages survive a broker restart.
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), options, args)
        .await
        .map(|_| ())
        .map_err(|source| topology_error(format!("queue `{name}`"), source))
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> Result<(), QueueError> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|source| {
            topology_error(format!("binding `{exchange}` -[{key}]-> `{queue}`"), source)
        })
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn topology_error(object: String, source: lapin::Error) -> QueueError {
    QueueError::Topology { object, source }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn arg<'a>(args: &'a FieldTable, name: &str) -> &'a AMQPValue {
        args.inner().get(name).unwrap()
    }

    #[test]
    fn task_queues_are_quorum_with_a_limit_and_a_dead_letter_exchange() {
        let args = task_queue_arguments(Agency::Labor, &Settings::default());
        assert_eq!(arg(&args, "x-queue-type"), &long_string("quorum"));
        assert_eq!(arg(&args, "x-delivery-limit"), &AMQPValue::LongLongInt(10));
        assert_eq!(
            arg(&args, "x-dead-letter-exchange"),
            &long_string("rabt.dead")
        );
        assert_eq!(
            arg(&args, "x-dead-letter-routing-key"),
            &long_string("labor")
        );
        assert_eq!(
            arg(&args, "x-dead-letter-strategy"),
            &long_string("at-least-once")
        );
        assert_eq!(arg(&args, "x-overflow"), &long_string("reject-publish"));
        assert!(args.inner().get("x-quorum-initial-group-size").is_none());
    }

    #[test]
    fn the_quorum_size_sets_every_queues_replication_group() {
        let settings = Settings {
            quorum_size: Some(3),
            ..Settings::default()
        };
        let three = AMQPValue::LongLongInt(3);
        let task = task_queue_arguments(Agency::Labor, &settings);
        assert_eq!(arg(&task, "x-quorum-initial-group-size"), &three);
        let retry = retry_queue_arguments(Agency::Labor, Duration::from_secs(5), &settings);
        assert_eq!(arg(&retry, "x-quorum-initial-group-size"), &three);
        assert_eq!(
            arg(&quorum(&settings), "x-quorum-initial-group-size"),
            &three
        );
    }

    #[test]
    fn retry_queues_expire_back_to_the_tasks_exchange() {
        let args = retry_queue_arguments(
            Agency::Health,
            Duration::from_secs(30),
            &Settings::default(),
        );
        assert_eq!(arg(&args, "x-message-ttl"), &AMQPValue::LongLongInt(30_000));
        assert_eq!(
            arg(&args, "x-dead-letter-exchange"),
            &long_string("rabt.tasks")
        );
        assert_eq!(
            arg(&args, "x-dead-letter-routing-key"),
            &long_string("health")
        );
    }
}
