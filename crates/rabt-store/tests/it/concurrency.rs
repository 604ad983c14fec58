//! Concurrent completions of one request's tasks: the request completes exactly once.

use rabt_core::{Agency, Outcome, RequestStatus, Verdict};
use rabt_store::{Completion, StartResult};
use rabt_test_support::must::eventually;

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
                    ..
                } => {
                    assert_eq!((done.request, done.verdict), (new.id, Verdict::Pass));
                    completions += 1;
                }
                Completion::Applied {
                    request_completed: None,
                    checks_waiting,
                    ..
                } => assert!(!checks_waiting, "no check waits for another here"),
                Completion::AlreadyCompleted => panic!("each task was completed once"),
            }
        }
        assert_eq!(completions, 1, "iteration {i}");
        let record = db.request(coop.id, new.id).await;
        assert_eq!(record.status, RequestStatus::Completed);
    }
    let events = db.claim_events().await;
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
        if let Completion::Applied {
            request_completed, ..
        } = handle.await.unwrap().unwrap()
        {
            assert!(request_completed.is_some());
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
}
backend_test!(duplicate_answers_racing_apply_once);

/// Answers recorded together (the worker's group commit): in one transaction each gets
/// the result it would have had alone — a request whose tasks are all in the batch
/// completes once, an answer twice applies once, an unknown task fails alone — and two
/// such batches at once over the same requests still complete each request once.
async fn answers_in_one_batch_are_each_applied_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let agencies = [Agency::Labor, Agency::Chambers];
    let news: Vec<_> = (0..6)
        .map(|i| request(coop.id, &format!("b{i}"), &agencies))
        .collect();
    for new in &news {
        db.store.accept_request(new).await.unwrap();
        for task in &new.tasks {
            db.store.start_task(task.id, now()).await.unwrap();
        }
    }
    // Batch one: both tasks of request 0, request 1's first task twice, a task that
    // does not exist, and the first task of requests 2..6.
    let unknown = rabt_core::TaskId::new();
    let mut one = vec![
        answer(news[0].tasks[0].id, Outcome::Ok),
        answer(news[0].tasks[1].id, Outcome::Ok),
        answer(news[1].tasks[0].id, Outcome::Ok),
        answer(news[1].tasks[0].id, Outcome::NotFound),
        answer(unknown, Outcome::Ok),
    ];
    one.extend(
        news[2..]
            .iter()
            .map(|new| answer(new.tasks[0].id, Outcome::Ok)),
    );
    // Batch two, at the same time on another store: the second task of requests 1..6.
    let other = rabt_store::Store::connect(db.url(), 4).await.unwrap();
    let two: Vec<_> = news[1..]
        .iter()
        .map(|new| answer(new.tasks[1].id, Outcome::Ok))
        .collect();
    let (first, second) = tokio::join!(db.store.complete_tasks(&one), other.complete_tasks(&two));

    let completed_by = |result: &Result<Completion, rabt_store::StoreError>| match result {
        Ok(Completion::Applied {
            request_completed: Some(done),
            ..
        }) => Some(done.request),
        _ => None,
    };
    assert_eq!(completed_by(&first[1]), Some(news[0].id), "{first:?}");
    assert!(
        matches!(first[3], Ok(Completion::AlreadyCompleted)),
        "{first:?}"
    );
    assert!(
        matches!(
            first[4],
            Err(rabt_store::StoreError::NotFound { what: "task" })
        ),
        "{first:?}"
    );
    // Requests 1..6 each completed exactly once, by whichever batch came second.
    for new in &news[1..] {
        let by = first
            .iter()
            .chain(&second)
            .filter(|result| completed_by(result) == Some(new.id))
            .count();
        assert_eq!(
            by, 1,
            "request {} completed once: {first:?} {second:?}",
            new.id
        );
    }
    for result in first.iter().chain(&second) {
        assert!(
            result.is_ok() || matches!(result, Err(rabt_store::StoreError::NotFound { .. })),
            "{result:?}"
        );
    }
    for new in &news {
        let record = db.request(coop.id, new.id).await;
        assert_eq!(record.status, RequestStatus::Completed);
    }
    let events = db.claim_events().await;
    assert_eq!(events, news.len(), "one event per request");
}
backend_test!(answers_in_one_batch_are_each_applied_once);

/// Starts taken together (the worker's group commit) answer each as alone: a task to
/// run is started (its request RUNNING), a completed one says so, an unknown one too,
/// in one transaction.
async fn starts_in_one_batch_are_each_answered(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "starts", &[Agency::Labor, Agency::Chambers]);
    let done = request(coop.id, "done", &[Agency::Labor]);
    db.store.accept_request(&new).await.unwrap();
    db.store.accept_request(&done).await.unwrap();
    crate::fixtures::run_task(&db.store, done.tasks[0].id, Outcome::Ok).await;

    let unknown = rabt_core::TaskId::new();
    let starts = [
        (new.tasks[1].id, now()),
        (done.tasks[0].id, now()),
        (unknown, now()),
        (new.tasks[0].id, now()),
    ];
    let taken = db.store.take_tasks(&starts).await;
    let ids = |taken: &Result<rabt_store::Taken, rabt_store::StoreError>| match taken {
        Ok(rabt_store::Taken::Started(task)) => Some((task.id, task.attempts)),
        _ => None,
    };
    assert_eq!(ids(&taken[0]), Some((new.tasks[1].id, 1)), "{taken:?}");
    assert_eq!(ids(&taken[3]), Some((new.tasks[0].id, 1)), "{taken:?}");
    assert!(
        matches!(taken[1], Ok(rabt_store::Taken::AlreadyCompleted(_))),
        "{taken:?}"
    );
    assert!(
        matches!(taken[2], Ok(rabt_store::Taken::NotFound)),
        "{taken:?}"
    );
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Running);
    let query = rabt_store::AuditQuery {
        request: Some(new.id),
        limit: 10,
        ..rabt_store::AuditQuery::default()
    };
    let log = db.store.audit_log(&query).await.unwrap();
    let started = log.iter().filter(|e| e.action == "task.started").count();
    assert_eq!(started, 2);
}
backend_test!(starts_in_one_batch_are_each_answered);

/// A batch of starts that holds one task twice (redelivered while its first start
/// waited) starts it twice, as one start after the other would.
async fn a_task_twice_in_one_batch_of_starts_is_started_twice(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "twice", &[Agency::Labor, Agency::Chambers]);
    db.store.accept_request(&new).await.unwrap();
    let (first, second) = (new.tasks[0].id, new.tasks[1].id);
    let starts = [(first, now()), (second, now()), (first, now())];
    let attempts: Vec<_> = db
        .store
        .take_tasks(&starts)
        .await
        .into_iter()
        .map(|taken| match taken {
            Ok(rabt_store::Taken::Started(task)) => (task.id, task.attempts),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(attempts, [(first, 1), (second, 1), (first, 2)]);
}
backend_test!(a_task_twice_in_one_batch_of_starts_is_started_twice);

/// A start the state machine refuses (a check still blocked) costs its batch's
/// transaction, and the others are started one by one: only the refused one fails.
async fn a_refused_start_fails_alone(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let mut new = request(coop.id, "refused", &[Agency::Labor, Agency::Chambers]);
    new.tasks[1].blocked = true;
    new.tasks[1].input = serde_json::Value::Null;
    let other = request(coop.id, "other", &[Agency::SaudiPost]);
    db.store.accept_request(&new).await.unwrap();
    db.store.accept_request(&other).await.unwrap();
    let starts = [
        (new.tasks[0].id, now()),
        (new.tasks[1].id, now()),
        (other.tasks[0].id, now()),
    ];
    let taken = db.store.take_tasks(&starts).await;
    assert!(
        matches!(&taken[0], Ok(rabt_store::Taken::Started(t)) if t.attempts == 1),
        "{taken:?}"
    );
    assert!(taken[1].is_err(), "{taken:?}");
    assert!(
        matches!(&taken[2], Ok(rabt_store::Taken::Started(t)) if t.attempts == 1),
        "{taken:?}"
    );
    for (request, status) in [
        (new.id, RequestStatus::Running),
        (other.id, RequestStatus::Running),
    ] {
        assert_eq!(db.request(coop.id, request).await.status, status);
    }
    let blocked = db.request(coop.id, new.id).await.tasks[1].state;
    assert_eq!(blocked, rabt_core::TaskState::Blocked);
}
backend_test!(a_refused_start_fails_alone);

/// The worker's group commit of answers is keyed by request: the answers to one
/// request's checks that arrive together are written by one writer, in at most two
/// transactions (the first, held back here by a lock on the requests, and the rest),
/// not spread over the writers to queue for that row one behind the other. (SQLite has
/// one writer either way; PostgreSQL's four are what the keying is for.)
async fn answers_to_one_request_share_a_writer(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let agencies = [
        Agency::Labor,
        Agency::Chambers,
        Agency::SaudiPost,
        Agency::Interior,
        Agency::Health,
        Agency::Municipal,
        Agency::Interior,
        Agency::Health,
    ];
    let new = request(coop.id, "keyed", &agencies);
    db.store.accept_request(&new).await.unwrap();
    for task in &new.tasks {
        db.store.start_task(task.id, now()).await.unwrap();
    }
    let group = rabt_store::CompletionGroup::new(db.store.clone());
    let held = db.hold_requests().await;
    let answers: Vec<_> = new
        .tasks
        .iter()
        .map(|task| {
            let group = group.clone();
            let completion = answer(task.id, Outcome::Ok);
            let request = new.id;
            tokio::spawn(async move { group.complete(request, completion).await })
        })
        .collect();
    eventually("every answer queued", || async {
        (group.stats().queued == 8).then_some(())
    })
    .await;
    held.release().await;
    let mut verdicts = Vec::new();
    for answer in answers {
        match answer.await.unwrap().unwrap() {
            Completion::Applied {
                request_completed: Some(done),
                ..
            } => verdicts.push(done.verdict),
            Completion::Applied { .. } => {}
            Completion::AlreadyCompleted => panic!("each task was answered once"),
        }
    }
    assert_eq!(verdicts, [Verdict::Pass], "the request completes once");
    let stats = group.stats();
    assert_eq!(stats.requests, 8);
    assert!(stats.batches <= 2, "{stats:?}");
    assert_eq!(db.claim_events().await, 1);
}
backend_test!(answers_to_one_request_share_a_writer);
