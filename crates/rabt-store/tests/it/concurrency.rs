//! Concurrent completions of one request's tasks: the request completes exactly once.

use rabt_core::{Agency, Outcome, RequestStatus, Verdict};
use rabt_store::{Completion, EVENTS_EXCHANGE, StartResult};

use crate::fixtures::{answer, cooperative, now, request};
use crate::harness::{TestDb, backend_test};

const ITERATIONS: usize = 30;

async fn sibling_tasks_completed_concurrently_complete_the_request_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let agencies = [Agency::Labor, Agency::Chambers, Agency::SaudiPost];
    for i in 0..ITERATIONS {
        let new = request(coop.id, &format!("k{i}"), &agencies);
        db.store.accept_request(&new).await.unwrap();
        for task in &new.tasks {
            let started = db.store.start_task(task.id, now()).await.unwrap();
            assert!(matches!(started, StartResult::Started { .. }));
        }
        let handles: Vec<_> = new
            .tasks
            .iter()
            .map(|task| {
                let store = db.store.clone();
                let completion = answer(task.id, Outcome::Ok);
                tokio::spawn(async move { store.complete_task(&completion).await })
            })
            .collect();
        let mut completions = 0;
        for handle in handles {
            match handle.await.unwrap().unwrap() {
                Completion::Applied {
                    request_completed: Some(done),
                } => {
                    assert_eq!((done.request, done.verdict), (new.id, Verdict::Pass));
                    completions += 1;
                }
                Completion::Applied {
                    request_completed: None,
                } => {}
                Completion::AlreadyCompleted => panic!("each task was completed once"),
            }
        }
        assert_eq!(completions, 1, "iteration {i}");
        let record = db
            .store
            .get_request(coop.id, new.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.status, RequestStatus::Completed);
    }
    let rows = db
        .store
        .claim_outbox(1000, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let events = rows
        .iter()
        .filter(|r| r.exchange == EVENTS_EXCHANGE)
        .count();
    assert_eq!(events, ITERATIONS, "one event per request");
}
backend_test!(sibling_tasks_completed_concurrently_complete_the_request_once);

async fn duplicate_answers_racing_apply_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Interior]);
    db.store.accept_request(&new).await.unwrap();
    let task = new.tasks[0].id;
    db.store.start_task(task, now()).await.unwrap();
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move { store.complete_task(&answer(task, Outcome::Ok)).await })
        })
        .collect();
    let mut applied = 0;
    for handle in handles {
        if let Completion::Applied { request_completed } = handle.await.unwrap().unwrap() {
            assert!(request_completed.is_some());
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
}
backend_test!(duplicate_answers_racing_apply_once);
