//! What only the embedded broker has: prefetch without a broker, inspectable dead
//! letters.

use futures_util::FutureExt;
use rabt_core::Agency;
use rabt_queue::{OutgoingMessage, QueueError, Transport};
use rabt_test_support::must::within;

use crate::support::test_settings;

fn task(agency: Agency, id: &str) -> OutgoingMessage {
    OutgoingMessage::task(agency, id, b"{}".to_vec())
}

#[tokio::test]
async fn prefetch_limits_unacked_deliveries() {
    let t = Transport::embedded(test_settings());
    let mut consumer = t.consume(Agency::Health, 2).await.unwrap();
    let batch: Vec<_> = (0..3)
        .map(|i| task(Agency::Health, &format!("p-{i}")))
        .collect();
    t.publish(&batch).await.unwrap();

    let first = consumer.next().now_or_never().flatten().expect("first");
    let _second = consumer.next().now_or_never().flatten().expect("second");
    // A third message is ready, but two are unsettled: nothing more until one is.
    assert!(consumer.next().now_or_never().is_none());
    first.ack().await.unwrap();
    let third = within("the third", consumer.next()).await.unwrap();
    assert_eq!(third.message_id(), Some("p-2"));
}

#[tokio::test]
async fn dead_letters_are_inspectable_in_place() {
    let t = Transport::embedded(test_settings());
    let mut consumer = t.consume(Agency::Interior, 1).await.unwrap();
    t.publish(&[task(Agency::Interior, "d-1").with_header("x-rabt-attempt", "5")])
        .await
        .unwrap();
    let delivery = within("delivery", consumer.next()).await.unwrap();
    delivery.dead_letter("attempts exhausted").await.unwrap();

    let dead = t
        .dead_letters(Agency::Interior)
        .expect("embedded keeps them");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, "d-1");
    assert_eq!(dead[0].reason, "attempts exhausted");
    assert!(
        dead[0]
            .headers
            .contains(&("x-rabt-attempt".to_owned(), "5".to_owned()))
    );
    // Peeking leaves them in place.
    assert_eq!(t.depth(Agency::Interior).await.unwrap().dead, 1);
}

#[tokio::test]
async fn unknown_exchanges_are_unroutable() {
    let t = Transport::embedded(test_settings());
    let mut message = task(Agency::Labor, "x");
    message.exchange = "amq.nothing".to_owned();
    let error = t.publish(&[message]).await.unwrap_err();
    assert!(matches!(error, QueueError::Unroutable { .. }), "{error:?}");
}

#[tokio::test]
async fn overlong_routing_keys_are_refused_alike() {
    let t = Transport::embedded(test_settings());
    let mut message = task(Agency::Labor, "x");
    message.routing_key = "k".repeat(256);
    let error = t.publish(&[message]).await.unwrap_err();
    assert!(matches!(error, QueueError::InvalidMessage(_)), "{error:?}");
}
