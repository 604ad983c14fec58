//! Group commit on the accept path: several requests in one transaction, each with its
//! own answer; one that the database refuses fails alone; one key twice creates one
//! request, in one batch or in two at once.

use std::sync::Arc;

use rabt_core::{Agency, CooperativeId};
use rabt_store::{AcceptAnswer, Accepted, GroupCommit, NewRequest, Pending, StoreError};

use rabt_test_support::must::eventually;

use crate::fixtures::{cooperative, request};
use crate::harness::{TestDb, assert_duplicate, backend_test};

fn pending(new: &NewRequest) -> Pending<'_> {
    Pending {
        new,
        lease: None,
        quota_per_day: None,
    }
}

fn created(answer: &AcceptAnswer) -> bool {
    matches!(answer, Ok((Accepted::Created, _)))
}

async fn a_batch_writes_every_request_with_its_own_messages(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let news: Vec<NewRequest> = (0..5)
        .map(|i| {
            let agencies = &[Agency::Labor, Agency::Health, Agency::SaudiPost][..1 + i % 3];
            request(coop.id, &format!("batch-{i}"), agencies)
        })
        .collect();
    let batch: Vec<Pending<'_>> = news.iter().map(pending).collect();
    let answers = db.store.accept_batch(&batch).await;

    assert_eq!(answers.len(), news.len());
    for (new, answer) in news.iter().zip(&answers) {
        let Ok((Accepted::Created, rows)) = answer else {
            panic!("{answer:?}");
        };
        let ids: Vec<String> = new.tasks.iter().map(|t| t.id.to_string()).collect();
        let messages: Vec<String> = rows.iter().map(|r| r.message_id.clone()).collect();
        assert_eq!(
            messages, ids,
            "each request gets its own outbox rows, in order"
        );
        let stored = db.request(coop.id, new.id).await;
        assert_eq!(stored.tasks.len(), new.tasks.len());
    }
    // 1 + 2 + 3 + 1 + 2 tasks, a message each; a request.accepted and a task.queued each.
    assert_eq!(db.count("requests").await, 5);
    assert_eq!(db.count("tasks").await, 9);
    assert_eq!(db.count("outbox").await, 9);
    assert_eq!(db.count("idempotency_keys").await, 5);
    assert_eq!(db.count("audit_log").await, 14);
}
backend_test!(a_batch_writes_every_request_with_its_own_messages);

/// One request of the batch breaks a constraint of the database (its id is that of a
/// stored request; another names a cooperative that does not exist): the batch's
/// transaction fails, and the others are written all the same, each answered.
async fn a_request_the_database_refuses_fails_alone(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let first = request(coop.id, "first", &[Agency::Labor]);
    db.store.accept_request(&first).await.unwrap();

    let mut same_id = request(coop.id, "same-id", &[Agency::Labor]);
    same_id.id = first.id;
    let stranger = request(CooperativeId::new(), "stranger", &[Agency::Labor]);
    let good: Vec<NewRequest> = (0..3)
        .map(|i| request(coop.id, &format!("good-{i}"), &[Agency::Health]))
        .collect();
    let news = [&good[0], &same_id, &good[1], &stranger, &good[2]];
    let batch: Vec<Pending<'_>> = news.iter().map(|new| pending(new)).collect();
    let answers = db.store.accept_batch(&batch).await;

    assert!(
        created(&answers[0]) && created(&answers[2]) && created(&answers[4]),
        "{answers:?}"
    );
    assert_duplicate(&answers[1], "request");
    assert!(
        matches!(
            answers[3],
            Err(StoreError::NotFound {
                what: "cooperative"
            })
        ),
        "{:?}",
        answers[3]
    );
    for new in &good {
        assert!(
            db.store
                .get_request(coop.id, new.id)
                .await
                .unwrap()
                .is_some()
        );
    }
    // The refused request's key is not kept: it may be sent again, corrected.
    assert_eq!(db.count("idempotency_keys").await, 4);
    assert_eq!(db.count("requests").await, 4);
    assert_eq!(db.count("tasks").await, 4);
}
backend_test!(a_request_the_database_refuses_fails_alone);

/// Two requests with one key in one batch: one is created, the other is told the key is
/// in flight; a key used before is replayed; a spent quota refuses only its request.
async fn keys_and_quotas_are_decided_per_request_in_a_batch(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let used = request(coop.id, "used", &[Agency::Labor]);
    db.store.accept_request(&used).await.unwrap();

    let twin_a = request(coop.id, "twin", &[Agency::Labor]);
    let twin_b = request(coop.id, "twin", &[Agency::Labor]);
    let mut replay = request(coop.id, "used", &[Agency::Labor]);
    replay.idempotency.body_hash = used.idempotency.body_hash.clone();
    let quota_coop = cooperative(&db.store).await;
    let within: Vec<NewRequest> = (0..3)
        .map(|i| request(quota_coop.id, &format!("q{i}"), &[Agency::Health]))
        .collect();
    let mut batch = vec![pending(&twin_a), pending(&twin_b), pending(&replay)];
    batch.extend(within.iter().map(|new| Pending {
        quota_per_day: Some(2),
        ..pending(new)
    }));
    let answers = db.store.accept_batch(&batch).await;

    assert!(created(&answers[0]), "{:?}", answers[0]);
    assert!(
        matches!(answers[1], Err(StoreError::KeyInFlight)),
        "{:?}",
        answers[1]
    );
    match &answers[2] {
        Ok((Accepted::Existing { request, .. }, rows)) => {
            assert_eq!(*request, used.id);
            assert!(rows.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(created(&answers[3]) && created(&answers[4]), "{answers:?}");
    assert!(
        matches!(answers[5], Err(StoreError::QuotaExceeded)),
        "{:?}",
        answers[5]
    );
    assert!(
        db.store
            .get_request(quota_coop.id, within[2].id)
            .await
            .unwrap()
            .is_none()
    );
    // used, twin, q0, q1: the refused q2 keeps no key.
    assert_eq!(db.count("idempotency_keys").await, 4);
    assert_eq!(db.count("requests").await, 4);
}
backend_test!(keys_and_quotas_are_decided_per_request_in_a_batch);

/// Two batches at once, each with the same key (from two processes' group commits):
/// one request is created; the other batch's is told the key is in flight, or, if
/// the first had committed, replays it.
async fn one_key_in_two_batches_at_once_creates_one_request(db: TestDb) {
    let coop = cooperative(&db.store).await;
    for round in 0..10 {
        let key = format!("race-{round}");
        let a = [
            request(coop.id, &key, &[Agency::Labor]),
            request(coop.id, &format!("{key}-a"), &[Agency::Labor]),
        ];
        let b = [
            request(coop.id, &format!("{key}-b"), &[Agency::Labor]),
            request(coop.id, &key, &[Agency::Labor]),
        ];
        let other = rabt_store::Store::connect(db.url(), 2).await.unwrap();
        let batch_a: Vec<Pending<'_>> = a.iter().map(pending).collect();
        let batch_b: Vec<Pending<'_>> = b.iter().map(pending).collect();
        let (answers_a, answers_b) = tokio::join!(
            db.store.accept_batch(&batch_a),
            other.accept_batch(&batch_b)
        );
        assert!(
            created(&answers_a[1]) && created(&answers_b[0]),
            "the other keys: {answers_a:?} {answers_b:?}"
        );
        let contenders = [&answers_a[0], &answers_b[1]];
        assert_eq!(
            contenders.iter().filter(|answer| created(answer)).count(),
            1,
            "round {round}: {contenders:?}"
        );
        for answer in contenders {
            assert!(
                created(answer)
                    || matches!(
                        answer,
                        Err(StoreError::KeyInFlight) | Ok((Accepted::Existing { .. }, _))
                    ),
                "{answer:?}"
            );
        }
    }
    assert_eq!(db.count("requests").await, 30);
}
backend_test!(one_key_in_two_batches_at_once_creates_one_request);

/// Concurrent accepts through group commit share transactions: while the one writer's
/// transaction waits for a lock another session holds, the requests that arrive go
/// together in the next.
async fn concurrent_accepts_are_written_together(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let group = GroupCommit::with(db.store.clone(), 1, 64);
    let held = db.hold_requests().await;

    let news: Vec<Arc<NewRequest>> = (0..40)
        .map(|i| {
            Arc::new(request(
                coop.id,
                &format!("c{i}"),
                &[Agency::Labor, Agency::SaudiPost],
            ))
        })
        .collect();
    let accepts: Vec<_> = news
        .iter()
        .map(|new| {
            let group = group.clone();
            let new = Arc::clone(new);
            tokio::spawn(async move { group.accept(new, None, None).await })
        })
        .collect();
    eventually("every request queued", || async {
        (group.stats().queued == 40).then_some(())
    })
    .await;
    held.release().await;
    for accept in accepts {
        let answer = accept.await.unwrap();
        assert!(created(&answer), "{answer:?}");
    }
    let stats = group.stats();
    assert_eq!(stats.requests, 40);
    // The first batch took what had arrived when the writer started (held back by
    // the lock); everything after went in the next.
    assert!(stats.batches <= 2, "{stats:?}");
    assert!(stats.largest >= 20, "{stats:?}");
    assert_eq!(db.count("requests").await, 40);
    assert_eq!(db.count("outbox").await, 80);
}
backend_test!(concurrent_accepts_are_written_together);
