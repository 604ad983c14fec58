//! Messages that can never be processed are parked, not retried forever, and tasks past
//! their deadline end without bothering the agency.

use std::time::Duration;

use chrono::Utc;
use rabt_core::{Agency, Outcome, TaskState, Verdict};
use rabt_store::{Actor, NewRequest, RequestRecord};
use serde_json::json;

use crate::fixtures::address_input;
use crate::rig::{
    OTHER_AGENCY_SERVICE, Pairing, Rig, count, pairing_test, the_completion, worker_settings,
};

pairing_test!(poison_messages_are_dead_lettered_and_the_worker_carries_on);
async fn poison_messages_are_dead_lettered_and_the_worker_carries_on(pairing: Pairing) {
    let rig = Rig::running(pairing).await;

    rig.publish_raw("poison-undecodable", b"this is not a task".to_vec())
        .await;
    let unknown_id = rig.publish_unknown_task().await;

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
    let rig = Rig::running(pairing).await;
    let mut new = rig.new_request(address_input());
    past_deadline(&mut new);
    let sent = rig.submit(&new).await;

    let record = rig.completed(sent.request).await;
    assert_timed_out(&record);
    assert_eq!(record.tasks[0].data, None);
    assert!(
        rig.agency.calls(sent.task).is_empty(),
        "the agency was called"
    );
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.retry_scheduled"), 0);
    the_completion(&audit, "TIMEOUT");
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
    past_deadline(&mut new);
    let sent = rig.submit(&new).await;

    let record = rig.completed(sent.request).await;
    assert_timed_out(&record);
    assert_eq!(rig.agency.total_calls(), 0);
    let audit = rig.audit(sent.request).await;
    let completion = the_completion(&audit, "TIMEOUT");
    assert_eq!(completion.actor, Actor::System, "the sweeper ended it");
    // Its completion event was published too.
    rig.outbox_drained().await;
    rig.finish().await;
}

/// Gives `new` and its one task a deadline already past.
fn past_deadline(new: &mut NewRequest) {
    let past = Utc::now() - chrono::Duration::seconds(1);
    new.deadline_at = past;
    new.tasks[0].deadline_at = past;
}

/// Asserts that the request's one task timed out, leaving the verdict partial.
fn assert_timed_out(record: &RequestRecord) {
    assert_eq!(record.verdict, Some(Verdict::Partial));
    assert_eq!(
        record.tasks[0].state,
        TaskState::Completed(Outcome::Timeout)
    );
}
