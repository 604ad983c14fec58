//! Operators replaying and purging dead letters: a replay reopens its task and request
//! once, however many operators click at once; the task then completes the request
//! again; every replay and purge is audited with the operator as actor.

use std::time::Duration;

use rabt_core::{
    Agency, CallbackId, DeadLetterId, Outcome, RequestId, RequestStatus, TaskId, TaskMessage,
    TaskState, Verdict,
};
use rabt_store::{
    Actor, Completion, DeadLetterState, EVENTS_EXCHANGE, NewCallback, PurgeOutcome, ReplayOutcome,
    Store, StoreError,
};
use serde_json::json;

use crate::dead_letters::{audited, letter, outbox_on, queued_task_messages};
use crate::fixtures::{cooperative, now, request, run_task};
use crate::harness::{TestDb, backend_test};

/// A one-task request whose task a dead letter ended; the outbox emptied.
async fn dead_lettered(db: &TestDb, agency: Agency) -> (RequestId, TaskId, DeadLetterId) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, &format!("k-{}", TaskId::new()), &[agency]);
    db.store.accept_request(&new).await.unwrap();
    let task = new.tasks[0].id;
    db.store.start_task(task, now()).await.unwrap();
    let recorded = db
        .store
        .record_dead_letter(&letter(agency, Some(task), "delivery_limit"))
        .await
        .unwrap();
    empty_outbox(&db.store).await;
    (new.id, task, recorded.id)
}

async fn empty_outbox(store: &Store) {
    let rows = store.claim_outbox(1000, Duration::ZERO).await.unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    store.delete_outbox(&ids).await.unwrap();
}

async fn a_replay_reopens_once_under_concurrency_and_the_task_completes_once(db: TestDb) {
    let (request_id, task, dead) = dead_lettered(&db, Agency::Interior).await;
    let replays: Vec<_> = (0..8)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let operator = format!("operator-{i}");
                let outcome = store.replay_dead_letter(dead, &operator, now()).await;
                (operator, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for replay in replays {
        let (operator, outcome) = replay.await.unwrap();
        match outcome.unwrap() {
            ReplayOutcome::Reopened { task: t, request } => {
                assert_eq!((t, request), (task, request_id));
                winners.push(operator);
            }
            ReplayOutcome::AlreadyReplayed { by, .. } => assert!(by.is_some()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "reopened exactly once");
    let stored = db.store.dead_letter(dead).await.unwrap().unwrap();
    assert_eq!(stored.state(), DeadLetterState::Replayed);
    assert_eq!(stored.replayed_by.as_deref(), Some(winners[0].as_str()));
    assert!(!stored.replayable);

    let record = db.store.task_for_work(task).await.unwrap().unwrap();
    assert_eq!((record.state, record.attempts), (TaskState::Queued, 0));
    assert!(record.deadline_at > now(), "a fresh deadline");
    let messages = queued_task_messages(&db.store).await;
    assert_eq!(messages.len(), 1, "one message for the reopened task");
    assert!(matches!(messages[0], TaskMessage::V1 { task: t, .. } if t == task));
    let replayed = audited(&db.store, "dead_letter.replayed").await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].actor, Actor::Operator(winners[0].clone()));
    assert_eq!(replayed[0].task, Some(task));
    assert_eq!(replayed[0].request, Some(request_id));
    assert_eq!(replayed[0].detail["request_reopened"], true);

    // The task runs once more and the request completes again, with a new event.
    let completion = run_task(&db.store, task, Outcome::Ok).await;
    let Completion::Applied {
        request_completed: Some(done),
        ..
    } = completion
    else {
        panic!("{completion:?}");
    };
    assert_eq!(done.verdict, Verdict::Pass);
    assert_eq!(outbox_on(&db.store, EVENTS_EXCHANGE).await, 1);
    let view = db.store.task_for_work(task).await.unwrap().unwrap();
    assert_eq!(view.state, TaskState::Completed(Outcome::Ok));
    assert_eq!(audited(&db.store, "request.completed").await.len(), 2);
    // A second replay changes nothing.
    let again = db
        .store
        .replay_dead_letter(dead, "late", now())
        .await
        .unwrap();
    assert!(
        matches!(again, ReplayOutcome::AlreadyReplayed { .. }),
        "{again:?}"
    );
}
backend_test!(a_replay_reopens_once_under_concurrency_and_the_task_completes_once);

async fn a_request_still_running_stays_running_and_waits_for_the_task(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Labor, Agency::Chambers]);
    db.store.accept_request(&new).await.unwrap();
    db.store.start_task(new.tasks[1].id, now()).await.unwrap();
    let dead = db
        .store
        .record_dead_letter(&letter(
            Agency::Labor,
            Some(new.tasks[0].id),
            "delivery_limit",
        ))
        .await
        .unwrap();
    let outcome = db.store.replay_dead_letter(dead.id, "huda", now()).await;
    assert!(
        matches!(outcome, Ok(ReplayOutcome::Reopened { .. })),
        "{outcome:?}"
    );
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Running);
    // Both tasks must answer now before the request completes.
    let first = run_task(&db.store, new.tasks[0].id, Outcome::Ok).await;
    assert_eq!(
        first,
        Completion::Applied {
            request_completed: None,
            checks_waiting: false,
            decided: None,
        }
    );
    db.store
        .complete_task(&crate::fixtures::answer(new.tasks[1].id, Outcome::Ok))
        .await
        .unwrap();
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
}
backend_test!(a_request_still_running_stays_running_and_waits_for_the_task);

async fn replaying_one_dead_letter_closes_the_others_of_its_task(db: TestDb) {
    let (_, task, first) = dead_lettered(&db, Agency::Chambers).await;
    // A duplicate of the task's message died too, with another message id.
    let mut copy = letter(Agency::Chambers, Some(task), "delivery_limit");
    copy.message_id = Some("copy".to_owned());
    let second = db.store.record_dead_letter(&copy).await.unwrap();
    assert_eq!(second.ended, None, "the task had ended already");
    let outcome = db.store.replay_dead_letter(second.id, "huda", now()).await;
    assert!(
        matches!(outcome, Ok(ReplayOutcome::Reopened { .. })),
        "{outcome:?}"
    );
    for id in [first, second.id] {
        let stored = db.store.dead_letter(id).await.unwrap().unwrap();
        assert_eq!(stored.state(), DeadLetterState::Replayed, "{id}");
    }
    let entries = audited(&db.store, "dead_letter.replayed").await;
    assert_eq!(entries.len(), 2);
    let along = entries
        .iter()
        .find(|e| e.detail["dead_letter"] == first.to_string())
        .unwrap();
    assert_eq!(along.detail["with"], second.id.to_string());
    assert_eq!(queued_task_messages(&db.store).await.len(), 1);
}
backend_test!(replaying_one_dead_letter_closes_the_others_of_its_task);

async fn what_cannot_be_replayed_says_why_and_changes_nothing(db: TestDb) {
    let missing = db
        .store
        .replay_dead_letter(DeadLetterId::new(), "huda", now())
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let poison = db
        .store
        .record_dead_letter(&letter(Agency::Health, None, "undecodable message"))
        .await
        .unwrap();
    let outcome = db
        .store
        .replay_dead_letter(poison.id, "huda", now())
        .await
        .unwrap();
    assert_eq!(outcome, ReplayOutcome::NoTask);
    // A task that completed before its duplicate message died is not reopened.
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::SaudiPost]);
    db.store.accept_request(&new).await.unwrap();
    run_task(&db.store, new.tasks[0].id, Outcome::NotFound).await;
    let late = db
        .store
        .record_dead_letter(&letter(
            Agency::SaudiPost,
            Some(new.tasks[0].id),
            "delivery_limit",
        ))
        .await
        .unwrap();
    let outcome = db
        .store
        .replay_dead_letter(late.id, "huda", now())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReplayOutcome::TaskNotDeadLettered {
            task: new.tasks[0].id,
            state: TaskState::Completed(Outcome::NotFound)
        }
    );
    assert!(audited(&db.store, "dead_letter.replayed").await.is_empty());
    for id in [poison.id, late.id] {
        let stored = db.store.dead_letter(id).await.unwrap().unwrap();
        assert_eq!(stored.state(), DeadLetterState::Open);
    }
}
backend_test!(what_cannot_be_replayed_says_why_and_changes_nothing);

async fn a_purge_is_once_audited_and_ends_replays(db: TestDb) {
    let (_, task, dead) = dead_lettered(&db, Agency::Labor).await;
    assert_eq!(
        db.store
            .purge_dead_letter(dead, "admin", now())
            .await
            .unwrap(),
        PurgeOutcome::Purged
    );
    let again = db
        .store
        .purge_dead_letter(dead, "admin", now())
        .await
        .unwrap();
    assert!(
        matches!(again, PurgeOutcome::AlreadyPurged { .. }),
        "{again:?}"
    );
    let replay = db
        .store
        .replay_dead_letter(dead, "huda", now())
        .await
        .unwrap();
    assert!(matches!(replay, ReplayOutcome::Purged { .. }), "{replay:?}");
    let stored = db.store.dead_letter(dead).await.unwrap().unwrap();
    assert_eq!(stored.state(), DeadLetterState::Purged);
    let view = db.store.task_for_work(task).await.unwrap().unwrap();
    assert_eq!(view.state, TaskState::Completed(Outcome::UpstreamError));
    let purged = audited(&db.store, "dead_letter.purged").await;
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].actor, Actor::Operator("admin".to_owned()));
    assert_eq!(purged[0].task, Some(task));
    // A replayed dead letter is history: it cannot be purged.
    let (_, _, replayed) = dead_lettered(&db, Agency::Labor).await;
    db.store
        .replay_dead_letter(replayed, "huda", now())
        .await
        .unwrap();
    let refused = db
        .store
        .purge_dead_letter(replayed, "admin", now())
        .await
        .unwrap();
    assert!(
        matches!(refused, PurgeOutcome::AlreadyReplayed { .. }),
        "{refused:?}"
    );
    let missing = db
        .store
        .purge_dead_letter(DeadLetterId::new(), "admin", now())
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}
backend_test!(a_purge_is_once_audited_and_ends_replays);

async fn bulk_replays_and_purges_follow_their_filter(db: TestDb) {
    let (_, labor_task, labor) = dead_lettered(&db, Agency::Labor).await;
    let (_, health_task, health) = dead_lettered(&db, Agency::Health).await;
    let poison = db
        .store
        .record_dead_letter(&letter(Agency::Health, None, "undecodable message"))
        .await
        .unwrap()
        .id;
    let results = db
        .store
        .replay_dead_letters(Some(Agency::Labor), "huda", now())
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, labor);
    assert!(matches!(results[0].1, ReplayOutcome::Reopened { task, .. } if task == labor_task));

    let results = db
        .store
        .replay_dead_letters(None, "huda", now())
        .await
        .unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results.contains(&(poison, ReplayOutcome::NoTask)));
    let (_, outcome) = results.iter().find(|(id, _)| *id == health).unwrap();
    assert!(matches!(outcome, ReplayOutcome::Reopened { task, .. } if *task == health_task));
    assert_eq!(queued_task_messages(&db.store).await.len(), 2);

    let purged = db
        .store
        .purge_dead_letters(None, "admin", now())
        .await
        .unwrap();
    assert_eq!(purged, vec![poison], "only the open one");
    assert!(
        db.store
            .purge_dead_letters(None, "admin", now())
            .await
            .unwrap()
            .is_empty()
    );
}
backend_test!(bulk_replays_and_purges_follow_their_filter);

async fn a_callback_no_worker_could_apply_is_queued_again_until_it_is_applied(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "k", &[Agency::Municipal]);
    db.store.accept_request(&new).await.unwrap();
    let task = new.tasks[0].id;
    db.store.start_task(task, now()).await.unwrap();
    db.store.submit_task(task, "INSP-1", now()).await.unwrap();
    let callback = NewCallback {
        id: CallbackId::new(),
        agency: Agency::Municipal,
        webhook_id: "msg_1".to_owned(),
        reference: "INSP-1".to_owned(),
        task,
        request: new.id,
        body: json!({"reference": "INSP-1"}),
        received_at: now(),
        traceparent: None,
    };
    db.store.accept_callback(&callback).await.unwrap();
    empty_outbox(&db.store).await;
    // The worker dead-letters the callback's message (or the broker does, at its limit).
    let message = TaskMessage::CallbackV1 {
        callback: callback.id,
        agency: Agency::Municipal,
    };
    let mut dead = letter(
        Agency::Municipal,
        None,
        "no adapter for the callback's agency",
    );
    dead.message_id = Some(callback.id.to_string());
    dead.body = serde_json::to_vec(&message).unwrap();
    let recorded = db.store.record_dead_letter(&dead).await.unwrap();
    assert_eq!(recorded.ended, None, "the task awaits its callback");
    let stored = db.store.dead_letter(recorded.id).await.unwrap().unwrap();
    assert_eq!((stored.task, stored.callback), (None, Some(callback.id)));
    assert!(stored.replayable);

    let outcome = db
        .store
        .replay_dead_letter(recorded.id, "huda", now())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReplayOutcome::CallbackRequeued {
            callback: callback.id,
            task
        }
    );
    let rows = db.store.claim_outbox(10, Duration::ZERO).await.unwrap();
    let queued: Vec<TaskMessage> = rows
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(queued, [message]);
    let entries = audited(&db.store, "dead_letter.replayed").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].task, entries[0].request),
        (Some(task), Some(new.id))
    );
    assert_eq!(entries[0].detail["callback"], callback.id.to_string());
    let stored = db.store.dead_letter(recorded.id).await.unwrap().unwrap();
    assert_eq!(stored.state(), DeadLetterState::Replayed);

    // A second dead letter of the same callback, once it was applied: nothing to do.
    let again = db.store.record_dead_letter(&dead).await.unwrap();
    assert!(again.new, "the first is closed");
    db.store
        .mark_callback_applied(callback.id, now())
        .await
        .unwrap();
    let stored = db.store.dead_letter(again.id).await.unwrap().unwrap();
    assert!(!stored.replayable);
    let outcome = db
        .store
        .replay_dead_letter(again.id, "huda", now())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReplayOutcome::CallbackApplied {
            callback: callback.id
        }
    );
    // A callback message naming a callback we do not have has nothing to replay.
    let mut unknown = dead.clone();
    unknown.message_id = Some("other".to_owned());
    unknown.body = serde_json::to_vec(&TaskMessage::CallbackV1 {
        callback: CallbackId::new(),
        agency: Agency::Municipal,
    })
    .unwrap();
    let unknown = db.store.record_dead_letter(&unknown).await.unwrap();
    let outcome = db
        .store
        .replay_dead_letter(unknown.id, "huda", now())
        .await
        .unwrap();
    assert_eq!(outcome, ReplayOutcome::NoTask);
}
backend_test!(a_callback_no_worker_could_apply_is_queued_again_until_it_is_applied);
