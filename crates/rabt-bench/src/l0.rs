//! L0, the physical limit: what RabbitMQ and lapin do on this machine with nothing of
//! Rabt in between. The same persistent message is published to a fresh quorum queue
//! with publisher confirms and a deep confirm window, then consumed with manual acks
//! under a prefetch, as Rabt's relay and workers do; msgs/s of each phase.

use std::collections::VecDeque;
use std::time::Instant;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};
use crate::procs::{Meter, Usage, Watch};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The broker (`amqp://…/vhost`).
    pub amqp_url: String,
    /// Messages per run.
    pub messages: u32,
    /// Bytes per message.
    pub size: usize,
    /// Publisher confirms awaited at most this late (messages in flight).
    pub window: usize,
    /// The consumer's prefetch.
    pub prefetch: u16,
    /// Runs; the median is reported.
    pub runs: u32,
}

/// One run's rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Confirmed messages per second.
    pub publish_per_s: f64,
    /// Consumed and acked messages per second.
    pub consume_per_s: f64,
}

/// L0's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Result0 {
    /// Messages per run.
    pub messages: u32,
    /// Bytes per message.
    pub size: usize,
    /// The confirm window.
    pub window: usize,
    /// The consumer's prefetch.
    pub prefetch: u16,
    /// Every run.
    pub runs: Vec<Run>,
    /// The median publish rate.
    pub publish_per_s: f64,
    /// The median consume rate.
    pub consume_per_s: f64,
    /// Who used the machine while publishing (all runs).
    pub publish_usage: Usage,
    /// Who used the machine while consuming (all runs).
    pub consume_usage: Usage,
}

/// Runs L0 `plan.runs` times against the broker, each on a fresh quorum queue deleted
/// afterwards.
pub async fn measure(plan: &Plan, watches: &[Watch]) -> Result<Result0> {
    if plan.messages == 0 || plan.window == 0 || plan.runs == 0 {
        return Err(BenchError::invalid(
            "L0 plan",
            "messages, window and runs must be positive",
        ));
    }
    let connection = Connection::connect(&plan.amqp_url, ConnectionProperties::default()).await?;
    let mut runs = Vec::new();
    let mut publish_usage = Usage::default();
    let mut consume_usage = Usage::default();
    for _ in 0..plan.runs {
        let queue = format!("rabt-bench.l0.{:016x}", rand::random::<u64>());
        declare(&connection, &queue).await?;
        let meter = Meter::start(watches);
        let publish_per_s = publish(&connection, &queue, plan).await?;
        publish_usage.merge(&meter.finish());
        let meter = Meter::start(watches);
        let consume_per_s = consume(&connection, &queue, plan).await?;
        consume_usage.merge(&meter.finish());
        let channel = connection.create_channel().await?;
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
        runs.push(Run {
            publish_per_s,
            consume_per_s,
        });
    }
    let _ = connection.close(200, "done".into()).await;
    Ok(Result0 {
        messages: plan.messages,
        size: plan.size,
        window: plan.window,
        prefetch: plan.prefetch,
        publish_per_s: median(runs.iter().map(|r| r.publish_per_s).collect()),
        consume_per_s: median(runs.iter().map(|r| r.consume_per_s).collect()),
        runs,
        publish_usage,
        consume_usage,
    })
}

/// A durable quorum queue, as Rabt's task queues are.
async fn declare(connection: &Connection, queue: &str) -> Result<()> {
    let channel = connection.create_channel().await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue.into(), options, arguments)
        .await?;
    Ok(())
}

/// Publishes `plan.messages` persistent, mandatory messages, keeping at most
/// `plan.window` confirms outstanding; msgs/s until the last confirm.
async fn publish(connection: &Connection, queue: &str, plan: &Plan) -> Result<f64> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let body = vec![b'x'; plan.size];
    // Persistent (delivery mode 2), as Rabt publishes its tasks.
    let properties = BasicProperties::default().with_delivery_mode(2);
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let mut in_flight = VecDeque::with_capacity(plan.window);
    let started = Instant::now();
    for _ in 0..plan.messages {
        if in_flight.len() >= plan.window
            && let Some(confirm) = in_flight.pop_front()
        {
            confirmed(confirm).await?;
        }
        let confirm = channel
            .basic_publish("".into(), queue.into(), options, &body, properties.clone())
            .await?;
        in_flight.push_back(confirm);
    }
    for confirm in in_flight {
        confirmed(confirm).await?;
    }
    Ok(f64::from(plan.messages) / started.elapsed().as_secs_f64())
}

async fn confirmed(confirm: lapin::PublisherConfirm) -> Result<()> {
    match confirm.await? {
        Confirmation::Ack(None) => Ok(()),
        other => Err(BenchError::Tool {
            program: "RabbitMQ".to_owned(),
            detail: format!("a publish was not confirmed: {other:?}"),
        }),
    }
}

/// Consumes `plan.messages` with manual acks (one per message, as Rabt's workers ack)
/// under `plan.prefetch`; msgs/s until the last ack was sent.
async fn consume(connection: &Connection, queue: &str, plan: &Plan) -> Result<f64> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(plan.prefetch, BasicQosOptions { global: false })
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "rabt-bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let started = Instant::now();
    let mut received = 0u32;
    while received < plan.messages {
        let Some(delivery) = consumer.next().await else {
            return Err(BenchError::Tool {
                program: "RabbitMQ".to_owned(),
                detail: format!("the consumer ended after {received} messages"),
            });
        };
        delivery?.ack(BasicAckOptions::default()).await?;
        received += 1;
    }
    let rate = f64::from(plan.messages) / started.elapsed().as_secs_f64();
    let _ = channel.close(200, "done".into()).await;
    Ok(rate)
}

/// The median of some numbers (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    /// Against the real broker of the test suite, in a fresh vhost (a few hundred
    /// messages: it checks the harness works, not how fast).
    #[tokio::test]
    async fn publishes_and_consumes_on_a_real_broker() {
        let vhost = rabt_test_support::TempVhost::create("rabt-bench-l0-")
            .await
            .unwrap();
        let plan = Plan {
            amqp_url: vhost.amqp_url.clone(),
            messages: 300,
            size: 1024,
            window: 100,
            prefetch: 50,
            runs: 1,
        };
        let result = measure(&plan, &[]).await.unwrap();
        assert_eq!(result.runs.len(), 1);
        assert!(result.publish_per_s > 0.0 && result.consume_per_s > 0.0);
        assert!(
            result
                .publish_usage
                .groups
                .iter()
                .any(|g| g.name == "loadgen")
        );
    }
}
