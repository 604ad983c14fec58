//! Composite requests: blocked checks are released or skipped exactly once.

use chrono::Duration;
use rabt_core::{Agency, Outcome, RequestStatus, TaskState, Verdict};
use rabt_store::{AuditQuery, Completion, Taken};
use serde_json::json;

use crate::fixtures::{cooperative, now, request, run_task};
use crate::harness::{TestDb, backend_test};

/// A composite-like request: a root check, then two checks blocked on it (the second
/// one run per element, index 1).
fn composite(cooperative: rabt_core::CooperativeId) -> rabt_store::NewRequest {
    let mut new = request(
        cooperative,
        "k",
        &[Agency::Labor, Agency::SaudiPost, Agency::Interior],
    );
    new.tasks[0].child = Some(("registry".into(), None));
    new.tasks[1].child = Some(("hqAddress".into(), None));
    new.tasks[1].blocked = true;
    new.tasks[1].input = serde_json::Value::Null;
    new.tasks[2].child = Some(("boardIdentity".into(), Some(1)));
    new.tasks[2].blocked = true;
    new
}

/// A cooperative and its composite request, accepted: where most tests here start.
pub(crate) async fn accepted(db: &TestDb) -> (rabt_store::Cooperative, rabt_store::NewRequest) {
    let coop = cooperative(&db.store).await;
    let new = composite(coop.id);
    db.store.accept_request(&new).await.unwrap();
    (coop, new)
}

async fn blocked_checks_wait_without_a_message(db: TestDb) {
    let (coop, new) = accepted(&db).await;
    assert_eq!(db.count("outbox").await, 1, "only the root check is queued");
    let record = db.request(coop.id, new.id).await;
    let states: Vec<_> = record.tasks.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [TaskState::Queued, TaskState::Blocked, TaskState::Blocked]
    );
    assert_eq!(record.tasks[0].child.as_deref(), Some("registry"));
    assert_eq!(record.tasks[2].child.as_deref(), Some("boardIdentity"));
    assert_eq!(record.tasks[2].index, Some(1));
    assert_eq!(record.tasks[1].index, None);
    let work = db.store.request_for_work(new.id).await.unwrap().unwrap();
    assert_eq!(work.input, new.input, "workers see the request's input");
    let blocked = db.audited("task.blocked", Some(new.id)).await;
    assert_eq!(blocked.len(), 2);
}
backend_test!(blocked_checks_wait_without_a_message);

async fn a_blocked_check_is_released_once(db: TestDb) {
    let (_, new) = accepted(&db).await;
    let task = new.tasks[1].id;
    let input = json!({"shortAddress": "RRRD2929"});
    let deadline = now() + Duration::seconds(30);
    assert!(
        db.store
            .release_task(task, &input, deadline, now())
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .release_task(task, &input, deadline, now())
            .await
            .unwrap(),
        "released twice"
    );
    assert_eq!(db.count("outbox").await, 2);
    let record = db.store.task_for_work(task).await.unwrap().unwrap();
    assert_eq!(record.state, TaskState::Queued);
    assert_eq!(record.input, input);
    assert_eq!(record.deadline_at, deadline);
    assert_eq!(record.child.as_deref(), Some("hqAddress"));
    // A released check runs like any other.
    assert!(matches!(
        run_task(&db.store, task, Outcome::Ok).await,
        Completion::Applied { .. }
    ));
}
backend_test!(a_blocked_check_is_released_once);

/// The checks one answer unblocked are released in one transaction, each once: a
/// check already released (by a worker that got there first) is left as it is.
async fn the_checks_an_answer_unblocked_are_released_together(db: TestDb) {
    let (_, new) = accepted(&db).await;
    let deadline = now() + Duration::seconds(30);
    let release = |task, input| rabt_store::Release {
        task,
        input,
        deadline_at: deadline,
    };
    let address = json!({"shortAddress": "RRRD2929"});
    let identity = json!({"idNumber": "1000000008"});
    assert!(
        db.store
            .release_task(new.tasks[2].id, &identity, deadline, now())
            .await
            .unwrap()
    );
    let released = db
        .store
        .release_tasks(
            &[
                release(new.tasks[1].id, address.clone()),
                release(new.tasks[2].id, json!({"idNumber": "2000000005"})),
                release(new.tasks[0].id, json!({})),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(released, [true, false, false], "only the BLOCKED one");
    // The root's message, the first release's and the second's.
    assert_eq!(db.count("outbox").await, 3);
    let hq = db
        .store
        .task_for_work(new.tasks[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (hq.state, hq.input, hq.deadline_at),
        (TaskState::Queued, address, deadline)
    );
    let board = db
        .store
        .task_for_work(new.tasks[2].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(board.input, identity, "left as the first release made it");
    let log = db.audited("task.released", Some(new.id)).await;
    assert_eq!(log.len(), 2);
}
backend_test!(the_checks_an_answer_unblocked_are_released_together);

async fn skipped_checks_complete_the_request(db: TestDb) {
    let (coop, new) = accepted(&db).await;
    run_task(&db.store, new.tasks[0].id, Outcome::NotFound).await;
    let reason = "not run: registry answered NOT_FOUND";
    let first = db
        .store
        .skip_task(new.tasks[1].id, Outcome::NotFound, reason, now())
        .await
        .unwrap();
    assert_eq!(
        first,
        Completion::Applied {
            request_completed: None,
            checks_waiting: true,
            decided: None,
        },
        "the other check still waits for the registry's outcome"
    );
    let last = db
        .store
        .skip_task(new.tasks[2].id, Outcome::NotFound, reason, now())
        .await
        .unwrap();
    let Completion::Applied {
        request_completed: Some(done),
        ..
    } = last
    else {
        panic!("the last skip completes the request: {last:?}");
    };
    assert_eq!(done.verdict, Verdict::Fail);
    let again = db
        .store
        .skip_task(new.tasks[2].id, Outcome::NotFound, reason, now())
        .await
        .unwrap();
    assert_eq!(again, Completion::AlreadyCompleted);
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Completed);
    assert_eq!(record.tasks[1].last_error.as_deref(), Some(reason));
    // A queued or completed task is never skipped.
    assert_eq!(
        db.store
            .skip_task(new.tasks[0].id, Outcome::Timeout, reason, now())
            .await
            .unwrap(),
        Completion::AlreadyCompleted
    );
}
backend_test!(skipped_checks_complete_the_request);

async fn an_overdue_blocked_check_times_out(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let mut new = composite(coop.id);
    let t0 = now();
    new.tasks[1].deadline_at = t0;
    db.store.accept_request(&new).await.unwrap();
    let expired = db.store.expire_overdue_tasks(t0, 10).await.unwrap();
    assert_eq!(expired.requests, vec![new.id]);
    let record = db
        .store
        .task_for_work(new.tasks[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, TaskState::Completed(Outcome::Timeout));
}
backend_test!(an_overdue_blocked_check_times_out);

async fn concurrent_releases_apply_once(db: TestDb) {
    let (_, new) = accepted(&db).await;
    let task = new.tasks[1].id;
    let input = json!({"shortAddress": "RRRD2929"});
    let deadline = now() + Duration::seconds(30);
    let attempts = (0..8).map(|_| db.store.release_task(task, &input, deadline, now()));
    let results = futures_util::future::join_all(attempts).await;
    let released = results
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(released, 1);
    assert_eq!(db.count("outbox").await, 2, "one message per release");
}
backend_test!(concurrent_releases_apply_once);

/// The worker's start is one statement that also returns the task: what it returns is
/// the task as a read after the start sees it, a redelivered completed check comes back
/// with what releasing its dependants needs, and a blocked check is never started.
async fn the_start_returns_the_task_it_started(db: TestDb) {
    let (coop, new) = accepted(&db).await;
    let root = new.tasks[0].id;

    let Taken::Started(started) = db.store.take_task(root, now()).await.unwrap() else {
        panic!("the root check did not start");
    };
    let read = db.store.task_for_work(root).await.unwrap().unwrap();
    assert_eq!(started, read);
    assert_eq!((started.state, started.attempts), (TaskState::Running, 1));
    assert_eq!((started.request, started.cooperative), (new.id, coop.id));
    assert_eq!(started.child.as_deref(), Some("registry"));
    assert_eq!(started.input, new.tasks[0].input);
    assert_eq!(started.traceparent, new.traceparent);
    let request = db.store.get_request(coop.id, new.id).await.unwrap();
    assert_eq!(request.unwrap().status, RequestStatus::Running);

    let blocked = db.store.take_task(new.tasks[1].id, now()).await;
    assert!(
        matches!(blocked, Err(rabt_store::StoreError::IllegalTransition(_))),
        "{blocked:?}"
    );
    let still = db.store.task_for_work(new.tasks[1].id).await.unwrap();
    assert_eq!(still.unwrap().state, TaskState::Blocked);

    let _ = run_task(&db.store, root, Outcome::Ok).await;
    let started_before = started_count(&db, root).await;
    let Taken::AlreadyCompleted(done) = db.store.take_task(root, now()).await.unwrap() else {
        panic!("a completed check was not reported as completed");
    };
    assert_eq!(done.state, TaskState::Completed(Outcome::Ok));
    assert_eq!(
        (done.request, done.child.as_deref()),
        (new.id, Some("registry"))
    );
    assert_eq!(
        done.attempts, 2,
        "run_task started it once more; a completed task is not"
    );
    assert_eq!(started_count(&db, root).await, started_before);
    assert_eq!(
        db.store
            .take_task(rabt_core::TaskId::new(), now())
            .await
            .unwrap(),
        Taken::NotFound
    );
}
backend_test!(the_start_returns_the_task_it_started);

pub(crate) async fn started_count(db: &TestDb, task: rabt_core::TaskId) -> usize {
    let query = AuditQuery {
        task: Some(task),
        action: Some("task.started".into()),
        limit: 100,
        ..AuditQuery::default()
    };
    db.store.audit_log(&query).await.unwrap().len()
}

/// An answer says whether checks of its request still wait (BLOCKED): the registry's
/// does while its dependants are blocked; once they are released, their own answers
/// do not, so the worker decides nothing after them.
async fn an_answer_says_whether_checks_still_wait(db: TestDb) {
    let (_, new) = accepted(&db).await;
    let registry = run_task(&db.store, new.tasks[0].id, Outcome::Ok).await;
    assert_eq!(
        registry,
        Completion::Applied {
            request_completed: None,
            checks_waiting: true,
            decided: None,
        }
    );
    let deadline = now() + Duration::seconds(30);
    for task in &new.tasks[1..] {
        let input = json!({"any": "input"});
        let released = db.store.release_task(task.id, &input, deadline, now());
        assert!(released.await.unwrap());
    }
    let first = run_task(&db.store, new.tasks[1].id, Outcome::Ok).await;
    assert_eq!(
        first,
        Completion::Applied {
            request_completed: None,
            checks_waiting: false,
            decided: None,
        }
    );
    let last = run_task(&db.store, new.tasks[2].id, Outcome::Ok).await;
    assert!(
        matches!(
            last,
            Completion::Applied {
                request_completed: Some(_),
                checks_waiting: false,
                decided: None,
            }
        ),
        "{last:?}"
    );
}
backend_test!(an_answer_says_whether_checks_still_wait);
