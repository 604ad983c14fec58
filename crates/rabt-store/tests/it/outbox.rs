//! Claiming, deleting and re-queueing outbox messages.

use std::collections::HashSet;
use std::time::Duration;

use rabt_core::{Agency, Outcome};

use crate::fixtures::{TRACEPARENT, cooperative, now, request, run_task};
use crate::harness::{TestDb, backend_test};

const LONG: Duration = Duration::from_secs(3600);

async fn claimed_rows_wait_for_their_lease(db: TestDb) {
    let coop = cooperative(&db.store).await;
    db.store
        .accept_request(&request(coop.id, "k1", &[Agency::Labor, Agency::Health]))
        .await
        .unwrap();
    let leased = db.store.claim_outbox(10, LONG).await.unwrap();
    assert_eq!(leased.len(), 2);
    assert!(leased[0].id < leased[1].id);
    assert!(
        db.store.claim_outbox(10, LONG).await.unwrap().is_empty(),
        "leased rows re-claimed"
    );

    // New rows are claimable at once, and in batches of `limit`.
    db.store
        .accept_request(&request(
            coop.id,
            "k2",
            &[Agency::Labor, Agency::Health, Agency::Chambers],
        ))
        .await
        .unwrap();
    // A lease of zero has run out by the next claim: the row comes back, counted.
    let short = db.store.claim_outbox(2, Duration::ZERO).await.unwrap();
    assert_eq!(short.len(), 2);
    assert!(short.iter().all(|r| r.attempts == 1));
    let again = db.store.claim_outbox(10, LONG).await.unwrap();
    let again_ids: Vec<_> = again.iter().map(|r| r.id).collect();
    assert_eq!(again.len(), 3, "{again:?}");
    assert_eq!(&again_ids[..2], &[short[0].id, short[1].id]);
    assert_eq!((again[0].attempts, again[2].attempts), (2, 1));

    let confirmed: Vec<i64> = leased.iter().chain(&again).map(|r| r.id).collect();
    db.store.delete_outbox(&confirmed).await.unwrap();
    db.store.delete_outbox(&[i64::MAX]).await.unwrap();
    db.store.delete_outbox(&[]).await.unwrap();
    assert_eq!(db.count("outbox").await, 0);
}
backend_test!(claimed_rows_wait_for_their_lease);

async fn concurrent_claimers_get_disjoint_rows(db: TestDb) {
    let coop = cooperative(&db.store).await;
    for i in 0..20 {
        let agencies = [Agency::Labor, Agency::SaudiPost, Agency::Interior];
        db.store
            .accept_request(&request(coop.id, &format!("k{i}"), &agencies))
            .await
            .unwrap();
    }
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let store = db.store.clone();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_outbox(5, LONG).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|r| r.id));
            }
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 60, "every row claimed once");
    assert_eq!(distinct.len(), 60, "no row claimed twice");
}
backend_test!(concurrent_claimers_get_disjoint_rows);

async fn open_tasks_are_requeued_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let first = request(coop.id, "k1", &[Agency::Labor, Agency::Chambers]);
    let second = request(coop.id, "k2", &[Agency::Interior, Agency::Municipal]);
    db.store.accept_request(&first).await.unwrap();
    db.store.accept_request(&second).await.unwrap();
    let published: Vec<i64> = db
        .store
        .claim_outbox(100, LONG)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    db.store.delete_outbox(&published).await.unwrap();

    // RUNNING, COMPLETED, AWAITING_CALLBACK, QUEUED.
    db.store.start_task(first.tasks[0].id, now()).await.unwrap();
    run_task(&db.store, first.tasks[1].id, Outcome::Ok).await;
    db.store
        .start_task(second.tasks[0].id, now())
        .await
        .unwrap();
    db.store
        .submit_task(second.tasks[0].id, "ref", now())
        .await
        .unwrap();

    assert_eq!(db.store.requeue_open_tasks().await.unwrap(), 2);
    assert_eq!(
        db.store.requeue_open_tasks().await.unwrap(),
        0,
        "already waiting"
    );
    let rows = db.store.claim_outbox(100, LONG).await.unwrap();
    let mut ids: Vec<_> = rows.iter().map(|r| r.message_id.clone()).collect();
    ids.sort();
    let mut expected = vec![
        first.tasks[0].id.to_string(),
        second.tasks[1].id.to_string(),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        rows.iter()
            .all(|r| r.headers == vec![("traceparent".to_owned(), TRACEPARENT.to_owned())])
    );
}
backend_test!(open_tasks_are_requeued_once);

/// A store that hands its rows over (the worker's, in `rabt serve`) gives the relay a
/// verdict's event once the completion has committed, written claimed: a search of the
/// table does not find it, so nothing is published twice. A completion that wrote
/// nothing hands nothing over.
async fn a_verdicts_event_is_handed_to_the_relay_at_commit(db: TestDb) {
    let (handoff, mut handed) = rabt_store::Handoff::new(LONG);
    let store = db.store.clone().hand_over_to(handoff);
    assert!(store.hands_over() && !db.store.hands_over());
    let coop = cooperative(&store).await;
    let new = request(coop.id, "handed", &[Agency::Labor]);
    store.accept_request(&new).await.unwrap();
    // The accept path hands over its own rows (leased by the caller): not these.
    let queued = db.store.claim_outbox(10, LONG).await.unwrap();
    assert_eq!(queued.len(), 1);
    db.store.delete_outbox(&[queued[0].id]).await.unwrap();

    run_task(&store, new.tasks[0].id, Outcome::Ok).await;
    let rows = handed.try_recv().expect("the event handed over at commit");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].exchange, rabt_store::EVENTS_EXCHANGE);
    assert_eq!(rows[0].message_id, format!("{}.completed", new.id));
    assert!(
        db.store.claim_outbox(10, LONG).await.unwrap().is_empty(),
        "claimed as written: a search does not find it"
    );
    db.store.delete_outbox(&[rows[0].id]).await.unwrap();

    // Another answer to the completed task writes nothing, and hands nothing over.
    let again = store
        .complete_task(&crate::fixtures::answer(new.tasks[0].id, Outcome::Ok))
        .await
        .unwrap();
    assert_eq!(again, rabt_store::Completion::AlreadyCompleted);
    assert!(
        handed
            .try_recv()
            .map(|rows| rows.is_empty())
            .unwrap_or(true),
        "nothing to hand over"
    );
    assert_eq!(db.count("outbox").await, 0);
}
backend_test!(a_verdicts_event_is_handed_to_the_relay_at_commit);
