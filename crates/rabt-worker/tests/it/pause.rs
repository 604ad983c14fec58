//! An agency paused by an operator: its tasks wait unattempted (no call, no attempt, no
//! timeout while paused), other agencies run, and resuming lets them complete.

use rabt_core::{Agency, Outcome, TaskState};
use rabt_test_support::must::eventually;

use crate::fixtures::address_input;
use crate::rig::{Pairing, Rig, pairing_test, worker_settings};

pairing_test!(a_paused_agency_waits_unattempted_until_resumed);
async fn a_paused_agency_waits_unattempted_until_resumed(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let paused = rig
        .store
        .pause_agency(Agency::SaudiPost, "SPL maintenance window", None, "huda")
        .await
        .unwrap();
    assert!(matches!(paused, rabt_store::PauseOutcome::Paused(_)));
    let worker = rig.start_worker(worker_settings());
    let sent = rig.submit(&rig.new_request(address_input())).await;
    eventually("the task sent back unattempted", || async {
        (worker.gates()[&Agency::SaudiPost].deferred >= 1).then_some(())
    })
    .await;
    // The deadline sweeper leaves a paused agency's overdue tasks alone.
    let far = chrono::Utc::now() + chrono::Duration::days(1);
    let expired = rig.store.expire_overdue_tasks(far, 100).await.unwrap();
    assert!(
        expired.completed.is_empty(),
        "nothing times out while paused"
    );
    assert_eq!(rig.agency.total_calls(), 0, "no call while paused");
    let task = rig.task(sent.request, sent.task).await;
    assert_eq!((task.state, task.attempts), (TaskState::Queued, 0));
    let before = task.deadline_at;

    let resumed = rig
        .store
        .resume_agency(Agency::SaudiPost, "huda")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.extended_tasks, 1);
    assert!(rig.task(sent.request, sent.task).await.deadline_at > before);
    let record = rig.completed(sent.request).await;
    assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    assert_eq!(record.tasks[0].attempts, 1, "the pause spent no attempt");
    let again = rig.store.resume_agency(Agency::SaudiPost, "huda").await;
    assert_eq!(again.unwrap(), None, "resumed once");
    let actions: Vec<String> = rig
        .store
        .audit_log(&rabt_store::AuditQuery {
            action: Some("agency.paused".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["agency.paused"]);
    rig.finish().await;
}
