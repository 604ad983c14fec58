//! Deadlines: open tasks time out through the completion path; late answers are kept
//! beside the outcome without changing the verdict.

use chrono::Duration;
use rabt_core::{Agency, Outcome, RequestStatus, TaskState, Verdict};
use rabt_store::{AuditQuery, Completion, Expired, RequestCompleted};

use crate::fixtures::{answer, cooperative, now, request, run_task};
use crate::harness::{TestDb, backend_test};

async fn overdue_tasks_time_out_and_complete_their_request(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let t0 = now();
    let at = |seconds| t0 + Duration::seconds(seconds);
    let agencies = [Agency::Labor, Agency::Municipal, Agency::Health];
    let mut new = request(coop.id, "k", &agencies);
    new.tasks[0].deadline_at = at(10);
    new.tasks[1].deadline_at = at(20);
    new.tasks[2].deadline_at = at(20);
    db.store.accept_request(&new).await.unwrap();
    let expire = |now| db.store.expire_overdue_tasks(now, 100);

    assert_eq!(expire(at(5)).await.unwrap(), Expired::default());
    run_task(&db.store, new.tasks[0].id, Outcome::Ok).await;
    // Waiting for a callback, and still queued: both time out.
    let waiting = new.tasks[1].id;
    db.store.start_task(waiting, now()).await.unwrap();
    db.store.submit_task(waiting, "ref-1", now()).await.unwrap();
    assert_eq!(expire(at(15)).await.unwrap(), Expired::default());

    let done = expire(at(25)).await.unwrap();
    let partial = RequestCompleted {
        request: new.id,
        cooperative: coop.id,
        verdict: Verdict::Partial,
    };
    assert_eq!(done.completed, vec![partial]);
    assert_eq!(
        done.requests,
        vec![new.id],
        "the request whose tasks timed out"
    );
    assert_eq!(expire(at(30)).await.unwrap(), Expired::default());

    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Completed);
    let states: Vec<_> = record.tasks.iter().map(|t| t.state).collect();
    let expected = [Outcome::Ok, Outcome::Timeout, Outcome::Timeout].map(TaskState::Completed);
    assert_eq!(states, expected);
    assert_eq!(record.completed_at, Some(at(25)));
}
backend_test!(overdue_tasks_time_out_and_complete_their_request);

async fn expiry_respects_its_limit(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let t0 = now();
    let mut new = request(
        coop.id,
        "k",
        &[Agency::Labor, Agency::Municipal, Agency::Health],
    );
    for task in &mut new.tasks {
        task.deadline_at = t0;
    }
    db.store.accept_request(&new).await.unwrap();
    assert!(
        db.store
            .expire_overdue_tasks(t0, 2)
            .await
            .unwrap()
            .completed
            .is_empty()
    );
    let done = db
        .store
        .expire_overdue_tasks(t0, 2)
        .await
        .unwrap()
        .completed;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].verdict, Verdict::Partial);
}
backend_test!(expiry_respects_its_limit);

async fn a_late_answer_is_kept_and_does_not_reopen_the_verdict(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let t0 = now();
    let mut new = request(coop.id, "k", &[Agency::Municipal]);
    new.tasks[0].deadline_at = t0;
    db.store.accept_request(&new).await.unwrap();
    let task = new.tasks[0].id;
    db.store.start_task(task, now()).await.unwrap();
    db.store.submit_task(task, "ref-late", now()).await.unwrap();
    db.store.expire_overdue_tasks(t0, 10).await.unwrap();

    let late = db
        .store
        .complete_task(&answer(task, Outcome::Ok))
        .await
        .unwrap();
    assert_eq!(late, Completion::AlreadyCompleted);
    let later = db
        .store
        .complete_task(&answer(task, Outcome::Mismatch))
        .await
        .unwrap();
    assert_eq!(later, Completion::AlreadyCompleted);

    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    let view = &record.tasks[0];
    assert_eq!(view.state, TaskState::Completed(Outcome::Timeout));
    let kept = view.late.as_ref().unwrap();
    assert_eq!(kept.outcome, Outcome::Ok, "the first late answer is kept");
    assert!(kept.data.is_some());
    let log = db
        .store
        .audit_log(&AuditQuery {
            task: Some(task),
            action: Some("task.late_answer".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        db.count("outbox").await,
        2,
        "the task and one event, nothing more"
    );
}
backend_test!(a_late_answer_is_kept_and_does_not_reopen_the_verdict);
