//! Dead letters recorded from the broker: a known task ends UPSTREAM_ERROR once, with its
//! request's verdict and event; anything else is kept for operators to read.

use std::time::Duration;

use rabt_core::{Agency, Outcome, RequestStatus, TaskId, TaskMessage, TaskState, Verdict};
use rabt_store::{
    Actor, AuditQuery, DeadLetterQuery, DeadLetterState, EVENTS_EXCHANGE, NewDeadLetter,
    StartResult, Store, TASKS_EXCHANGE,
};

use crate::fixtures::{cooperative, now, request};
use crate::harness::{TestDb, backend_test};

/// A dead letter as the drain reads it from `agency`'s queue, naming `task`'s message.
pub(crate) fn letter(agency: Agency, task: Option<TaskId>, reason: &str) -> NewDeadLetter {
    let body = match task {
        Some(task) => format!(r#"{{"v":"1","task":"{task}"}}"#).into_bytes(),
        None => b"\xff not a task".to_vec(),
    };
    NewDeadLetter {
        agency,
        task,
        message_id: Some(task.map_or_else(|| "poison-1".to_owned(), |t| t.to_string())),
        reason: reason.to_owned(),
        body,
        headers: vec![("x-rabt-dead-reason".to_owned(), reason.to_owned())],
        dead_at: now(),
    }
}

/// Outbox rows on `exchange`, claimed with a zero lease so they stay claimable.
pub(crate) async fn outbox_on(store: &Store, exchange: &str) -> usize {
    let rows = store.claim_outbox(1000, Duration::ZERO).await.unwrap();
    rows.iter().filter(|r| r.exchange == exchange).count()
}

/// How many audit entries have `action`.
pub(crate) async fn audited(store: &Store, action: &str) -> Vec<rabt_store::AuditEntry> {
    let query = AuditQuery {
        action: Some(action.to_owned()),
        limit: 1000,
        ..AuditQuery::default()
    };
    store.audit_log(&query).await.unwrap()
}

async fn recording_ends_the_task_and_completes_the_request_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Interior]);
    db.store.accept_request(&new).await.unwrap();
    let task = new.tasks[0].id;
    // A worker died mid-call, again and again, until the broker gave up on the message.
    let started = db.store.start_task(task, now()).await.unwrap();
    assert!(matches!(started, StartResult::Started { .. }));
    let events_before = outbox_on(&db.store, EVENTS_EXCHANGE).await;

    let dead = letter(Agency::Interior, Some(task), "delivery_limit");
    let recorded = db.store.record_dead_letter(&dead).await.unwrap();
    assert!(recorded.new);
    let ended = recorded.ended.expect("the running task ended");
    assert_eq!((ended.task, ended.request), (task, new.id));
    assert!(!ended.composite_check);
    let done = ended.request_completed.expect("its last task: a verdict");
    assert_eq!(done.verdict, Verdict::Partial);

    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Completed);
    assert_eq!(record.verdict, Some(Verdict::Partial));
    let view = &record.tasks[0];
    assert_eq!(view.state, TaskState::Completed(Outcome::UpstreamError));
    assert_eq!(
        view.last_error.as_deref(),
        Some("dead-lettered: delivery_limit")
    );
    assert_eq!(
        outbox_on(&db.store, EVENTS_EXCHANGE).await,
        events_before + 1
    );

    // The drain is redelivered the same message (it died before its ack): nothing twice.
    let again = db.store.record_dead_letter(&dead).await.unwrap();
    assert_eq!(
        (again.id, again.new, again.ended),
        (recorded.id, false, None)
    );
    assert_eq!(db.count("dead_letters").await, 1);
    assert_eq!(
        outbox_on(&db.store, EVENTS_EXCHANGE).await,
        events_before + 1
    );
    assert_eq!(audited(&db.store, "request.completed").await.len(), 1);
    let completed = audited(&db.store, "task.completed").await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].outcome.as_deref(), Some("UPSTREAM_ERROR"));
    assert_eq!(completed[0].actor, Actor::System);
    assert_eq!(audited(&db.store, "task.dead_lettered").await.len(), 1);
    let entries = audited(&db.store, "dead_letter.recorded").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].task, Some(task));
    assert_eq!(entries[0].detail["dead_letter"], recorded.id.to_string());

    let stored = db.store.dead_letter(recorded.id).await.unwrap().unwrap();
    assert_eq!(stored.task, Some(task));
    assert_eq!(stored.request, Some(new.id));
    assert_eq!(stored.reason, "delivery_limit");
    assert_eq!(stored.body, dead.body);
    assert_eq!(stored.headers, dead.headers);
    assert_eq!(stored.state(), DeadLetterState::Open);
    assert!(stored.replayable);
}
backend_test!(recording_ends_the_task_and_completes_the_request_once);

async fn a_queued_task_ends_too_and_others_of_the_request_keep_it_open(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Labor, Agency::Chambers]);
    db.store.accept_request(&new).await.unwrap();
    let recorded = db
        .store
        .record_dead_letter(&letter(
            Agency::Labor,
            Some(new.tasks[0].id),
            "undecodable message",
        ))
        .await
        .unwrap();
    let ended = recorded.ended.expect("a queued task ends too");
    assert_eq!(ended.request_completed, None, "the chambers task is open");
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Accepted);
    assert_eq!(
        record.tasks[0].state,
        TaskState::Completed(Outcome::UpstreamError)
    );
    assert_eq!(record.tasks[1].state, TaskState::Queued);
}
backend_test!(a_queued_task_ends_too_and_others_of_the_request_keep_it_open);

async fn messages_naming_no_task_of_ours_are_kept_without_a_task(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Labor]);
    db.store.accept_request(&new).await.unwrap();
    // Undecodable; an unknown task; a task of another agency's queue.
    let undecodable = letter(Agency::Labor, None, "undecodable message");
    let unknown = letter(Agency::Labor, Some(TaskId::new()), "unknown task");
    let elsewhere = letter(Agency::Chambers, Some(new.tasks[0].id), "delivery_limit");
    for dead in [&undecodable, &unknown, &elsewhere] {
        let recorded = db.store.record_dead_letter(dead).await.unwrap();
        assert!(recorded.new);
        assert_eq!(recorded.ended, None);
        let stored = db.store.dead_letter(recorded.id).await.unwrap().unwrap();
        assert_eq!((stored.task, stored.request), (None, None));
        assert!(!stored.replayable);
        assert_eq!(stored.body, dead.body, "bodies are kept byte for byte");
    }
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.tasks[0].state, TaskState::Queued);
    assert_eq!(outbox_on(&db.store, EVENTS_EXCHANGE).await, 0);
}
backend_test!(messages_naming_no_task_of_ours_are_kept_without_a_task);

async fn a_completed_or_awaiting_task_is_not_ended_again(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Municipal, Agency::SaudiPost]);
    db.store.accept_request(&new).await.unwrap();
    let (awaiting, done) = (new.tasks[0].id, new.tasks[1].id);
    db.store.start_task(awaiting, now()).await.unwrap();
    assert!(
        db.store
            .submit_task(awaiting, "BLD-1", now())
            .await
            .unwrap()
    );
    crate::fixtures::run_task(&db.store, done, Outcome::Ok).await;
    for task in [awaiting, done] {
        let agency = if task == awaiting {
            Agency::Municipal
        } else {
            Agency::SaudiPost
        };
        let recorded = db
            .store
            .record_dead_letter(&letter(agency, Some(task), "delivery_limit"))
            .await
            .unwrap();
        assert_eq!(recorded.ended, None);
        let stored = db.store.dead_letter(recorded.id).await.unwrap().unwrap();
        assert_eq!(stored.task, Some(task), "the task is known");
        assert!(!stored.replayable, "but it did not end by this dead letter");
    }
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.tasks[0].state, TaskState::AwaitingCallback);
    assert_eq!(record.tasks[1].state, TaskState::Completed(Outcome::Ok));
}
backend_test!(a_completed_or_awaiting_task_is_not_ended_again);

async fn text_the_database_refuses_is_cleaned(db: TestDb) {
    let mut dead = letter(Agency::Health, None, "bad\0reason");
    dead.message_id = Some("id\0with nul".to_owned());
    dead.headers = vec![("x-a\0".to_owned(), "v\0".to_owned())];
    dead.reason = format!("{}{}", "r".repeat(600), '\0');
    let recorded = db.store.record_dead_letter(&dead).await.unwrap();
    let stored = db.store.dead_letter(recorded.id).await.unwrap().unwrap();
    assert_eq!(stored.reason.len(), 500);
    assert_eq!(stored.message_id.as_deref(), Some("idwith nul"));
    assert_eq!(stored.headers, vec![("x-a".to_owned(), "v".to_owned())]);
}
backend_test!(text_the_database_refuses_is_cleaned);

async fn lists_filter_by_agency_and_state_and_page_newest_first(db: TestDb) {
    let mut ids = Vec::new();
    for agency in [Agency::Labor, Agency::Health, Agency::Labor, Agency::Labor] {
        let mut dead = letter(agency, None, "undecodable message");
        dead.message_id = None;
        ids.push(db.store.record_dead_letter(&dead).await.unwrap().id);
    }
    db.store
        .purge_dead_letter(ids[0], "huda", now())
        .await
        .unwrap();
    let list = |agency, state, before, limit| {
        let store = db.store.clone();
        async move {
            let query = DeadLetterQuery {
                agency,
                state,
                before,
                limit,
            };
            let page = store.list_dead_letters(&query).await.unwrap();
            page.into_iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(None, None, None, 100).await,
        vec![ids[3], ids[2], ids[1], ids[0]]
    );
    let labor_open = list(Some(Agency::Labor), Some(DeadLetterState::Open), None, 100).await;
    assert_eq!(labor_open, vec![ids[3], ids[2]]);
    assert_eq!(
        list(None, Some(DeadLetterState::Purged), None, 100).await,
        vec![ids[0]]
    );
    assert_eq!(
        list(None, Some(DeadLetterState::Replayed), None, 100).await,
        vec![]
    );
    assert_eq!(list(None, None, None, 2).await, vec![ids[3], ids[2]]);
    assert_eq!(
        list(None, None, Some(ids[2]), 2).await,
        vec![ids[1], ids[0]]
    );
}
backend_test!(lists_filter_by_agency_and_state_and_page_newest_first);

/// The task message a replay put in the outbox, decoded.
pub(crate) async fn queued_task_messages(store: &Store) -> Vec<TaskMessage> {
    let rows = store.claim_outbox(1000, Duration::ZERO).await.unwrap();
    rows.iter()
        .filter(|r| r.exchange == TASKS_EXCHANGE)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}
