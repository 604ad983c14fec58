//! A graceful stop: no new work is taken, and the call in flight finishes and is
//! recorded before `run` returns.

use rabt_core::{Outcome, TaskState, Verdict};
use rabt_test_support::must::{eventually, within};
use tokio_util::sync::CancellationToken;

use crate::agency::Reply;
use crate::rig::{Pairing, Rig, count, pairing_test, worker_settings};

pairing_test!(stopping_lets_the_call_in_flight_finish_and_be_recorded);
async fn stopping_lets_the_call_in_flight_finish_and_be_recorded(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let stop = CancellationToken::new();
    let worker = tokio::spawn(rig.worker(worker_settings()).run(stop.clone()));
    // The agency answers only once the worker has been told to stop.
    let sent = rig.submit_scripted([Reply::FoundAfter(stop.clone())]).await;

    eventually("the agency call in flight", || async {
        (!rig.agency.calls(sent.task).is_empty()).then_some(())
    })
    .await;
    let running = rig.record(sent.request).await;
    assert_eq!(running.tasks[0].state, TaskState::Running);
    stop.cancel();
    within("the worker stopping", worker).await.unwrap();

    // Read once, without polling: `run` returned, so the outcome is recorded.
    let record = rig.record(sent.request).await;
    assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(rig.agency.calls(sent.task).len(), 1);
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.completed"), 1);
    rig.finish().await;
}
