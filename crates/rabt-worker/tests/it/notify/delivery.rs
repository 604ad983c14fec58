//! Delivery: signed and delivered, retried after a 5xx with the same webhook-id,
//! rescheduled while the receiver is down, failed when the schedule runs out or the
//! cooperative has no secret.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use rabt_store::{Actor, AuditQuery, NotificationStatus};
use rabt_test_support::Backend;
use rabt_test_support::must::eventually;
use rabt_worker::notify::{REQUEST_COMPLETED, TargetGuard};

use super::{Receiver, Setup, backend_test, verify};

/// Loopback receivers need private targets allowed, as in tests and the demo.
fn open() -> TargetGuard {
    TargetGuard::new(true)
}

async fn a_completed_request_is_notified_signed_once(backend: Backend) {
    let setup = Setup::new(backend).await;
    let receiver = Receiver::start("127.0.0.1", vec![]).await;
    let request = setup
        .completed(&receiver.url("/hooks/rabt?token=t0k3n"))
        .await;
    let notifier = setup.notifier(open(), vec![Duration::from_secs(60)]);

    assert_eq!(notifier.notify_due().await.unwrap(), 1);
    assert_eq!(notifier.notify_due().await.unwrap(), 0, "delivered once");

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    verify(&setup.secret, &received[0]);
    let record = setup.notification(request).await;
    assert_eq!(
        received[0].headers.id,
        record.id.to_string(),
        "webhook-id = notification id"
    );
    let event = received[0].json();
    assert_eq!(event["type"], REQUEST_COMPLETED);
    let data = &event["data"];
    assert_eq!(data["id"], request.to_string());
    assert_eq!(data["service"], "post.address.verify");
    assert_eq!(
        (data["status"].as_str(), data["verdict"].as_str()),
        (Some("COMPLETED"), Some("PASS"))
    );
    assert_eq!(data["reference"], "hq-address");
    assert_eq!(data["links"]["self"], format!("/v1/requests/{request}"));
    assert_eq!(data["completedAt"], event["timestamp"]);
    assert!(
        !event.to_string().contains("RRRD2929"),
        "no input data in the event"
    );

    assert_eq!(record.status, NotificationStatus::Delivered);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.history[0].status_code, Some(204));
    assert!(record.history[0].latency_ms.is_some());
    let audit = setup
        .store
        .audit_log(&AuditQuery {
            request: Some(request),
            action: Some("notification.delivered".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(
        !audit[0].detail.to_string().contains("t0k3n"),
        "no URL in the audit"
    );
}
backend_test!(a_completed_request_is_notified_signed_once);

async fn a_5xx_is_retried_with_the_same_webhook_id(backend: Backend) {
    let setup = Setup::new(backend).await;
    let unavailable = StatusCode::SERVICE_UNAVAILABLE.into_response();
    let receiver = Receiver::start("127.0.0.1", vec![unavailable]).await;
    let request = setup.completed(&receiver.url("/hook")).await;
    let notifier = setup.notifier(open(), vec![Duration::from_millis(1)]);

    eventually("the notification delivered after a retry", || async {
        notifier.notify_due().await.unwrap();
        let record = setup.notification(request).await;
        (record.status == NotificationStatus::Delivered).then_some(record)
    })
    .await;

    let record = setup.notification(request).await;
    let codes: Vec<_> = record
        .history
        .iter()
        .map(|a| (a.attempt, a.status_code))
        .collect();
    assert_eq!(codes, vec![(1, Some(503)), (2, Some(204))]);
    assert_eq!(
        record.history[0].error.as_deref(),
        Some("the receiver answered 503")
    );
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].headers.id, received[1].headers.id);
    assert_eq!(
        received[0].body, received[1].body,
        "the same event on every attempt"
    );
    for attempt in &received {
        verify(&setup.secret, attempt);
    }
}
backend_test!(a_5xx_is_retried_with_the_same_webhook_id);

async fn a_receiver_that_is_down_gets_the_notification_rescheduled(backend: Backend) {
    let setup = Setup::new(backend).await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let request = setup
        .completed(&format!("http://127.0.0.1:{port}/hook"))
        .await;
    let notifier = setup.notifier(open(), vec![Duration::from_secs(3600)]);

    let before = Utc::now();
    assert_eq!(notifier.notify_due().await.unwrap(), 1);
    let record = setup.notification(request).await;
    assert_eq!(record.status, NotificationStatus::Pending);
    assert_eq!(record.attempts, 1);
    let error = record.history[0].error.clone().unwrap();
    assert!(error.starts_with("cannot connect"), "{error}");
    assert!(!error.contains("/hook"), "no URL in the error: {error}");
    assert_eq!(record.history[0].status_code, None);
    let wait = (record.next_attempt_at - before).num_seconds();
    assert!(
        (2800..=4400).contains(&wait),
        "rescheduled about an hour later: {wait} s"
    );
    assert_eq!(notifier.notify_due().await.unwrap(), 0, "not due yet");
}
backend_test!(a_receiver_that_is_down_gets_the_notification_rescheduled);

async fn the_last_failed_attempt_fails_the_notification(backend: Backend) {
    let setup = Setup::new(backend).await;
    let script = (0..2)
        .map(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        .collect();
    let receiver = Receiver::start("127.0.0.1", script).await;
    let request = setup.completed(&receiver.url("/hook")).await;
    let notifier = setup.notifier(open(), vec![Duration::from_millis(1)]);

    eventually("the notification failed", || async {
        notifier.notify_due().await.unwrap();
        let record = setup.notification(request).await;
        (record.status == NotificationStatus::Failed).then_some(())
    })
    .await;
    let record = setup.notification(request).await;
    assert_eq!(record.attempts, 2);
    assert_eq!(receiver.received().len(), 2);
    let audit = setup
        .store
        .audit_log(&AuditQuery {
            request: Some(request),
            action: Some("notification.failed".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome.as_deref(), Some("500"));
}
backend_test!(the_last_failed_attempt_fails_the_notification);

async fn a_cooperative_without_a_usable_secret_gets_no_unsigned_notification(backend: Backend) {
    // Onboarded before notifications existed: no secret at all.
    let setup = Setup::without_secret(backend).await;
    let receiver = Receiver::start("127.0.0.1", vec![]).await;
    let none = setup.completed(&receiver.url("/hook")).await;
    let notifier = setup.notifier(open(), vec![Duration::from_millis(1)]);
    notifier.notify_due().await.unwrap();
    let record = setup.notification(none).await;
    assert_eq!(record.status, NotificationStatus::Failed, "{record:?}");
    let error = record.last_error.unwrap();
    assert!(error.contains("no webhook secret"), "{error}");

    // A secret that does not parse signs nothing either.
    assert!(
        setup
            .store
            .set_webhook_secret(setup.cooperative, "whsec_", Actor::System)
            .await
            .unwrap()
    );
    let broken = setup.completed(&receiver.url("/hook")).await;
    notifier.notify_due().await.unwrap();
    let record = setup.notification(broken).await;
    assert_eq!(record.status, NotificationStatus::Failed);
    assert!(
        record
            .last_error
            .unwrap()
            .contains("not a valid whsec_ secret")
    );
    assert!(receiver.received().is_empty(), "nothing unsigned is sent");
}
backend_test!(a_cooperative_without_a_usable_secret_gets_no_unsigned_notification);
