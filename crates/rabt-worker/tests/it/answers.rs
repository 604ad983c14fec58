//! What the agency answers becomes the task's outcome and the request's verdict, once:
//! a definite answer, a duplicate delivery, a refusal.

use rabt_core::{Agency, Event, EventV1, Outcome, RequestStatus, TaskState, Verdict};
use rabt_store::Actor;
use rabt_test_support::must::within;

use crate::agency::{Call, Reply};
use crate::fixtures::{address_input, found_address};
use crate::rig::{
    Pairing, Rig, Submitted, TRACEPARENT, actions, count, entries, one_at_a_time, pairing_test,
    the_completion, worker_settings,
};

pairing_test!(an_accepted_request_is_answered_once_and_completed);
async fn an_accepted_request_is_answered_once_and_completed(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    let mut events = rig
        .transport
        .subscribe_events(&format!("request.completed.{}", rig.cooperative))
        .await
        .unwrap();
    rig.start_relay();
    rig.start_worker(worker_settings());
    let new = rig.new_request(address_input());
    let sent = rig.submit(&new).await;

    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
    let [task] = record.tasks.as_slice() else {
        panic!("one task: {record:#?}")
    };
    assert_eq!(task.id, sent.task);
    assert_eq!(task.state, TaskState::Completed(Outcome::Ok));
    assert_eq!(task.attempts, 1);
    assert_eq!(task.data.as_ref(), Some(&found_address()));
    assert_eq!(task.upstream_ref.as_deref(), Some("SPL-REF-1"));
    assert!(task.latency_ms.is_some(), "the agency's latency is kept");

    let calls = rig.agency.calls(sent.task);
    let expected = Call {
        task: sent.task,
        attempt: 1,
        service: new.service.clone(),
        input: address_input(),
        traceparent: Some(TRACEPARENT.to_owned()),
    };
    assert_eq!(
        calls,
        [expected],
        "one call, with the task's input and trace"
    );

    let event = within("the request.completed event", events.next())
        .await
        .unwrap();
    let event: Event = serde_json::from_slice(&event).unwrap();
    assert_eq!(
        event,
        Event::V1(EventV1::RequestCompleted {
            request: sent.request,
            cooperative: rig.cooperative,
            verdict: Verdict::Pass,
        })
    );
    rig.outbox_drained().await;
    audit_tells_one_answer(&rig, sent).await;
    rig.finish().await;
}

/// The audit log of a request answered `OK` at the first attempt.
async fn audit_tells_one_answer(rig: &Rig, sent: Submitted) {
    let audit = rig.audit(sent.request).await;
    assert_eq!(
        actions(&audit),
        [
            "request.accepted",
            "task.queued",
            "task.started",
            "task.completed",
            "request.completed"
        ]
    );
    let completion = the_completion(&audit, "OK");
    assert_eq!(completion.task, Some(sent.task));
    assert_eq!(completion.actor, Actor::Agency(Agency::SaudiPost));
    let verdict = entries(&audit, "request.completed");
    assert_eq!(verdict[0].outcome.as_deref(), Some("PASS"));
}

pairing_test!(an_address_not_found_fails_the_request);
async fn an_address_not_found_fails_the_request(pairing: Pairing) {
    let rig = Rig::running(pairing).await;
    let (sent, record) = rig.answered([Reply::NotFound]).await;
    assert_eq!(record.verdict, Some(Verdict::Fail));
    assert_eq!(
        record.tasks[0].state,
        TaskState::Completed(Outcome::NotFound)
    );
    assert_eq!(
        record.tasks[0].data,
        Some(serde_json::json!({"found": false}))
    );
    assert_eq!(rig.agency.calls(sent.task).len(), 1);
    rig.finish().await;
}

pairing_test!(a_redelivered_completed_task_is_acked_without_calling_again);
async fn a_redelivered_completed_task_is_acked_without_calling_again(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    rig.start_worker(one_at_a_time());
    let first = rig.submit(&rig.new_request(address_input())).await;
    rig.completed(first.request).await;
    rig.outbox_drained().await;
    let audit_before = rig.audit(first.request).await;
    let record_before = rig.record(first.request).await;

    rig.publish_again(first).await;
    let barrier = rig.submit(&rig.new_request(address_input())).await;
    rig.completed(barrier.request).await;

    assert_eq!(rig.agency.calls(first.task).len(), 1, "called again");
    assert_eq!(rig.agency.calls(barrier.task).len(), 1);
    assert_eq!(rig.audit(first.request).await, audit_before);
    assert_eq!(rig.record(first.request).await, record_before);
    assert_eq!(rig.dead_letter_count().await, 0, "acked, not dead-lettered");
    rig.finish().await;
}

pairing_test!(an_input_the_agency_refuses_ends_invalid_input_at_once);
async fn an_input_the_agency_refuses_ends_invalid_input_at_once(pairing: Pairing) {
    let rig = Rig::running(pairing).await;
    // Were it retried, the second call would answer OK.
    let (sent, record) = rig.answered([Reply::InvalidInput, Reply::Found]).await;
    assert_eq!(record.status, RequestStatus::Completed);
    assert_eq!(record.verdict, Some(Verdict::Fail));
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::InvalidInput));
    assert_eq!(task.attempts, 1);
    assert_eq!(task.data, None);
    let error = task.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("not a valid National Address"), "{error}");
    assert_eq!(rig.agency.calls(sent.task).len(), 1);

    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.retry_scheduled"), 0);
    assert_eq!(count(&audit, "task.completed"), 1);
    the_completion(&audit, "INVALID_INPUT");
    rig.finish().await;
}
