//! Messages that can never be processed are parked, not retried forever, and tasks past
//! their deadline end without bothering the agency.

use std::time::Duration;

use chrono::Utc;
use rabt_core::{Agency, Outcome, RequestId, ServiceName, TaskId, TaskMessage, TaskState, Verdict};
use rabt_store::Actor;
use serde_json::json;

use crate::fixtures::address_input;
use crate::rig::{
    OTHER_AGENCY_SERVICE, Pairing, Rig, count, entries, pairing_test, worker_settings,
};

pairing_test!(poison_messages_are_dead_lettered_and_the_worker_carries_on);
async fn poison_messages_are_dead_lettered_and_the_worker_carries_on(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    rig.start_worker(worker_settings());

    rig.publish_raw("poison-undecodable", b"this is not a task".to_vec())
        .await;
    let unknown = TaskMessage::V1 {
        task: TaskId::new(),
        request: RequestId::new(),
        agency: Agency::SaudiPost,
        service: ServiceName::parse("post.address.verify").unwrap(),
        deadline_at: None,
    };
    let unknown_id = unknown.subject();
    rig.publish_raw(&unknown_id, serde_json::to_vec(&unknown).unwrap())
        .await;

    let mut expected = vec![
        (
            "poison-undecodable".to_owned(),
            "undecodable message".to_owned(),
        ),
        (unknown_id, "unknown task".to_owned()),
    ];
    expected.sort();
    assert_eq!(rig.dead_letters(2).await, expected);
    assert_eq!(rig.agency.total_calls(), 0, "no agency call for poison");

    let sent = rig.submit(&rig.new_request(address_input())).await;
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(rig.agency.total_calls(), 1);
    rig.finish().await;
}

pairing_test!(a_task_past_its_deadline_times_out_without_calling_the_agency);
async fn a_task_past_its_deadline_times_out_without_calling_the_agency(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    rig.start_worker(worker_settings());
    let mut new = rig.new_request(address_input());
    let past = Utc::now() - chrono::Duration::seconds(1);
    new.deadline_at = past;
    new.tasks[0].deadline_at = past;
    let sent = rig.submit(&new).await;

    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    assert_eq!(
        record.tasks[0].state,
        TaskState::Completed(Outcome::Timeout)
    );
    assert_eq!(record.tasks[0].data, None);
    assert!(
        rig.agency.calls(sent.task).is_empty(),
        "the agency was called"
    );
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.retry_scheduled"), 0);
    let completed = entries(&audit, "task.completed");
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].outcome.as_deref(), Some("TIMEOUT"));
    rig.finish().await;
}

pairing_test!(the_sweeper_times_out_a_task_no_worker_takes);
async fn the_sweeper_times_out_a_task_no_worker_takes(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let mut settings = worker_settings();
    settings.deadline_sweep = Duration::from_millis(100);
    rig.start_worker(settings);
    // A task for an agency this worker has no adapter for: it waits in its queue until
    // its deadline passes, and only the sweeper can end it.
    let input = json!({
        "idNumber": "1000000008",
        "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}
    });
    let mut new = rig.request_for(OTHER_AGENCY_SERVICE, input);
    assert_eq!(new.tasks[0].agency, Agency::Interior);
    let past = Utc::now() - chrono::Duration::seconds(1);
    new.deadline_at = past;
    new.tasks[0].deadline_at = past;
    let sent = rig.submit(&new).await;

    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    assert_eq!(
        record.tasks[0].state,
        TaskState::Completed(Outcome::Timeout)
    );
    assert_eq!(rig.agency.total_calls(), 0);
    let audit = rig.audit(sent.request).await;
    let completed = entries(&audit, "task.completed");
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].actor, Actor::System, "the sweeper ended it");
    assert_eq!(completed[0].outcome.as_deref(), Some("TIMEOUT"));
    // Its completion event was published too.
    rig.outbox_drained().await;
    rig.finish().await;
}
