//! An agency's circuit breaker, end to end: a dead agency is left alone (its tasks wait
//! in the worker, unattempted), probed after the cooldown, and called again once a
//! probe succeeds; an outage shorter than the tasks' deadline ends with every task
//! `OK`; the other agencies never notice.
//!
//! The breaker's state is read through [`Worker::gates`], the snapshot the metrics
//! read; everything else through the store and the scripted agencies' call records.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, Outcome, RequestId, ServiceName, TaskId, TaskMessage, TaskState};
use rabt_test_support::must::eventually;
use rabt_worker::{BreakerSettings, CircuitState, GateSnapshot, Worker, WorkerSettings};
use serde_json::json;

use crate::agency::Reply;
use crate::fixtures::{SERVICE, address_input};
use crate::rig::{Pairing, Rig, Submitted, count, pairing_test, worker_settings};

/// Three failures in a row open the breaker, for `cooldown` (twice that after a failed
/// probe); the error rate never decides here.
fn settings(cooldown: Duration) -> WorkerSettings {
    WorkerSettings {
        breaker: BreakerSettings {
            failures: 3,
            min_calls: 1_000,
            cooldown,
            max_cooldown: cooldown * 2,
            ..BreakerSettings::default()
        },
        ..worker_settings()
    }
}

fn gate(worker: &Worker, agency: Agency) -> GateSnapshot {
    worker.gates()[&agency]
}

/// Waits until `agency`'s gate satisfies `ready`, and returns it.
async fn gate_when(
    worker: &Worker,
    agency: Agency,
    what: &str,
    ready: impl Fn(&GateSnapshot) -> bool,
) -> GateSnapshot {
    eventually(what, || async {
        let snapshot = gate(worker, agency);
        ready(&snapshot).then_some(snapshot)
    })
    .await
}

async fn submit_addresses(rig: &Rig, n: usize) -> Vec<Submitted> {
    let mut sent = Vec::new();
    for _ in 0..n {
        sent.push(rig.submit(&rig.new_request(address_input())).await);
    }
    sent
}

pairing_test!(an_open_circuit_spares_a_dead_agency_until_a_probe_finds_it_back);
async fn an_open_circuit_spares_a_dead_agency_until_a_probe_finds_it_back(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    // Two seconds open: ample for the checks made while it is (a few deliveries).
    let worker = rig.start_worker(settings(Duration::from_secs(2)));
    rig.agency.go_down(Reply::Unavailable);

    let first = submit_addresses(&rig, 3).await;
    let opened = gate_when(&worker, Agency::SaudiPost, "the circuit open", |g| {
        g.breaker.times_opened == 1
    })
    .await;
    assert_eq!(opened.breaker.state, CircuitState::Open);
    assert_eq!(rig.agency.total_calls(), 3, "three failures opened it");

    // While it is open, new tasks and the retries of the first ones are turned away:
    // they wait in the worker, nothing goes back to the broker.
    let later = submit_addresses(&rig, 2).await;
    gate_when(&worker, Agency::SaudiPost, "tasks waiting", |g| {
        g.waiting >= 2
    })
    .await;
    let calls = rig.agency.total_calls();
    let still = gate(&worker, Agency::SaudiPost);
    assert_eq!(
        (
            still.breaker.state,
            still.breaker.times_opened,
            still.breaker.probes
        ),
        (CircuitState::Open, 1, 0),
        "the check ran within the cooldown"
    );
    assert_eq!(calls, 3, "no call while open");
    assert_eq!(still.deferred, 0, "nothing sent back through the broker");
    for sent in &later {
        let task = rig.task(sent.request, sent.task).await;
        assert_eq!((task.state, task.attempts), (TaskState::Queued, 0));
    }
    for sent in &first {
        assert_eq!(rig.task(sent.request, sent.task).await.attempts, 1);
    }

    // After the cooldown one probe goes; the agency is still down, so it opens again.
    let reopened = gate_when(&worker, Agency::SaudiPost, "a failed probe", |g| {
        g.breaker.times_opened == 2
    })
    .await;
    assert_eq!(reopened.breaker.probes, 1);
    assert_eq!(rig.agency.total_calls(), 4, "the probe was the only call");

    // The agency recovers: the next probe succeeds, the circuit closes, all complete.
    rig.agency.recover();
    for sent in first.iter().chain(&later) {
        let record = rig.completed(sent.request).await;
        assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    }
    let closed = gate(&worker, Agency::SaudiPost);
    assert_eq!(closed.breaker.state, CircuitState::Closed);
    let failed_probes = closed.breaker.times_opened - 1;
    assert_eq!(
        rig.agency.total_calls() as u64,
        3 + failed_probes + 5,
        "every call was an opening failure, a probe that failed, or a success"
    );
    for sent in first.iter().chain(&later) {
        every_attempt_was_a_call(&rig, sent.request, sent.task).await;
    }
    rig.finish().await;
}

/// No attempt counted without a call: deferral never starts a task.
async fn every_attempt_was_a_call(rig: &Rig, request: RequestId, task: TaskId) {
    let view = rig.task(request, task).await;
    let calls = rig.agency.calls(task);
    assert_eq!(view.attempts as usize, calls.len(), "task {task}");
    let attempts: Vec<u32> = calls.iter().map(|c| c.attempt).collect();
    assert_eq!(
        attempts,
        (1..=view.attempts).collect::<Vec<_>>(),
        "task {task}"
    );
    let audit = rig.audit(request).await;
    assert_eq!(count(&audit, "task.started"), calls.len(), "task {task}");
}

pairing_test!(a_dead_agency_costs_the_others_nothing);
async fn a_dead_agency_costs_the_others_nothing(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    // Open for the whole test.
    let worker = rig.start_worker_for(
        &[Agency::SaudiPost, Agency::Chambers],
        settings(Duration::from_secs(600)),
    );
    rig.agency.go_down(Reply::Unavailable);
    submit_addresses(&rig, 3).await;
    gate_when(&worker, Agency::SaudiPost, "the circuit open", |g| {
        g.breaker.state == CircuitState::Open
    })
    .await;
    let waiting = submit_addresses(&rig, 2).await;

    let mut checks = Vec::new();
    for _ in 0..5 {
        let new = rig.request_for(
            "chambers.membership.verify",
            json!({"unifiedNumber": "7000000001"}),
        );
        checks.push(rig.submit(&new).await);
    }
    for sent in &checks {
        let record = rig.completed(sent.request).await;
        assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
        assert_eq!(record.tasks[0].attempts, 1);
    }
    let chambers = gate(&worker, Agency::Chambers);
    assert_eq!(chambers.breaker.state, CircuitState::Closed);
    assert_eq!((chambers.deferred, chambers.breaker.denied), (0, 0));
    assert_eq!(rig.scripted(Agency::Chambers).total_calls(), 5);

    let post = gate(&worker, Agency::SaudiPost);
    assert_eq!(
        (post.breaker.state, post.breaker.probes),
        (CircuitState::Open, 0)
    );
    assert_eq!(rig.agency.total_calls(), 3);
    for sent in &waiting {
        let task = rig.task(sent.request, sent.task).await;
        assert_eq!((task.state, task.attempts), (TaskState::Queued, 0));
    }
    rig.finish().await;
}

pairing_test!(an_outage_of_half_a_deadline_ends_with_every_request_ok);
/// Issue 14's outage: an agency down for half of its tasks' deadline. With the
/// production breaker (5 s cooldown, doubling), the second failed probe used to open it
/// for 10 s, past the deadline, and every waiting task ended `TIMEOUT`. Now the waiting
/// tasks' deadlines bring the probes forward, and the first probe after the agency is
/// back releases them all: every request ends `OK`, before its deadline, with no
/// attempt spent while the circuit was open.
async fn an_outage_of_half_a_deadline_ends_with_every_request_ok(pairing: Pairing) {
    // Long enough that the first probe, 5 s after the circuit opens, still fails.
    const DEADLINE: Duration = Duration::from_secs(12);
    let mut rig = Rig::new(pairing).await;
    let mut catalogue = Catalogue::bundled().unwrap();
    catalogue
        .set_deadline("post.address.verify", DEADLINE)
        .unwrap();
    rig.catalogue = Arc::new(catalogue);
    rig.start_relay();
    let worker = rig.start_worker(WorkerSettings {
        breaker: BreakerSettings::default(),
        // The deadline sweeper on, as in production: a task that missed its deadline
        // would end TIMEOUT and fail the test.
        deadline_sweep: Duration::from_millis(200),
        ..worker_settings()
    });
    rig.agency.go_down(Reply::Unavailable);
    let down_at = Instant::now();
    let agency = rig.agency.clone();
    let outage = tokio::spawn(async move {
        tokio::time::sleep(DEADLINE / 2).await;
        agency.recover();
    });
    let mut sent = submit_addresses(&rig, 6).await;
    gate_when(&worker, Agency::SaudiPost, "the circuit open", |g| {
        g.breaker.state == CircuitState::Open
    })
    .await;
    sent.extend(submit_addresses(&rig, 4).await);
    outage.await.unwrap();
    for sent in &sent {
        let record = rig.completed(sent.request).await;
        let task = &record.tasks[0];
        assert_eq!(
            task.state,
            TaskState::Completed(Outcome::Ok),
            "task {} ended {:?} after an outage of half its deadline",
            sent.task,
            task.state
        );
        every_attempt_was_a_call(&rig, sent.request, sent.task).await;
    }
    let elapsed = down_at.elapsed();
    assert!(
        elapsed < DEADLINE,
        "all done {elapsed:?} after the outage began"
    );
    let gate = gate(&worker, Agency::SaudiPost);
    assert_eq!(gate.breaker.state, CircuitState::Closed);
    assert_eq!(gate.waiting, 0);
    rig.finish().await;
}

pairing_test!(calls_ramp_up_after_a_recovery);
/// When a probe finds the agency back, the tasks that waited do not all go in the same
/// instant (they would take the worker's database and CPU from the other agencies):
/// five a second at first, doubling every second.
async fn calls_ramp_up_after_a_recovery(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    // Prefetch 8: without the ramp, all eight waiting tasks would be called at once.
    let worker = rig.start_worker(settings(Duration::from_millis(500)));
    rig.agency.go_down(Reply::Unavailable);
    let mut sent = submit_addresses(&rig, 3).await;
    gate_when(&worker, Agency::SaudiPost, "the circuit open", |g| {
        g.breaker.state == CircuitState::Open
    })
    .await;
    for _ in 0..5 {
        let new = rig.new_request(address_input());
        rig.agency.script(
            new.tasks[0].id,
            [Reply::FoundIn(Duration::from_millis(300))],
        );
        sent.push(rig.submit(&new).await);
    }
    gate_when(&worker, Agency::SaudiPost, "tasks waiting", |g| {
        g.waiting >= 5
    })
    .await;
    let before = rig.agency.most_calls_at_once();
    rig.agency.recover();
    for s in &sent {
        let record = rig.completed(s.request).await;
        assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    }
    let most = rig.agency.most_calls_at_once();
    assert!(
        most <= 4.max(before),
        "{most} calls at once right after the recovery"
    );
    rig.finish().await;
}

pairing_test!(a_stale_deadline_in_a_message_does_not_time_out_a_task_with_a_later_one);
/// A task's message carries its deadline, which bounds how long an open circuit may
/// hold it. A message left from before the task got a later deadline (an operator's
/// replay, a composite's reopened check) says the deadline passed; the worker reads the
/// task, finds its deadline still ahead and sends it back to wait, without ending it.
async fn a_stale_deadline_in_a_message_does_not_time_out_a_task_with_a_later_one(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let worker = rig.start_worker(settings(Duration::from_secs(2)));
    rig.agency.go_down(Reply::Unavailable);
    submit_addresses(&rig, 3).await;
    gate_when(&worker, Agency::SaudiPost, "the circuit open", |g| {
        g.breaker.state == CircuitState::Open
    })
    .await;

    let sent = rig.submit(&rig.new_request(address_input())).await;
    let stale = TaskMessage::V1 {
        task: sent.task,
        request: sent.request,
        agency: Agency::SaudiPost,
        service: ServiceName::parse(SERVICE).unwrap(),
        deadline_at: Some(Utc::now() - chrono::Duration::seconds(5)),
    };
    rig.publish_message(&stale).await;
    gate_when(
        &worker,
        Agency::SaudiPost,
        "the stale message sent back",
        |g| g.deferred >= 1,
    )
    .await;
    let task = rig.task(sent.request, sent.task).await;
    assert_eq!(
        (task.state, task.attempts),
        (TaskState::Queued, 0),
        "neither timed out nor attempted"
    );

    rig.agency.recover();
    let record = rig.completed(sent.request).await;
    assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    rig.finish().await;
}
