//! Group commit on the accept path: several requests in one transaction, each with its
//! own answer; one that the database refuses fails alone; one key twice creates one
//! request, in one batch or in two at once.

use std::sync::Arc;

use tokio::task::JoinHandle;

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

/// Sends `new` through `group` from a task of its own (a concurrent caller).
fn spawn_accept(group: &GroupCommit, new: Arc<NewRequest>) -> JoinHandle<AcceptAnswer> {
    let group = group.clone();
    tokio::spawn(async move { group.accept(new, None, None).await })
}

/// Waits for every accept of `accepts`, each of which must have created its request.
async fn all_created(accepts: Vec<JoinHandle<AcceptAnswer>>) {
    for accept in accepts {
        let answer = accept.await.unwrap();
        assert!(created(&answer), "{answer:?}");
    }
}

/// [`spawn_accept`] for each of `news`.
fn spawn_accepts(group: &GroupCommit, news: &[Arc<NewRequest>]) -> Vec<JoinHandle<AcceptAnswer>> {
    news.iter()
        .map(|new| spawn_accept(group, Arc::clone(new)))
        .collect()
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
    let accepts = spawn_accepts(&group, &news);
    eventually("every request queued", || async {
        (group.stats().queued == 40).then_some(())
    })
    .await;
    held.release().await;
    all_created(accepts).await;
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

/// A writer keeps its connection from one batch to the next (`rabt_store::kept`). A
/// batch refused on it (a constraint) leaves it out of any transaction: the batch's requests written again one by one on it, and the next
/// batch, are committed, and no session is left inside a transaction.
async fn a_refused_batch_leaves_the_writers_connection_clean(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let first = request(coop.id, "first", &[Agency::Labor]);
    db.store.accept_request(&first).await.unwrap();
    let group = GroupCommit::with(db.store.clone(), 1, 64);

    let mut same_id = request(coop.id, "same-id", &[Agency::Labor]);
    same_id.id = first.id;
    let mut wave: Vec<Arc<NewRequest>> = (0..6)
        .map(|i| Arc::new(request(coop.id, &format!("a{i}"), &[Agency::Health])))
        .collect();
    wave.insert(3, Arc::new(same_id));
    let held = db.hold_requests().await;
    let accepts = spawn_accepts(&group, &wave);
    eventually("every request queued", || async {
        (group.stats().queued == 7).then_some(())
    })
    .await;
    held.release().await;
    for (i, accept) in accepts.into_iter().enumerate() {
        let answer = accept.await.unwrap();
        if i == 3 {
            assert!(
                matches!(answer, Err(StoreError::Duplicate { .. })),
                "{answer:?}"
            );
        } else {
            assert!(created(&answer), "{answer:?}");
        }
    }
    let after = request(coop.id, "after", &[Agency::Labor]);
    let answer = group.accept(Arc::new(after), None, None).await;
    assert!(created(&answer), "{answer:?}");
    assert_eq!(db.count("requests").await, 8);
    if !db.url().starts_with("sqlite") {
        let open = db
            .query_text(
                "SELECT count(*)::text FROM pg_stat_activity \
                 WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
            )
            .await;
        assert_eq!(open, "0", "no session is left inside a transaction");
    }
}
backend_test!(a_refused_batch_leaves_the_writers_connection_clean);

/// The server cuts a writer's connection in the middle of a batch (a restart, an
/// administrator): that batch's requests are told the database is unavailable, the
/// connection is not kept, and the batch waiting behind it is written on a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_under_a_writer_is_not_kept() {
    let db = TestDb::postgres().await;
    let coop = cooperative(&db.store).await;
    let group = GroupCommit::with(db.store.clone(), 1, 64);
    let held = db.hold_requests().await;
    let accept =
        |name: &str| spawn_accept(&group, Arc::new(request(coop.id, name, &[Agency::Labor])));
    let cut = accept("cut");
    // The writer's first batch (this request alone) waits for the held lock.
    let waiting = "SELECT count(*)::text FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    eventually("the first batch waits for the lock", || async {
        (db.query_text(waiting).await == "1").then_some(())
    })
    .await;
    let behind: Vec<_> = (0..5).map(|i| accept(&format!("behind-{i}"))).collect();
    eventually("the others queued behind it", || async {
        (group.stats().queued == 6).then_some(())
    })
    .await;
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .await
    .unwrap();
    let answer = cut.await.unwrap();
    assert!(
        matches!(&answer, Err(err) if err.is_unavailable()),
        "{answer:?}"
    );
    held.release().await;
    all_created(behind).await;
    assert_eq!(db.count("requests").await, 5);
}

/// A writer keeps its connection while idle; one the server cut meanwhile (a restart,
/// a firewall's idle timeout) is found dead before use and replaced, and the next
/// accept is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_while_a_writer_was_idle_is_replaced() {
    let db = TestDb::postgres().await;
    let coop = cooperative(&db.store).await;
    let group = GroupCommit::with(db.store.clone(), 1, 64);
    let first = request(coop.id, "before", &[Agency::Labor]);
    assert!(created(&group.accept(Arc::new(first), None, None).await));
    let cut = db.cut_connections().await;
    assert!(cut >= 1, "the store had a connection open to cut");
    // A kept connection is checked once it has been idle a second; this wait is what
    // makes it idle (not a wait for something to happen).
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let second = request(coop.id, "after", &[Agency::Labor]);
    let answer = group.accept(Arc::new(second), None, None).await;
    assert!(created(&answer), "{answer:?}");
    assert_eq!(db.count("requests").await, 2);
}

/// Writers keep at most half of the pool: with a pool of two and four writers, after
/// a burst of accepts a read still gets a connection at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_leave_half_the_pool_to_others() {
    let db = TestDb::postgres().await;
    let coop = cooperative(&db.store).await;
    let small = rabt_store::Store::connect(db.url(), 2).await.unwrap();
    let group = GroupCommit::with(small.clone(), 4, 64);
    let news: Vec<Arc<NewRequest>> = (0..24)
        .map(|i| Arc::new(request(coop.id, &format!("w{i}"), &[Agency::Labor])))
        .collect();
    let accepts = spawn_accepts(&group, &news);
    all_created(accepts).await;
    let read = small.get_request(coop.id, news[0].id).await;
    assert!(
        matches!(read, Ok(Some(_))),
        "a read finds a connection: {read:?}"
    );
}

/// A caller that finds a writer free writes its request itself; if it goes away
/// mid-write (a client that hung up), its transaction is rolled back and the writer is
/// passed on to the requests that queued behind it, and kept for the ones after.
async fn a_caller_gone_mid_write_passes_the_writer_on(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let group = GroupCommit::with(db.store.clone(), 1, 64);
    let held = db.hold_requests().await;
    let accept =
        |name: &str| spawn_accept(&group, Arc::new(request(coop.id, name, &[Agency::Labor])));
    let gone = accept("gone");
    eventually("the first caller is writing", || async {
        (group.stats().batches == 1).then_some(())
    })
    .await;
    let behind = accept("behind");
    eventually("the second waits behind it", || async {
        (group.stats().queued == 2).then_some(())
    })
    .await;
    gone.abort();
    assert!(gone.await.unwrap_err().is_cancelled());
    held.release().await;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), behind)
        .await
        .expect("the writer was passed on to the request behind")
        .unwrap();
    assert!(created(&answer), "{answer:?}");
    let after = accept("after").await.unwrap();
    assert!(created(&after), "{after:?}");
    assert_eq!(
        db.count("requests").await,
        2,
        "the gone caller's request is not kept"
    );
}
backend_test!(a_caller_gone_mid_write_passes_the_writer_on);
