//! Behaviour both transports share, run once against the embedded broker and once
//! against RabbitMQ (each in a fresh vhost).

use std::collections::BTreeSet;
use std::time::Duration;

use rabt_core::Agency;
use rabt_queue::{Consumer, Delivery, OutgoingMessage, QueueError, Transport};
use rabt_test_support::must::{eventually, within};

/// Runs each scenario on both transports.
macro_rules! on_both_transports {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use crate::support::{Fixture, test_settings};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let fixture = Fixture::embedded(test_settings());
                super::$scenario(&fixture.transport).await;
                fixture.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn amqp() {
                let fixture = Fixture::amqp(test_settings()).await;
                super::$scenario(&fixture.transport).await;
                fixture.finish().await;
            }
        }
    )*};
}

on_both_transports!(
    publish_consume_ack,
    batch_of_a_thousand_is_confirmed,
    unroutable_is_an_error,
    requeue_past_the_delivery_limit_dead_letters,
    dead_letter_keeps_the_reason_and_headers,
    dropped_delivery_comes_back_redelivered,
    delayed_message_comes_back_with_its_headers,
    events_follow_topic_bindings,
    close_ends_consumers_and_publishing,
);

async fn next(consumer: &mut Consumer) -> Delivery {
    within("the next delivery", consumer.next())
        .await
        .expect("the consumer ended")
}

fn task(agency: Agency, id: &str) -> OutgoingMessage {
    OutgoingMessage::task(agency, id, format!(r#"{{"id":"{id}"}}"#).into_bytes())
}

async fn publish_consume_ack(t: &Transport) {
    let mut consumer = t.consume(Agency::Interior, 10).await.unwrap();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let message = task(Agency::Interior, "m-1").with_header("traceparent", traceparent);
    t.publish(&[message]).await.unwrap();

    let delivery = next(&mut consumer).await;
    assert_eq!(delivery.body(), br#"{"id":"m-1"}"#);
    assert_eq!(delivery.message_id(), Some("m-1"));
    assert_eq!(delivery.header("traceparent"), Some(traceparent));
    assert_eq!(delivery.agency(), Agency::Interior);
    assert!(!delivery.redelivered());
    assert_eq!(delivery.delivery_count(), 0);
    assert_eq!(delivery.dead_reason(), None);
    delivery.ack().await.unwrap();

    // Acked means gone: a new consumer gets the next message, not m-1 again.
    drop(consumer);
    let mut consumer = t.consume(Agency::Interior, 10).await.unwrap();
    t.publish(&[task(Agency::Interior, "m-2")]).await.unwrap();
    let delivery = next(&mut consumer).await;
    assert_eq!(delivery.message_id(), Some("m-2"));
    delivery.ack().await.unwrap();
}

async fn batch_of_a_thousand_is_confirmed(t: &Transport) {
    let mut consumer = t.consume(Agency::Labor, 200).await.unwrap();
    let batch: Vec<OutgoingMessage> = (0..1_000)
        .map(|i| task(Agency::Labor, &format!("b-{i:04}")))
        .collect();
    within("publishing 1,000", t.publish(&batch)).await.unwrap();

    let mut seen = BTreeSet::new();
    while seen.len() < 1_000 {
        let delivery = next(&mut consumer).await;
        seen.insert(delivery.message_id().unwrap().to_owned());
        delivery.ack().await.unwrap();
    }
    let expected: BTreeSet<String> = batch.iter().map(|m| m.message_id.clone()).collect();
    assert_eq!(seen, expected);
    let depth = t.depth(Agency::Labor).await.unwrap();
    assert_eq!(depth.ready, 0);
}

async fn unroutable_is_an_error(t: &Transport) {
    let mut consumer = t.consume(Agency::Health, 10).await.unwrap();
    let mut lost = task(Agency::Health, "lost");
    lost.routing_key = "no-such-agency".to_owned();
    let error = t
        .publish(&[task(Agency::Health, "fine"), lost])
        .await
        .unwrap_err();
    match error {
        QueueError::Unroutable {
            message_id,
            routing_key,
            ..
        } => {
            assert_eq!(message_id, "lost");
            assert_eq!(routing_key, "no-such-agency");
        }
        other => panic!("expected Unroutable, got {other:?}"),
    }
    // The routable message of the batch was delivered all the same.
    let delivery = next(&mut consumer).await;
    assert_eq!(delivery.message_id(), Some("fine"));
    delivery.ack().await.unwrap();

    // Events are hints: nobody listening is not an error.
    let event = OutgoingMessage::event("request.completed.coop_x", "e-1", b"{}".to_vec());
    t.publish(&[event]).await.unwrap();
}

async fn requeue_past_the_delivery_limit_dead_letters(t: &Transport) {
    // test_settings: delivery limit 2, so the message is delivered three times.
    let mut consumer = t.consume(Agency::Chambers, 10).await.unwrap();
    t.publish(&[task(Agency::Chambers, "poison")])
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let delivery = next(&mut consumer).await;
        assert_eq!(delivery.message_id(), Some("poison"));
        seen.push((delivery.redelivered(), delivery.delivery_count()));
        delivery.requeue().await.unwrap();
    }
    assert_eq!(seen, vec![(false, 0), (true, 1), (true, 2)]);

    let mut dead = t.consume_dead_letters(Agency::Chambers, 10).await.unwrap();
    let buried = next(&mut dead).await;
    assert_eq!(buried.message_id(), Some("poison"));
    assert_eq!(buried.body(), br#"{"id":"poison"}"#);
    assert_eq!(
        buried.dead_reason(),
        Some(rabt_queue::DELIVERY_LIMIT_REASON)
    );
    buried.ack().await.unwrap();
    let depth = t.depth(Agency::Chambers).await.unwrap();
    assert_eq!((depth.ready, depth.dead), (0, 0));
}

async fn dead_letter_keeps_the_reason_and_headers(t: &Transport) {
    let mut consumer = t.consume(Agency::Municipal, 10).await.unwrap();
    let message = task(Agency::Municipal, "bad-input").with_header("x-rabt-attempt", "3");
    t.publish(&[message]).await.unwrap();
    let reason = "the agency answered 400: licence number malformed";
    next(&mut consumer).await.dead_letter(reason).await.unwrap();

    let depth = eventually("the dead letter counted", || async {
        t.depth(Agency::Municipal)
            .await
            .ok()
            .filter(|d| d.dead == 1)
    })
    .await;
    assert_eq!(depth.ready, 0);
    let mut dead = t.consume_dead_letters(Agency::Municipal, 10).await.unwrap();
    let buried = next(&mut dead).await;
    assert_eq!(buried.message_id(), Some("bad-input"));
    assert_eq!(buried.dead_reason(), Some(reason));
    assert_eq!(buried.header(rabt_queue::DEAD_REASON_HEADER), Some(reason));
    assert_eq!(buried.header("x-rabt-attempt"), Some("3"));
    assert_eq!(buried.body(), br#"{"id":"bad-input"}"#);
    buried.ack().await.unwrap();
}

async fn dropped_delivery_comes_back_redelivered(t: &Transport) {
    let mut consumer = t.consume(Agency::SaudiPost, 10).await.unwrap();
    t.publish(&[task(Agency::SaudiPost, "crash")])
        .await
        .unwrap();
    let first = next(&mut consumer).await;
    assert!(!first.redelivered());
    drop(first); // as if the worker crashed mid-task
    let again = next(&mut consumer).await;
    assert_eq!(again.message_id(), Some("crash"));
    assert!(again.redelivered());
    assert_eq!(again.delivery_count(), 1);
    again.ack().await.unwrap();
}

async fn delayed_message_comes_back_with_its_headers(t: &Transport) {
    let mut consumer = t.consume(Agency::Labor, 10).await.unwrap();
    let message = task(Agency::Labor, "retry-me")
        .with_header("x-rabt-attempt", "2")
        .with_header("x-rabt-first-failure", "2026-11-28T10:00:00Z")
        .with_header("traceparent", "00-aaaa-bbbb-01");
    // 100 ms rounds up to the 300 ms tier.
    t.publish_delayed(&message, Duration::from_millis(100))
        .await
        .unwrap();
    let back = next(&mut consumer).await;
    assert_eq!(back.message_id(), Some("retry-me"));
    assert_eq!(back.body(), br#"{"id":"retry-me"}"#);
    assert_eq!(back.header("x-rabt-attempt"), Some("2"));
    assert_eq!(
        back.header("x-rabt-first-failure"),
        Some("2026-11-28T10:00:00Z")
    );
    assert_eq!(back.header("traceparent"), Some("00-aaaa-bbbb-01"));
    assert_eq!(back.delivery_count(), 0, "a new stint in the task queue");
    back.ack().await.unwrap();

    let mut not_a_task = message.clone();
    not_a_task.routing_key = "nowhere".to_owned();
    let error = t
        .publish_delayed(&not_a_task, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(error, QueueError::InvalidMessage(_)), "{error:?}");
}

async fn events_follow_topic_bindings(t: &Transport) {
    let mut completed = t.subscribe_events("request.completed.*").await.unwrap();
    let mut requests = t.subscribe_events("request.#").await.unwrap();
    let mut tasks = t.subscribe_events("task.*").await.unwrap();
    let event = |key: &str, body: &str| OutgoingMessage::event(key, body, body.as_bytes().to_vec());
    t.publish(&[
        event("request.completed.coop_1", "e1"),
        event("task.done", "e2"),
    ])
    .await
    .unwrap();

    let got = |body: Option<Vec<u8>>| String::from_utf8(body.expect("subscription ended")).unwrap();
    assert_eq!(got(within("event", completed.next()).await), "e1");
    assert_eq!(got(within("event", requests.next()).await), "e1");
    // The first thing `task.*` sees is e2: it never got e1.
    assert_eq!(got(within("event", tasks.next()).await), "e2");

    t.close().await;
    assert_eq!(within("end of events", completed.next()).await, None);
}

async fn close_ends_consumers_and_publishing(t: &Transport) {
    let mut consumer = t.consume(Agency::Interior, 10).await.unwrap();
    assert!(t.is_ready());
    t.close().await;
    assert!(within("end of deliveries", consumer.next()).await.is_none());
    let error = t
        .publish(&[task(Agency::Interior, "late")])
        .await
        .unwrap_err();
    assert!(matches!(error, QueueError::Closed), "{error:?}");
    assert!(matches!(
        t.consume(Agency::Interior, 1).await,
        Err(QueueError::Closed)
    ));
}
