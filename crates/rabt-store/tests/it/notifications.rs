//! Notifications to cooperatives: queued with the completion, claimed with a lease
//! (a fencing token), every attempt recorded, rescheduled, delivered or failed.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rabt_core::{Agency, CooperativeId, Outcome, RequestId, Verdict};
use rabt_store::{
    Actor, AttemptReport, AuditQuery, DueNotification, NextStep, NotificationStatus, Store,
};

use crate::fixtures::{cooperative, now, request, run_task};
use crate::harness::{TestDb, backend_test};

const LONG: Duration = Duration::from_secs(3600);
const HOOK: &str = "https://erp.example.sa/hooks/rabt?token=abc";

/// A request with a notify URL and one labour task, completed `OK`.
async fn completed_with_hook(store: &Store, coop: CooperativeId, key: &str) -> RequestId {
    let mut new = request(coop, key, &[Agency::Labor]);
    new.notify_url = Some(HOOK.to_owned());
    new.reference = Some("inv-7".to_owned());
    let task = new.tasks[0].id;
    let id = new.id;
    store.accept_request(&new).await.unwrap();
    run_task(store, task, Outcome::Ok).await;
    id
}

fn report(due: &DueNotification, at: DateTime<Utc>, next: NextStep) -> AttemptReport {
    let delivered = next == NextStep::Delivered;
    AttemptReport {
        notification: due.id,
        lease: due.lease,
        attempt: due.attempt,
        at,
        status_code: Some(if delivered { 204 } else { 503 }),
        error: (!delivered).then(|| "the receiver answered 503".to_owned()),
        latency_ms: Some(12),
        next,
    }
}

async fn a_completion_queues_one_notification_when_asked(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let with_hook = completed_with_hook(&db.store, coop.id, "k1").await;
    let plain = request(coop.id, "k2", &[Agency::Labor]);
    let (plain_id, plain_task) = (plain.id, plain.tasks[0].id);
    db.store.accept_request(&plain).await.unwrap();
    run_task(&db.store, plain_task, Outcome::NotFound).await;

    let queued = db.store.notifications_of(with_hook).await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let notification = &queued[0];
    assert_eq!(notification.status, NotificationStatus::Pending);
    assert_eq!(notification.url, HOOK);
    assert_eq!((notification.attempts, notification.history.len()), (0, 0));
    assert!(notification.id.to_string().starts_with("ntf_"));
    assert!(
        db.store
            .notifications_of(plain_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.count("notifications").await, 1);
    // The URL may hold the cooperative's token: Debug output leaves it out.
    assert!(!format!("{notification:?}").contains("token"));
}
backend_test!(a_completion_queues_one_notification_when_asked);

async fn a_claim_carries_what_the_event_needs_and_leases_the_row(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(
        db.store
            .set_webhook_secret(coop.id, secret, Actor::System)
            .await
            .unwrap()
    );
    let request = completed_with_hook(&db.store, coop.id, "k1").await;

    let claimed = db.store.claim_notifications(now(), 10, LONG).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let due = &claimed[0];
    assert_eq!(due.attempt, 1);
    assert_eq!(due.request, request);
    assert_eq!(due.cooperative, coop.id);
    assert_eq!(due.service.as_str(), "cooperative.establishment.check");
    assert_eq!(due.verdict, Some(Verdict::Pass));
    assert_eq!(due.reference.as_deref(), Some("inv-7"));
    assert_eq!(due.webhook_secret.as_deref(), Some(secret));
    assert_eq!(due.url, HOOK);
    let shown = format!("{due:?}");
    assert!(
        !shown.contains("whsec") && !shown.contains("token"),
        "{shown}"
    );

    assert!(
        db.store
            .claim_notifications(now(), 10, LONG)
            .await
            .unwrap()
            .is_empty(),
        "a leased notification was claimed twice"
    );
}
backend_test!(a_claim_carries_what_the_event_needs_and_leases_the_row);

async fn attempts_are_recorded_rescheduled_then_delivered_and_audited(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let request = completed_with_hook(&db.store, coop.id, "k1").await;
    let t0 = now();
    let first = db.store.claim_notifications(t0, 10, LONG).await.unwrap();
    let retry_at = t0 + chrono::Duration::minutes(5);
    let failed = report(&first[0], t0, NextStep::RetryAt(retry_at));
    assert!(db.store.record_notification_attempt(&failed).await.unwrap());
    // The same claim cannot record twice: recording gave the lease back.
    assert!(!db.store.record_notification_attempt(&failed).await.unwrap());

    // Not due before its time, due after.
    assert!(
        db.store
            .claim_notifications(t0, 10, LONG)
            .await
            .unwrap()
            .is_empty()
    );
    let later = retry_at + chrono::Duration::seconds(1);
    let second = db.store.claim_notifications(later, 10, LONG).await.unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2));
    assert_eq!(
        second[0].id, first[0].id,
        "the webhook-id is stable across retries"
    );
    let delivered = report(&second[0], later, NextStep::Delivered);
    assert!(
        db.store
            .record_notification_attempt(&delivered)
            .await
            .unwrap()
    );
    assert!(
        db.store
            .claim_notifications(later + chrono::Duration::days(9), 10, LONG)
            .await
            .unwrap()
            .is_empty()
    );

    let record = &db.store.notifications_of(request).await.unwrap()[0];
    assert_eq!(record.status, NotificationStatus::Delivered);
    assert_eq!(record.attempts, 2);
    assert_eq!(record.delivered_at, Some(later));
    assert_eq!(record.last_error, None);
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
    assert_eq!(record.history[0].at, t0);
    assert_eq!(record.history[1].latency_ms, Some(12));

    let audit = db
        .store
        .audit_log(&AuditQuery {
            request: Some(request),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let ends: Vec<_> = audit
        .iter()
        .filter(|e| e.action.starts_with("notification."))
        .collect();
    assert_eq!(ends.len(), 1, "only the delivery is audited: {ends:?}");
    assert_eq!(ends[0].action, "notification.delivered");
    assert_eq!(ends[0].outcome.as_deref(), Some("204"));
    assert_eq!(ends[0].detail["notification"], record.id.to_string());
    assert_eq!(ends[0].detail["attempts"], 2);
    assert!(
        !ends[0].detail.to_string().contains("erp.example"),
        "no URL in the audit"
    );
}
backend_test!(attempts_are_recorded_rescheduled_then_delivered_and_audited);

async fn a_lost_lease_records_nothing_and_a_final_failure_is_audited(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let request = completed_with_hook(&db.store, coop.id, "k1").await;
    let t0 = now();
    let stalled = db
        .store
        .claim_notifications(t0, 10, Duration::from_millis(1))
        .await
        .unwrap();
    // The lease ran out: another notifier takes the notification over.
    let t1 = t0 + chrono::Duration::seconds(1);
    let taken = db.store.claim_notifications(t1, 10, LONG).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(
        taken[0].attempt, 1,
        "the stalled attempt was never recorded"
    );
    let late = report(&stalled[0], t1, NextStep::Delivered);
    assert!(!db.store.record_notification_attempt(&late).await.unwrap());

    let mut last = report(&taken[0], t1, NextStep::Failed);
    last.status_code = None;
    last.error = Some("connection refused".to_owned());
    assert!(db.store.record_notification_attempt(&last).await.unwrap());
    let record = &db.store.notifications_of(request).await.unwrap()[0];
    assert_eq!(record.status, NotificationStatus::Failed);
    assert_eq!((record.attempts, record.history.len()), (1, 1));
    assert_eq!(record.last_error.as_deref(), Some("connection refused"));
    assert!(
        db.store
            .claim_notifications(t1 + chrono::Duration::days(9), 10, LONG)
            .await
            .unwrap()
            .is_empty()
    );
    let audit = db.audited("notification.failed", None).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome.as_deref(), Some("error"));
    assert_eq!(audit[0].request, Some(request));
}
backend_test!(a_lost_lease_records_nothing_and_a_final_failure_is_audited);

async fn concurrent_claimers_get_disjoint_notifications(db: TestDb) {
    let coop = cooperative(&db.store).await;
    for i in 0..12 {
        completed_with_hook(&db.store, coop.id, &format!("k{i}")).await;
    }
    let at = now();
    let claimers = (0..4).map(|_| {
        let store = db.store.clone();
        tokio::spawn(async move { store.claim_notifications(at, 5, LONG).await })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        for due in claimer.await.unwrap().unwrap() {
            total += 1;
            seen.insert(due.id);
        }
    }
    assert_eq!(
        (total, seen.len()),
        (12, 12),
        "every notification claimed exactly once"
    );
}
backend_test!(concurrent_claimers_get_disjoint_notifications);

async fn webhook_secrets_are_kept_to_sign(db: TestDb) {
    let coop = cooperative(&db.store).await;
    assert_eq!(db.store.webhook_secret(coop.id).await.unwrap(), None);
    assert!(
        db.store
            .set_webhook_secret(coop.id, "whsec_b25l", Actor::System)
            .await
            .unwrap()
    );
    assert!(
        db.store
            .set_webhook_secret(coop.id, "whsec_dHdv", Actor::Operator("huda".to_owned()))
            .await
            .unwrap()
    );
    assert_eq!(
        db.store.webhook_secret(coop.id).await.unwrap().as_deref(),
        Some("whsec_dHdv")
    );
    let audit = db.audited("cooperative.webhook_secret", None).await;
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1].actor, Actor::Operator("huda".to_owned()));
    assert_eq!(audit[1].detail["cooperative"], coop.id.to_string());
    assert!(
        !format!("{audit:?}").contains("whsec"),
        "the secret is never audited"
    );
    let nobody = CooperativeId::new();
    assert!(
        !db.store
            .set_webhook_secret(nobody, "whsec_eA", Actor::System)
            .await
            .unwrap()
    );
    assert_eq!(db.store.webhook_secret(nobody).await.unwrap(), None);
}
backend_test!(webhook_secrets_are_kept_to_sign);
