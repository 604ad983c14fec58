//! A composite decided where its check completes: with a [`Decider`], the answer, the
//! checks it releases or skips and the verdict a skip gives commit in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rabt_core::{Outcome, RequestStatus, TaskId, TaskState, Verdict};
use rabt_store::{Completion, Decided, Decider, Decision, Release, RequestRecord, TaskView};
use serde_json::json;

use crate::compose::accepted;
use crate::fixtures::{answer, now, run_task};
use crate::harness::{TestDb, backend_test};

/// Each waiting check names the check it runs after; it is released with that check's
/// answer as its input once that answered OK, and skipped with its outcome otherwise.
#[derive(Debug)]
struct After(&'static [(&'static str, &'static str)]);

impl Decider for After {
    fn decide(&self, request: &RequestRecord, now: DateTime<Utc>) -> Vec<Decision> {
        let named = |name: &str| {
            request
                .tasks
                .iter()
                .find(|t| t.child.as_deref() == Some(name))
        };
        request
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Blocked)
            .filter_map(|task| {
                let check = task.child.clone()?;
                let (_, after) = self.0.iter().find(|(c, _)| *c == check)?;
                let parent: &TaskView = named(after)?;
                match parent.state.outcome()? {
                    Outcome::Ok => Some(Decision::Release {
                        check,
                        release: Release {
                            task: task.id,
                            input: json!({ "after": parent.data }),
                            deadline_at: now + Duration::seconds(30),
                        },
                    }),
                    outcome => Some(Decision::Skip {
                        task: task.id,
                        outcome,
                        reason: format!("not run: `{after}` answered {outcome}"),
                    }),
                }
            })
            .collect()
    }
}

/// Both waiting checks run after the registry.
const BOTH_AFTER_REGISTRY: After =
    After(&[("hqAddress", "registry"), ("boardIdentity", "registry")]);

/// The board's check runs after the address's, which runs after the registry.
const A_CHAIN: After = After(&[("hqAddress", "registry"), ("boardIdentity", "hqAddress")]);

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

async fn an_answer_releases_the_checks_waiting_for_it_in_its_transaction(db: TestDb) {
    let (coop, new) = accepted(&db).await;
    let store = db
        .store
        .clone()
        .deciding_with(Arc::new(BOTH_AFTER_REGISTRY));
    let Completion::Applied {
        request_completed: None,
        checks_waiting: true,
        decided: Some(decided),
    } = run_task(&store, new.tasks[0].id, Outcome::Ok).await
    else {
        panic!("the registry's answer decides the checks waiting for it");
    };
    // Decided from the answer the transaction had just written: read outside it, the
    // registry would still be running, and both checks would wait.
    let released: Vec<(TaskId, String)> = vec![
        (new.tasks[1].id, "hqAddress".into()),
        (new.tasks[2].id, "boardIdentity".into()),
    ];
    assert_eq!(sorted(decided.released), sorted(released));
    assert!(decided.skipped.is_empty());
    let record = db.request(coop.id, new.id).await;
    let registry_said = json!({ "after": answer(new.tasks[0].id, Outcome::Ok).data });
    for task in &record.tasks[1..] {
        assert_eq!(task.state, TaskState::Queued, "{task:?}");
    }
    let inputs = sqlx_inputs(&db, &[new.tasks[1].id, new.tasks[2].id]).await;
    assert_eq!(inputs, [registry_said.clone(), registry_said]);
    assert_eq!(
        db.count("outbox").await,
        3,
        "the root's message and two more"
    );
    assert_eq!(db.audited("task.released", Some(new.id)).await.len(), 2);
}
backend_test!(an_answer_releases_the_checks_waiting_for_it_in_its_transaction);

/// The inputs the tasks hold now.
async fn sqlx_inputs(db: &TestDb, tasks: &[TaskId]) -> Vec<serde_json::Value> {
    let mut inputs = Vec::new();
    for task in tasks {
        let sql = format!("SELECT input FROM tasks WHERE id = '{task}'");
        inputs.push(serde_json::from_str(&db.query_text(&sql).await).unwrap());
    }
    inputs
}

async fn skips_that_end_the_request_give_the_answer_its_verdict(db: TestDb) {
    let (coop, new) = accepted(&db).await;
    let store = db.store.clone().deciding_with(Arc::new(A_CHAIN));
    let completion = run_task(&store, new.tasks[0].id, Outcome::NotFound).await;
    let Completion::Applied {
        request_completed: Some(done),
        decided: Some(decided),
        ..
    } = completion
    else {
        panic!("the skips the answer decides end the request: {completion:?}");
    };
    assert_eq!((done.request, done.verdict), (new.id, Verdict::Fail));
    // The board's check was decided in a second round, once the address's was skipped.
    let skipped: Vec<(TaskId, Outcome)> = decided.skipped.iter().map(|s| (s.0, s.1)).collect();
    assert_eq!(
        skipped,
        [
            (new.tasks[1].id, Outcome::NotFound),
            (new.tasks[2].id, Outcome::NotFound)
        ]
    );
    assert_eq!(decided.request_completed, Some(done));
    assert!(decided.released.is_empty());
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.status, RequestStatus::Completed);
    assert_eq!(record.verdict, Some(Verdict::Fail));
    assert_eq!(db.audited("task.skipped", Some(new.id)).await.len(), 2);
    assert_eq!(db.audited("request.completed", Some(new.id)).await.len(), 1);
    assert_eq!(db.claim_events().await, 1, "one completion event");
}
backend_test!(skips_that_end_the_request_give_the_answer_its_verdict);

/// Decides a skip of a task that does not exist: the store refuses it.
#[derive(Debug)]
struct Broken;

impl Decider for Broken {
    fn decide(&self, request: &RequestRecord, _: DateTime<Utc>) -> Vec<Decision> {
        if !request.tasks.iter().any(|t| t.state == TaskState::Blocked) {
            return Vec::new();
        }
        vec![Decision::Skip {
            task: TaskId::new(),
            outcome: Outcome::UpstreamError,
            reason: "a task that is not there".into(),
        }]
    }
}

async fn a_decision_that_fails_leaves_the_answer_unrecorded(db: TestDb) {
    let (coop, new) = accepted(&db).await;
    let store = db.store.clone().deciding_with(Arc::new(Broken));
    let registry = new.tasks[0].id;
    store.start_task(registry, now()).await.unwrap();
    let refused = store.complete_task(&answer(registry, Outcome::Ok)).await;
    assert!(refused.is_err(), "{refused:?}");
    // One transaction: the answer went with the decision, and can be recorded again.
    let record = db.request(coop.id, new.id).await;
    assert_eq!(record.tasks[0].state, TaskState::Running);
    assert_eq!(db.audited("task.completed", Some(new.id)).await.len(), 0);
    let again = db.store.complete_task(&answer(registry, Outcome::Ok)).await;
    assert!(
        matches!(again, Ok(Completion::Applied { decided: None, .. })),
        "{again:?}"
    );
}
backend_test!(a_decision_that_fails_leaves_the_answer_unrecorded);

async fn a_composite_is_decided_again_in_a_transaction_of_its_own(db: TestDb) {
    let (coop, new) = accepted(&db).await;
    // Answered by a store that does not decide (a worker that died before deciding).
    run_task(&db.store, new.tasks[0].id, Outcome::Ok).await;
    let decided = db
        .store
        .compose(new.id, &BOTH_AFTER_REGISTRY, now())
        .await
        .unwrap();
    assert_eq!(decided.released.len(), 2, "{decided:?}");
    let again = db
        .store
        .compose(new.id, &BOTH_AFTER_REGISTRY, now())
        .await
        .unwrap();
    assert_eq!(again, Decided::default(), "nothing is decided twice");
    let record = db.request(coop.id, new.id).await;
    let states: Vec<TaskState> = record.tasks.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            TaskState::Completed(Outcome::Ok),
            TaskState::Queued,
            TaskState::Queued
        ]
    );
}
backend_test!(a_composite_is_decided_again_in_a_transaction_of_its_own);
