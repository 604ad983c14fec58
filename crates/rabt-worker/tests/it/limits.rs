//! Per-agency limits, end to end: the most calls in flight, counted by the scripted
//! agency itself, and the rate, from when its calls arrived; with one worker, and with
//! three sharing the limits through the database. Timing is only checked in the
//! direction a slow machine cannot break: calls arriving no faster than allowed.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use rabt_core::{Agency, Outcome, TaskState};
use rabt_test_support::must::eventually;
use rabt_worker::{AgencyLimits, WorkerSettings};
use tokio_util::sync::CancellationToken;

use crate::agency::Reply;
use crate::fixtures::address_input;
use crate::rig::{Pairing, Rig, pairing_test, worker_settings};

fn limited(limits: AgencyLimits) -> WorkerSettings {
    WorkerSettings {
        limits: BTreeMap::from([(Agency::SaudiPost, limits)]),
        ..worker_settings()
    }
}

pairing_test!(no_more_calls_in_flight_than_the_agency_allows);
async fn no_more_calls_in_flight_than_the_agency_allows(pairing: Pairing) {
    const TASKS: usize = 6;
    const LIMIT: usize = 2;
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    // Prefetch 8 would let all six be called at once.
    let limits = AgencyLimits::try_new(Some(LIMIT as u32), None, None).unwrap();
    rig.start_worker(limited(limits));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let new = rig.new_request(address_input());
        let answer = CancellationToken::new();
        rig.agency
            .script(new.tasks[0].id, [Reply::FoundAfter(answer.clone())]);
        tasks.push((rig.submit(&new).await, answer));
    }

    // Each call waits for the test to answer it; answer them one at a time.
    let mut answered = HashSet::new();
    while answered.len() < TASKS {
        let expected = (answered.len() + LIMIT).min(TASKS);
        eventually(&format!("{expected} calls made"), || async {
            let in_flight = rig.agency.calls_in_flight();
            (rig.agency.total_calls() == expected && in_flight == expected - answered.len())
                .then_some(())
        })
        .await;
        let (sent, answer) = tasks
            .iter()
            .find(|(sent, _)| {
                !answered.contains(&sent.task) && !rig.agency.calls(sent.task).is_empty()
            })
            .unwrap();
        answer.cancel();
        answered.insert(sent.task);
    }
    for (sent, _) in &tasks {
        let record = rig.completed(sent.request).await;
        assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
        assert_eq!(record.tasks[0].attempts, 1);
    }
    assert_eq!(rig.agency.most_calls_at_once(), LIMIT);
    assert_eq!(rig.agency.total_calls(), TASKS);
    rig.finish().await;
}

pairing_test!(calls_come_no_faster_than_the_agency_rate);
async fn calls_come_no_faster_than_the_agency_rate(pairing: Pairing) {
    const TASKS: usize = 11;
    const PER_SECOND: f64 = 5.0;
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let limits = AgencyLimits::try_new(None, Some(PER_SECOND), None).unwrap();
    rig.start_worker(limited(limits));
    let mut sent = Vec::new();
    for _ in 0..TASKS {
        sent.push(rig.submit(&rig.new_request(address_input())).await);
    }
    for s in &sent {
        let record = rig.completed(s.request).await;
        assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    }
    let times = rig.agency.call_times();
    assert_eq!(times.len(), TASKS);
    // Evenly spaced (burst 1), eleven calls take two seconds: at least one, surely.
    let span = *times.last().unwrap() - times[0];
    let nominal = Duration::from_secs_f64((TASKS - 1) as f64 / PER_SECOND);
    assert!(span >= nominal / 2, "{TASKS} calls in {span:?}");
    // And no second of them holds more than the rate allows, with room for a call
    // held up on its way to the agency: one call, plus five a second, plus three.
    for (i, start) in times.iter().enumerate() {
        let in_a_second = times[i..]
            .iter()
            .take_while(|t| **t - *start < Duration::from_secs(1))
            .count();
        assert!(
            in_a_second <= 1 + 5 + 3,
            "{in_a_second} calls within a second"
        );
    }
    rig.finish().await;
}

pairing_test!(three_workers_keep_an_agencys_limits_together);
/// Issue 14: three workers serving one agency used to give it three times its limits.
/// Now they share them: at most two calls in flight and five a second in all (within
/// 10 %), and every task completes `OK` on its first attempt: waiting neither failed
/// it nor spent an attempt.
async fn three_workers_keep_an_agencys_limits_together(pairing: Pairing) {
    const TASKS: usize = 30;
    const CONCURRENCY: u32 = 2;
    const PER_SECOND: f64 = 5.0;
    const BURST: u32 = 2;
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let limits = AgencyLimits::try_new(Some(CONCURRENCY), Some(PER_SECOND), Some(BURST)).unwrap();
    for _ in 0..3 {
        rig.start_worker(limited(limits));
    }
    let mut sent = Vec::new();
    for _ in 0..TASKS {
        let new = rig.new_request(address_input());
        // Slow enough that a worker alone would have several calls in flight.
        rig.agency.script(
            new.tasks[0].id,
            [Reply::FoundIn(Duration::from_millis(300))],
        );
        sent.push(rig.submit(&new).await);
    }
    for s in &sent {
        let record = rig.completed(s.request).await;
        assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
        assert_eq!(record.tasks[0].attempts, 1, "waiting spent an attempt");
    }
    assert_eq!(rig.agency.total_calls(), TASKS);
    assert!(
        rig.agency.most_calls_at_once() <= CONCURRENCY as usize,
        "{} calls at once",
        rig.agency.most_calls_at_once()
    );
    let times = rig.agency.call_times();
    for (i, start) in times.iter().enumerate() {
        for (j, end) in times.iter().enumerate().skip(i) {
            let calls = (j - i + 1) as f64;
            let allowed = f64::from(BURST) + PER_SECOND * (*end - *start).as_secs_f64();
            assert!(
                calls <= 1.1 * allowed + 1.0,
                "{calls} calls in {:?}: the rate is {PER_SECOND}/s, burst {BURST}",
                *end - *start
            );
        }
    }
    let span = *times.last().unwrap() - times[0];
    let nominal = Duration::from_secs_f64((TASKS as f64 - f64::from(BURST)) / PER_SECOND);
    assert!(span >= nominal.mul_f64(0.9), "{TASKS} calls in {span:?}");
    rig.finish().await;
}
