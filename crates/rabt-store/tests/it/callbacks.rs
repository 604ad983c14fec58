//! Agency callbacks: stored once per webhook-id, queued for the worker, audited.

use rabt_core::{Agency, CallbackId, TaskMessage};
use rabt_store::{CallbackAccepted, NewCallback};
use serde_json::json;

use crate::fixtures::{cooperative, now, request};
use crate::harness::{TestDb, backend_test};

fn callback(new: &rabt_store::NewRequest, agency: Agency, webhook_id: &str) -> NewCallback {
    NewCallback {
        id: CallbackId::new(),
        agency,
        webhook_id: webhook_id.to_owned(),
        reference: "INSP-0001".to_owned(),
        task: new.tasks[0].id,
        request: new.id,
        body: json!({"reference": "INSP-0001", "result": "FOUND"}),
        received_at: now(),
        traceparent: None,
    }
}

async fn a_callback_is_stored_queued_and_audited_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Municipal]);
    db.store.accept_request(&new).await.unwrap();
    db.store
        .delete_outbox(
            &db.store
                .claim_outbox(10, std::time::Duration::ZERO)
                .await
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();

    let first = callback(&new, Agency::Municipal, "msg_1");
    assert_eq!(
        db.store.accept_callback(&first).await.unwrap(),
        CallbackAccepted::New
    );
    let rows = db
        .store
        .claim_outbox(10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].routing_key, "municipal");
    let message: TaskMessage = serde_json::from_slice(&rows[0].body).unwrap();
    assert_eq!(
        message,
        TaskMessage::CallbackV1 {
            callback: first.id,
            agency: Agency::Municipal
        }
    );

    let replay = callback(&new, Agency::Municipal, "msg_1");
    assert_eq!(
        db.store.accept_callback(&replay).await.unwrap(),
        CallbackAccepted::Duplicate
    );
    assert_eq!(db.count("callbacks").await, 1);
    assert!(
        db.store.callback(replay.id).await.unwrap().is_none(),
        "a replay stores nothing"
    );
    let accepted = db.audited("callback.accepted", Some(new.id)).await;
    assert_eq!(accepted.len(), 1);

    // The same webhook-id from another agency is another message.
    let other = callback(&new, Agency::Health, "msg_1");
    assert_eq!(
        db.store.accept_callback(&other).await.unwrap(),
        CallbackAccepted::New
    );
}
backend_test!(a_callback_is_stored_queued_and_audited_once);

async fn a_stored_callback_reads_back_and_is_marked_applied_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Health]);
    db.store.accept_request(&new).await.unwrap();
    let stored = callback(&new, Agency::Health, "msg_9");
    db.store.accept_callback(&stored).await.unwrap();
    let record = db.store.callback(stored.id).await.unwrap().unwrap();
    assert_eq!(record.body, stored.body);
    assert_eq!(record.task, new.tasks[0].id);
    assert_eq!(record.reference, "INSP-0001");
    assert!(record.applied_at.is_none());
    let first = now();
    db.store
        .mark_callback_applied(stored.id, first)
        .await
        .unwrap();
    db.store
        .mark_callback_applied(stored.id, first + chrono::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(
        db.store
            .callback(stored.id)
            .await
            .unwrap()
            .unwrap()
            .applied_at,
        Some(first)
    );
}
backend_test!(a_stored_callback_reads_back_and_is_marked_applied_once);
