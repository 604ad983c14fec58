//! Failures a retry can fix go through the retry tiers, bounded by the catalogue's
//! retry policy (the bundled one for `post.address.verify`: 5 attempts, backoff from
//! 1 s). With the test tiers of 200 ms and 1 s, each retry comes back after about 1 s.

use rabt_core::{Agency, Outcome, TaskState, Verdict};
use rabt_store::DeadLetterQuery;

use crate::agency::Reply;
use crate::fixtures::{SERVICE, found_address};
use crate::rig::{Pairing, Rig, actions, count, pairing_test, the_completion};

pairing_test!(an_unavailable_agency_is_retried_through_the_tiers);
async fn an_unavailable_agency_is_retried_through_the_tiers(pairing: Pairing) {
    let rig = Rig::running(pairing).await;
    let (sent, record) = rig.answered([Reply::Unavailable, Reply::Found]).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::Ok));
    assert_eq!(task.attempts, 2);
    assert_eq!(task.data.as_ref(), Some(&found_address()));
    assert_eq!(task.last_error.as_deref(), Some("unavailable"));
    let attempts: Vec<u32> = rig
        .agency
        .calls(sent.task)
        .iter()
        .map(|c| c.attempt)
        .collect();
    assert_eq!(attempts, [1, 2]);

    let audit = rig.audit(sent.request).await;
    assert_eq!(
        actions(&audit),
        [
            "request.accepted",
            "task.queued",
            "task.started",
            "task.retry_scheduled",
            "task.started",
            "task.completed",
            "request.completed"
        ]
    );
    rig.finish().await;
}

pairing_test!(an_agency_that_never_recovers_ends_upstream_error);
async fn an_agency_that_never_recovers_ends_upstream_error(pairing: Pairing) {
    let mut rig = Rig::running(pairing).await;
    rig.start_drain();
    let (sent, record) = rig.answered([Reply::Unavailable]).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::UpstreamError));
    let calls = rig.agency.calls(sent.task);
    assert_eq!(calls.len() as u32, task.attempts, "one call per attempt");
    // The 30 s deadline leaves room for every retry the policy allows (about 1 s each
    // through the test tiers), so the policy, not the deadline, ends it.
    let policy = rig.catalogue.service(SERVICE).unwrap().retry;
    assert_eq!(task.attempts, policy.max_attempts());
    let attempts: Vec<u32> = calls.iter().map(|c| c.attempt).collect();
    assert_eq!(attempts, (1..=policy.max_attempts()).collect::<Vec<_>>());

    let audit = rig.audit(sent.request).await;
    assert_eq!(
        count(&audit, "task.retry_scheduled") as u32,
        policy.max_attempts() - 1
    );
    assert_eq!(count(&audit, "task.started") as u32, policy.max_attempts());
    // Out of attempts, the task went to the dead letters, whose drain ended it: an
    // operator can list and replay it.
    assert_eq!(
        task.last_error.as_deref(),
        Some("dead-lettered: attempts exhausted: unavailable")
    );
    assert_eq!(count(&audit, "task.dead_lettered"), 1);
    the_completion(&audit, "UPSTREAM_ERROR");
    let letters = rig
        .store
        .list_dead_letters(&DeadLetterQuery {
            agency: Some(Agency::SaudiPost),
            limit: 10,
            ..DeadLetterQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].task, Some(sent.task));
    assert_eq!(letters[0].reason, "attempts exhausted: unavailable");
    rig.finish().await;
}

pairing_test!(an_answer_that_breaks_the_output_schema_is_retried_not_recorded);
async fn an_answer_that_breaks_the_output_schema_is_retried_not_recorded(pairing: Pairing) {
    let rig = Rig::running(pairing).await;
    let (sent, record) = rig.answered([Reply::BreaksSchema, Reply::Found]).await;
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::Ok));
    assert_eq!(
        task.attempts, 2,
        "the bad answer was not taken as the outcome"
    );
    assert_eq!(task.data.as_ref(), Some(&found_address()));
    assert_eq!(task.last_error.as_deref(), Some("malformed"));
    assert_eq!(rig.agency.calls(sent.task).len(), 2);
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.retry_scheduled"), 1);
    assert_eq!(count(&audit, "task.completed"), 1);
    rig.finish().await;
}
