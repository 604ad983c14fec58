//! The outbox relay: what a crashed relay claimed is published by another once the
//! lease runs out, a message published twice is still answered once, and rows handed
//! over by the process that wrote them go out at once (or, if that relay is gone,
//! after their lease).

use std::time::Duration;

use rabt_core::{Outcome, TaskState, Verdict};
use rabt_queue::OutgoingMessage;
use rabt_store::OutboxRow;
use tokio::time::Instant;

use crate::fixtures::address_input;
use crate::rig::{Pairing, Rig, Submitted, count, one_at_a_time, pairing_test, worker_settings};

/// How long the crashed relay's claim holds its rows.
const CRASHED_LEASE: Duration = Duration::from_secs(1);

/// Accepts a request while no relay runs, and claims its outbox row as a relay that
/// then crashes would. Returns the rows and when their lease ends.
async fn claim_and_crash(rig: &Rig) -> (Submitted, Vec<OutboxRow>, Instant) {
    let sent = rig.submit(&rig.new_request(address_input())).await;
    let claimed = rig.store.claim_outbox(100, CRASHED_LEASE).await.unwrap();
    let lease_end = Instant::now() + CRASHED_LEASE;
    let ids: Vec<&str> = claimed.iter().map(|r| r.message_id.as_str()).collect();
    assert_eq!(
        ids,
        [sent.task.to_string()],
        "the crashed relay holds the task"
    );
    (sent, claimed, lease_end)
}

/// Checks the request completed with one call and one completion.
async fn completed_once(rig: &Rig, sent: Submitted) {
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    assert_eq!(rig.agency.calls(sent.task).len(), 1);
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.started"), 1);
    assert_eq!(count(&audit, "task.completed"), 1);
    assert_eq!(count(&audit, "request.completed"), 1);
}

pairing_test!(rows_a_crashed_relay_claimed_are_published_after_its_lease);
async fn rows_a_crashed_relay_claimed_are_published_after_its_lease(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    let (sent, _claimed, _) = claim_and_crash(&rig).await;
    rig.start_relay();
    rig.start_worker(worker_settings());

    completed_once(&rig, sent).await;
    rig.outbox_drained().await;
    rig.finish().await;
}

pairing_test!(a_relay_that_crashed_before_deleting_causes_a_harmless_duplicate);
async fn a_relay_that_crashed_before_deleting_causes_a_harmless_duplicate(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    let (sent, claimed, lease_end) = claim_and_crash(&rig).await;
    // It published, and crashed before deleting: the rows stay, leased.
    let messages: Vec<OutgoingMessage> = claimed
        .iter()
        .map(|row| OutgoingMessage {
            exchange: row.exchange.clone(),
            routing_key: row.routing_key.clone(),
            message_id: row.message_id.clone(),
            body: row.body.clone(),
            headers: row.headers.clone(),
        })
        .collect();
    rig.transport.publish(&messages).await.unwrap();
    rig.start_relay();
    // One delivery at a time, in queue order (see the barrier below).
    rig.start_worker(one_at_a_time());

    completed_once(&rig, sent).await;
    // Until the lease ends the row is hidden from every claim, ours included: only
    // after it can "drained" mean the live relay published the row again.
    tokio::time::sleep_until(lease_end).await;
    rig.outbox_drained().await;
    // The duplicate is ahead of this request in the queue, so settled before it starts.
    let barrier = rig.submit(&rig.new_request(address_input())).await;
    rig.completed(barrier.request).await;

    completed_once(&rig, sent).await;
    assert_eq!(rig.dead_letter_count().await, 0);
    rig.finish().await;
}

/// Accepts a request with its outbox rows written claimed for `lease`, as the API does.
async fn accept_leased(rig: &Rig, lease: Duration) -> (Submitted, Vec<OutboxRow>) {
    let new = rig.new_request(address_input());
    let (accepted, rows) = rig
        .store
        .accept_request_leased(&new, Some(lease))
        .await
        .unwrap();
    assert_eq!(accepted, rabt_store::Accepted::Created);
    let sent = Submitted {
        request: new.id,
        task: new.tasks[0].id,
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    assert_eq!(ids, [sent.task.to_string()], "the task's row comes back");
    (sent, rows)
}

pairing_test!(rows_handed_over_are_published_at_once_without_a_search);
async fn rows_handed_over_are_published_at_once_without_a_search(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    // Claimed for a minute: no search of the table can find the row before the test's
    // deadline, so only the handoff can have published it.
    let lease = Duration::from_secs(60);
    let handoff = rig.start_relay_with_handoff(lease);
    rig.start_worker(worker_settings());
    let (sent, rows) = accept_leased(&rig, lease).await;
    assert!(
        rig.store.claim_outbox(100, lease).await.unwrap().is_empty(),
        "the row is claimed as written"
    );
    assert!(handoff.send(rows));

    completed_once(&rig, sent).await;
    rig.outbox_drained().await;
    rig.finish().await;
}

pairing_test!(rows_handed_to_a_relay_that_is_gone_are_published_after_their_lease);
async fn rows_handed_to_a_relay_that_is_gone_are_published_after_their_lease(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    let (handoff, receiver) = rabt_store::Handoff::new(CRASHED_LEASE);
    drop(receiver);
    let (sent, rows) = accept_leased(&rig, CRASHED_LEASE).await;
    assert!(!handoff.send(rows), "nobody takes the rows");
    rig.start_relay();
    rig.start_worker(worker_settings());

    completed_once(&rig, sent).await;
    rig.outbox_drained().await;
    rig.finish().await;
}
