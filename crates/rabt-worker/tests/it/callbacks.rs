//! Agencies that answer later: the municipality accepts a licence check
//! (`Answer::Submitted`), and its callback, stored as the API stores a verified one,
//! completes the task through the worker and the adapter's `callback`. Applying is
//! idempotent, an answer after the deadline is kept beside the `TIMEOUT`, and a
//! callback the adapter cannot read ends the task rather than leaving it to time out.

use chrono::Utc;
use rabt_core::{Agency, CallbackId, Outcome, RequestStatus, TaskMessage, TaskState, Verdict};
use rabt_store::{CallbackAccepted, CallbackRecord, NewCallback};
use rabt_test_support::must::eventually;
use serde_json::Value;

use crate::agency::{Reply, read_municipal_callback};
use crate::fixtures::{licence_input, municipal_callback};
use crate::rig::{
    Pairing, Rig, Submitted, actions, count, one_at_a_time, pairing_test, worker_settings,
};

/// The service that answers by callback.
const LICENCE: &str = "municipal.license.verify";

/// The municipality's reference for the licence check.
const REFERENCE: &str = "BLD-7F3A9C21";

impl Rig {
    /// Stores `body` as the API stores a callback it verified: valid against the
    /// agency's callback schema, correlated to the task waiting for its reference,
    /// accepted with its outbox message, relay woken. Returns its id.
    pub(crate) async fn call_back(&self, agency: Agency, body: Value) -> CallbackId {
        let schema = self.catalogue.callback_schema(agency).unwrap();
        schema
            .validate(&body)
            .unwrap_or_else(|v| panic!("a callback the API would refuse: {v:?}"));
        let reference = body["reference"].as_str().unwrap().to_owned();
        let task = self
            .store
            .task_by_upstream_ref(agency, &reference)
            .await
            .unwrap()
            .expect("a task of the agency has this reference");
        let new = NewCallback {
            id: CallbackId::new(),
            agency,
            webhook_id: format!("msg_{}", CallbackId::new()),
            reference,
            task: task.id,
            request: task.request,
            body,
            received_at: Utc::now(),
            traceparent: None,
        };
        let accepted = self.store.accept_callback(&new).await.unwrap();
        assert_eq!(accepted, CallbackAccepted::New);
        self.wake_relay();
        new.id
    }

    /// Waits until a worker applied the callback.
    pub(crate) async fn callback_applied(&self, id: CallbackId) -> CallbackRecord {
        eventually("the callback applied", || async {
            let record = self.store.callback(id).await.unwrap()?;
            record.applied_at.is_some().then_some(record)
        })
        .await
    }
}

/// A licence check the municipality accepts with [`REFERENCE`], once it awaits its
/// callback.
async fn submitted(rig: &Rig) -> Submitted {
    let new = rig.request_for(LICENCE, licence_input());
    rig.scripted(Agency::Municipal)
        .script(new.tasks[0].id, [Reply::Submitted(REFERENCE.to_owned())]);
    let sent = rig.submit(&new).await;
    let task = rig
        .task_in_state(sent.request, sent.task, TaskState::AwaitingCallback)
        .await;
    assert_eq!(task.upstream_ref.as_deref(), Some(REFERENCE));
    assert_eq!(
        rig.record(sent.request).await.status,
        RequestStatus::Running
    );
    sent
}

/// What the scripted municipal adapter reads in `body`.
fn answer_in(body: &Value) -> (Outcome, Value) {
    let answers = read_municipal_callback(body).unwrap();
    (answers[0].outcome, answers[0].data.clone())
}

pairing_test!(a_callback_completes_its_task_and_a_duplicate_changes_nothing);
async fn a_callback_completes_its_task_and_a_duplicate_changes_nothing(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    rig.start_worker_for(&[Agency::Municipal], one_at_a_time());
    let sent = submitted(&rig).await;

    let body = municipal_callback(REFERENCE, Some("ACTIVE"));
    let callback = rig.call_back(Agency::Municipal, body.clone()).await;
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::Ok));
    assert_eq!(task.data.as_ref(), Some(&answer_in(&body).1));
    assert_eq!(task.upstream_ref.as_deref(), Some(REFERENCE));
    assert_eq!(task.attempts, 1);
    assert_eq!(task.late, None);
    rig.callback_applied(callback).await;
    let municipal = rig.scripted(Agency::Municipal);
    assert_eq!(municipal.calls(sent.task).len(), 1);
    assert_eq!(municipal.callbacks_read(), std::slice::from_ref(&body));
    let audit = rig.audit(sent.request).await;
    assert_eq!(
        actions(&audit),
        [
            "request.accepted",
            "task.queued",
            "task.started",
            "task.submitted",
            "callback.accepted",
            "task.completed",
            "request.completed"
        ]
    );

    // The same callback delivered again.
    rig.outbox_drained().await;
    let record_before = rig.record(sent.request).await;
    rig.publish_message(&TaskMessage::CallbackV1 {
        callback,
        agency: Agency::Municipal,
    })
    .await;
    let barrier = rig.submit(&rig.request_for(LICENCE, licence_input())).await;
    rig.completed(barrier.request).await;

    assert_eq!(
        rig.scripted(Agency::Municipal).callbacks_read(),
        [body],
        "the duplicate was read again"
    );
    assert_eq!(rig.record(sent.request).await, record_before);
    assert_eq!(rig.audit(sent.request).await, audit);
    assert_eq!(rig.dead_letter_count_of(Agency::Municipal).await, 0);
    rig.finish().await;
}

pairing_test!(a_callback_after_the_timeout_is_kept_as_a_late_answer);
async fn a_callback_after_the_timeout_is_kept_as_a_late_answer(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    rig.start_worker_for(&[Agency::Municipal], worker_settings());
    let sent = submitted(&rig).await;
    // The deadline sweeper's round, run as it would run an hour from now, once the
    // deadline passed (a real short deadline would race the worker's call to the
    // agency); the task and the request are completed "then".
    let later = Utc::now() + chrono::Duration::hours(1);
    let expired = rig.store.expire_overdue_tasks(later, 100).await.unwrap();
    assert_eq!(expired.requests, [sent.request]);
    let timed_out = rig.completed(sent.request).await;
    assert_eq!(timed_out.verdict, Some(Verdict::Partial));
    assert_eq!(
        timed_out.tasks[0].state,
        TaskState::Completed(Outcome::Timeout)
    );

    let body = municipal_callback(REFERENCE, Some("ACTIVE"));
    let callback = rig.call_back(Agency::Municipal, body.clone()).await;
    rig.callback_applied(callback).await;

    let record = rig.record(sent.request).await;
    assert_eq!(
        record.verdict,
        Some(Verdict::Partial),
        "the verdict changed"
    );
    assert_eq!(record.completed_at, timed_out.completed_at);
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::Timeout));
    assert_eq!(task.data, None);
    let late = task.late.as_ref().expect("the late answer is kept");
    let (outcome, data) = answer_in(&body);
    assert_eq!(late.outcome, outcome);
    assert_eq!(late.data.as_ref(), Some(&data));
    assert_eq!(rig.scripted(Agency::Municipal).callbacks_read(), [body]);
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.late_answer"), 1);
    assert_eq!(count(&audit, "task.completed"), 1);
    assert_eq!(count(&audit, "request.completed"), 1);
    rig.finish().await;
}

pairing_test!(a_callback_the_adapter_cannot_read_ends_its_task_upstream_error);
async fn a_callback_the_adapter_cannot_read_ends_its_task_upstream_error(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    rig.start_worker_for(&[Agency::Municipal], worker_settings());
    let sent = submitted(&rig).await;
    rig.scripted(Agency::Municipal)
        .cannot_read_callbacks_for(REFERENCE);

    let body = municipal_callback(REFERENCE, Some("ACTIVE"));
    let callback = rig.call_back(Agency::Municipal, body.clone()).await;
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::UpstreamError));
    assert_eq!(task.data, None);
    let error = task.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("cannot read the callback"), "{error}");
    rig.callback_applied(callback).await;
    assert_eq!(rig.scripted(Agency::Municipal).callbacks_read(), [body]);
    assert_eq!(rig.dead_letter_count_of(Agency::Municipal).await, 0);
    rig.finish().await;
}
