//! A task's life on the worker path, and a request's verdict.

use std::time::Duration;

use rabt_core::{
    Agency, CooperativeId, Event, EventV1, Outcome, RequestStatus, TaskId, TaskState, Verdict,
};
use rabt_store::{
    AuditQuery, Completion, EVENTS_EXCHANGE, NewRequest, RequestCompleted, StartResult, StoreError,
};

use crate::fixtures::{answer, cooperative, now, request, run_task};
use crate::harness::{TestDb, backend_test};

/// Runs a two-task request whose tasks answer `outcomes` and checks its verdict.
async fn check_verdict(
    db: &TestDb,
    key: &str,
    outcomes: [Outcome; 2],
    second_required: bool,
    verdict: Verdict,
) {
    let coop = cooperative(&db.store).await;
    let mut new = request(coop.id, key, &[Agency::Labor, Agency::Chambers]);
    new.tasks[1].required = second_required;
    db.store.accept_request(&new).await.unwrap();

    let first = run_task(&db.store, new.tasks[0].id, outcomes[0]).await;
    let pending = Completion::Applied {
        request_completed: None,
        checks_waiting: false,
        decided: None,
    };
    assert_eq!(first, pending);
    let running = db.store.get_request(coop.id, new.id).await.unwrap();
    assert_eq!(running.unwrap().status, RequestStatus::Running);

    let last = run_task(&db.store, new.tasks[1].id, outcomes[1]).await;
    let done = RequestCompleted {
        request: new.id,
        cooperative: coop.id,
        verdict,
    };
    assert_eq!(
        last,
        Completion::Applied {
            request_completed: Some(done),
            checks_waiting: false,
            decided: None,
        }
    );

    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Completed);
    assert_eq!(record.verdict, Some(verdict));
    assert!(record.completed_at.is_some());
    let states: Vec<_> = record.tasks.iter().map(|t| t.state).collect();
    let expected = outcomes.map(TaskState::Completed);
    assert_eq!(states, expected);
    assert_eq!(record.tasks[0].latency_ms, Some(42));
    assert_eq!(record.tasks[0].attempts, 1);
    assert!(record.tasks[0].data.is_some());

    assert_one_event(db, &done).await;
}

/// The outbox holds exactly one event, announcing `done`.
async fn assert_one_event(db: &TestDb, done: &RequestCompleted) {
    let rows = db
        .store
        .claim_outbox(100, Duration::from_secs(60))
        .await
        .unwrap();
    let events: Vec<_> = rows
        .iter()
        .filter(|r| r.exchange == EVENTS_EXCHANGE)
        .collect();
    assert_eq!(events.len(), 1);
    let event: Event = serde_json::from_slice(&events[0].body).unwrap();
    let expected = Event::V1(EventV1::RequestCompleted {
        request: done.request,
        cooperative: done.cooperative,
        verdict: done.verdict,
    });
    assert_eq!(event, expected);
    assert_eq!(events[0].routing_key, event.routing_key());
}

async fn verdicts_follow_the_outcomes(db: TestDb) {
    use Outcome::{Mismatch, NotFound, Ok, UpstreamError};
    check_verdict(&db, "pass", [Ok, Ok], true, Verdict::Pass).await;
    check_verdict(&db, "fail", [Ok, Mismatch], true, Verdict::Fail).await;
    check_verdict(&db, "partial", [UpstreamError, Ok], true, Verdict::Partial).await;
    // An optional check never changes the verdict.
    check_verdict(&db, "optional", [Ok, NotFound], false, Verdict::Pass).await;
}
backend_test!(verdicts_follow_the_outcomes);

async fn completing_twice_changes_nothing(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Interior]);
    db.store.accept_request(&new).await.unwrap();
    let task = new.tasks[0].id;
    let first = run_task(&db.store, task, Outcome::Ok).await;
    assert!(matches!(
        first,
        Completion::Applied {
            request_completed: Some(_),
            ..
        }
    ));
    let audit_before = db.count("audit_log").await;
    let outbox_before = db.count("outbox").await;

    let again = db
        .store
        .complete_task(&answer(task, Outcome::Mismatch))
        .await
        .unwrap();
    assert_eq!(again, Completion::AlreadyCompleted);
    assert_eq!(db.count("audit_log").await, audit_before);
    assert_eq!(db.count("outbox").await, outbox_before);
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(
        db.store.start_task(task, now()).await.unwrap(),
        StartResult::AlreadyCompleted
    );

    let query = AuditQuery {
        task: Some(task),
        action: Some("task.completed".to_owned()),
        limit: 10,
        ..AuditQuery::default()
    };
    let completed = db.store.audit_log(&query).await.unwrap();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].outcome.as_deref(), Some("OK"));
    assert_eq!(completed[0].latency_ms, Some(42));
}
backend_test!(completing_twice_changes_nothing);

/// A one-task request for an asynchronous agency; returns the request and its task.
async fn municipal_request(db: &TestDb) -> (CooperativeId, NewRequest, TaskId) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Municipal]);
    db.store.accept_request(&new).await.unwrap();
    let task = new.tasks[0].id;
    (coop.id, new, task)
}

async fn actions_of(db: &TestDb, task: TaskId) -> Vec<String> {
    let query = AuditQuery {
        task: Some(task),
        limit: 100,
        ..AuditQuery::default()
    };
    let log = db.store.audit_log(&query).await.unwrap();
    log.into_iter().map(|e| e.action).collect()
}

async fn tasks_start_again_and_retry(db: TestDb) {
    let (coop, new, task) = municipal_request(&db).await;
    let store = &db.store;
    assert!(!store.schedule_retry(task, "idle", now()).await.unwrap());
    let err = store.complete_task(&answer(task, Outcome::Ok)).await;
    assert!(
        matches!(err, Err(StoreError::IllegalTransition(_))),
        "{err:?}"
    );

    let first = store.start_task(task, now()).await.unwrap();
    assert_eq!(first, StartResult::Started { attempt: 1 });
    // A worker died mid-call: the redelivered message starts it again.
    let second = store.start_task(task, now()).await.unwrap();
    assert_eq!(second, StartResult::Started { attempt: 2 });
    let no_failure = store.task_for_work(task).await.unwrap().unwrap();
    assert_eq!(no_failure.first_failure_at, None);
    let failed_at = now() - chrono::Duration::seconds(5);
    assert!(
        store
            .schedule_retry(task, "upstream 503", failed_at)
            .await
            .unwrap()
    );

    let record = store.task_for_work(task).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (TaskState::Queued, 2));
    assert_eq!(record.first_failure_at, Some(failed_at));
    assert_eq!((record.request, record.cooperative), (new.id, coop));
    assert_eq!(record.input, new.tasks[0].input);
    assert_eq!(record.traceparent, new.traceparent);
    let third = store.start_task(task, now()).await.unwrap();
    assert_eq!(third, StartResult::Started { attempt: 3 });
    // A second failure keeps the first one's time.
    assert!(store.schedule_retry(task, "timeout", now()).await.unwrap());
    let again = store.task_for_work(task).await.unwrap().unwrap();
    assert_eq!(again.first_failure_at, Some(failed_at));
    assert_eq!(
        store.start_task(task, now()).await.unwrap(),
        StartResult::Started { attempt: 4 }
    );
    let expected = [
        "task.queued",
        "task.started",
        "task.started",
        "task.retry_scheduled",
        "task.started",
        "task.retry_scheduled",
        "task.started",
    ];
    assert_eq!(actions_of(&db, task).await, expected);
}
backend_test!(tasks_start_again_and_retry);

async fn asynchronous_agencies_answer_by_callback(db: TestDb) {
    let (coop, new, task) = municipal_request(&db).await;
    let store = &db.store;
    store.start_task(task, now()).await.unwrap();
    assert!(store.submit_task(task, "BLD-0042", now()).await.unwrap());
    assert!(!store.submit_task(task, "BLD-again", now()).await.unwrap());
    let redelivered = store.start_task(task, now()).await.unwrap();
    assert_eq!(redelivered, StartResult::AwaitingCallback);

    let found = store.task_by_upstream_ref(Agency::Municipal, "BLD-0042");
    let found = found.await.unwrap().unwrap();
    assert_eq!((found.id, found.state), (task, TaskState::AwaitingCallback));
    let elsewhere = store.task_by_upstream_ref(Agency::Health, "BLD-0042");
    assert!(elsewhere.await.unwrap().is_none());

    let done = store.complete_task(&answer(task, Outcome::Mismatch)).await;
    let Ok(Completion::Applied {
        request_completed: Some(completed),
        ..
    }) = done
    else {
        panic!("the request did not complete: {done:?}");
    };
    assert_eq!(completed.verdict, Verdict::Fail);
    let view = store.get_request(coop, new.id).await.unwrap().unwrap();
    assert_eq!(view.tasks[0].upstream_ref.as_deref(), Some("BLD-0042"));
    let expected = [
        "task.queued",
        "task.started",
        "task.submitted",
        "task.completed",
    ];
    assert_eq!(actions_of(&db, task).await, expected);
}
backend_test!(asynchronous_agencies_answer_by_callback);

async fn unknown_tasks_are_reported(db: TestDb) {
    let started = db.store.start_task(TaskId::new(), now()).await.unwrap();
    assert_eq!(started, StartResult::NotFound);
    let completed = db
        .store
        .complete_task(&answer(TaskId::new(), Outcome::Ok))
        .await;
    assert!(
        matches!(completed, Err(StoreError::NotFound { what: "task" })),
        "{completed:?}"
    );
    assert!(
        db.store
            .task_for_work(TaskId::new())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !db.store
            .submit_task(TaskId::new(), "r", now())
            .await
            .unwrap()
    );
}
backend_test!(unknown_tasks_are_reported);
