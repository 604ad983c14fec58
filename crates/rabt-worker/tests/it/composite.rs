//! `cooperative.establishment.check` end to end through the relay and the worker: the
//! registry record first, then every check that waits for it released with the input
//! the catalogue builds from that record (one identity check per board member), or
//! skipped with the registry's outcome; the verdict from every check's outcome.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, Outcome, TaskId, TaskState, Verdict};
use rabt_store::{Actor, NewRequest, RequestRecord, StartResult, TaskCompletion, TaskView};
use serde_json::{Value, json};

use crate::agency::Reply;
use crate::fanout::task_of;
use crate::fixtures::{
    ESTABLISHMENT, HQ_SHORT_ADDRESS, board, establishment_input, licence_input, municipal_callback,
    ok_output, registry_record, registry_record_without_licence,
};
use crate::rig::{Pairing, Rig, count, entries, pairing_test, worker_settings};

/// The agencies the establishment check calls.
const AGENCIES: [Agency; 5] = [
    Agency::Labor,
    Agency::Interior,
    Agency::SaudiPost,
    Agency::Municipal,
    Agency::Chambers,
];

/// The checks that wait for the registry, with the index of each board member.
const DEPENDANTS: [(&str, Option<u32>); 6] = [
    ("boardIdentity", Some(0)),
    ("boardIdentity", Some(1)),
    ("hqAddress", None),
    ("municipalLicense", None),
    ("chamberMembership", None),
    ("laborCompliance", None),
];

/// The municipality's reference for the licence check.
const REFERENCE: &str = "BLD-00C0FFEE";

/// A rig whose catalogue has `deadlines` (`<composite>/<child>`) shortened.
async fn rig_with_deadlines(pairing: Pairing, deadlines: &[(&str, Duration)]) -> Rig {
    let mut rig = Rig::new(pairing).await;
    let mut catalogue = Catalogue::bundled().unwrap();
    for (key, deadline) in deadlines {
        catalogue.set_deadline(key, *deadline).unwrap();
    }
    rig.catalogue = Arc::new(catalogue);
    rig
}

/// A relay and a worker for every agency the check calls.
fn start(rig: &mut Rig) {
    rig.start_relay();
    rig.start_worker_for(&AGENCIES, worker_settings());
}

/// The check of the golden cooperative, fanned out as the API does.
fn establishment_request(rig: &Rig) -> NewRequest {
    rig.composite_request(ESTABLISHMENT, establishment_input())
}

/// The task of a check in a read request.
fn check<'a>(record: &'a RequestRecord, child: &str, index: Option<u32>) -> &'a TaskView {
    record
        .tasks
        .iter()
        .find(|t| t.child.as_deref() == Some(child) && t.index == index)
        .unwrap_or_else(|| panic!("no `{child}` {index:?} check in {record:#?}"))
}

/// The checks that did not end `OK`, with their outcomes.
fn not_ok(record: &RequestRecord) -> Vec<(String, Option<u32>, TaskState)> {
    record
        .tasks
        .iter()
        .filter(|t| t.state != TaskState::Completed(Outcome::Ok))
        .map(|t| (t.child.clone().unwrap(), t.index, t.state))
        .collect()
}

/// Asserts that `child` (no index) is the only check that did not end `OK`, and that
/// it ended with `outcome`.
fn assert_only_not_ok(record: &RequestRecord, child: &str, outcome: Outcome) {
    assert_eq!(
        not_ok(record),
        [(child.to_owned(), None, TaskState::Completed(outcome))],
        "{record:#?}"
    );
}

/// Asserts that every check waiting for the registry ended with `outcome` without
/// being started, nothing recorded, its error saying `why`.
fn skipped_with(record: &RequestRecord, outcome: Outcome, why: &str) {
    for (child, index) in DEPENDANTS {
        let task = check(record, child, index);
        assert_eq!(task.state, TaskState::Completed(outcome), "{child}");
        assert_eq!(task.attempts, 0, "{child} was started");
        assert_eq!(task.data, None, "{child}");
        let error = task.last_error.as_deref().unwrap_or_default();
        assert!(error.contains(why), "{child}: {error}");
    }
}

/// The inputs the agencies received for `task`, one per call.
fn inputs(rig: &Rig, agency: Agency, task: TaskId) -> Vec<Value> {
    let calls = rig.scripted(agency).calls(task);
    calls.into_iter().map(|c| c.input).collect()
}

/// Waits for the licence check to be accepted, then calls back with `status`.
async fn licence_answered(rig: &Rig, new: &NewRequest, status: &str) {
    let licence = task_of(new, "municipalLicense", None);
    rig.task_in_state(new.id, licence, TaskState::AwaitingCallback)
        .await;
    let body = municipal_callback(REFERENCE, Some(status));
    let callback = rig.call_back(Agency::Municipal, body).await;
    rig.callback_applied(callback).await;
}

pairing_test!(every_check_ok_passes_with_inputs_built_from_the_registry);
async fn every_check_ok_passes_with_inputs_built_from_the_registry(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    start(&mut rig);
    let new = establishment_request(&rig);
    let registry = task_of(&new, "registry", None);
    let licence = task_of(&new, "municipalLicense", None);
    rig.scripted(Agency::Municipal)
        .script(licence, [Reply::Submitted(REFERENCE.to_owned())]);
    rig.submit(&new).await;
    licence_answered(&rig, &new, "ACTIVE").await;

    let record = rig.completed(new.id).await;
    assert_eq!(not_ok(&record), [], "{record:#?}");
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(record.tasks.len(), 1 + DEPENDANTS.len());
    assert_eq!(
        check(&record, "registry", None).data,
        Some(registry_record())
    );
    assert_eq!(
        check(&record, "hqAddress", None).data,
        Some(ok_output("post.address.verify"))
    );

    let record_of = registry_record();
    let unified = json!({"unifiedNumber": record_of["unifiedNumber"]});
    let task = |child, index| task_of(&new, child, index);
    assert_eq!(
        inputs(&rig, Agency::Labor, registry),
        [json!({"unifiedNumber": establishment_input()["unifiedNumber"]})]
    );
    for (index, member) in board().into_iter().enumerate() {
        let index = Some(index as u32);
        assert_eq!(
            inputs(&rig, Agency::Interior, task("boardIdentity", index)),
            [member],
            "board member {index:?}"
        );
    }
    assert_eq!(
        inputs(&rig, Agency::SaudiPost, task("hqAddress", None)),
        [json!({"shortAddress": HQ_SHORT_ADDRESS})]
    );
    assert_eq!(inputs(&rig, Agency::Municipal, licence), [licence_input()]);
    assert_eq!(
        inputs(&rig, Agency::Chambers, task("chamberMembership", None)),
        std::slice::from_ref(&unified)
    );
    assert_eq!(
        inputs(&rig, Agency::Labor, task("laborCompliance", None)),
        [unified]
    );

    let audit = rig.audit(new.id).await;
    assert_eq!(count(&audit, "task.released"), DEPENDANTS.len());
    assert_eq!(count(&audit, "task.skipped"), 0);
    assert_eq!(count(&audit, "request.completed"), 1);
    rig.outbox_drained().await;
    rig.finish().await;
}

pairing_test!(a_registry_not_found_skips_every_dependant_and_fails);
async fn a_registry_not_found_skips_every_dependant_and_fails(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    start(&mut rig);
    let new = establishment_request(&rig);
    let registry = task_of(&new, "registry", None);
    rig.scripted(Agency::Labor)
        .script(registry, [Reply::NotFound]);
    rig.submit(&new).await;

    let record = rig.completed(new.id).await;
    assert_eq!(record.verdict, Some(Verdict::Fail));
    let registry_view = check(&record, "registry", None);
    assert_eq!(registry_view.state, TaskState::Completed(Outcome::NotFound));
    skipped_with(&record, Outcome::NotFound, "`registry` answered NOT_FOUND");
    assert_eq!(rig.scripted(Agency::Labor).calls(registry).len(), 1);
    assert_eq!(
        rig.scripted(Agency::Labor).total_calls(),
        1,
        "only the registry"
    );
    for agency in &AGENCIES[1..] {
        assert_eq!(
            rig.scripted(*agency).total_calls(),
            0,
            "{agency} was called"
        );
    }
    let audit = rig.audit(new.id).await;
    assert_eq!(count(&audit, "task.skipped"), DEPENDANTS.len());
    assert_eq!(count(&audit, "task.released"), 0);
    rig.finish().await;
}

pairing_test!(an_expired_licence_fails_the_request_on_that_check);
async fn an_expired_licence_fails_the_request_on_that_check(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    start(&mut rig);
    let new = establishment_request(&rig);
    let licence = task_of(&new, "municipalLicense", None);
    rig.scripted(Agency::Municipal)
        .script(licence, [Reply::Submitted(REFERENCE.to_owned())]);
    rig.submit(&new).await;
    licence_answered(&rig, &new, "EXPIRED").await;

    let record = rig.completed(new.id).await;
    assert_eq!(record.verdict, Some(Verdict::Fail));
    assert_only_not_ok(&record, "municipalLicense", Outcome::Mismatch);
    let data = check(&record, "municipalLicense", None).data.clone();
    assert_eq!(data.unwrap()["status"], "EXPIRED");
    rig.finish().await;
}

pairing_test!(a_check_that_never_answers_times_out_and_leaves_the_verdict_partial);
async fn a_check_that_never_answers_times_out_and_leaves_the_verdict_partial(pairing: Pairing) {
    let hq_deadline = (
        "cooperative.establishment.check/hqAddress",
        Duration::from_secs(1),
    );
    let mut rig = rig_with_deadlines(pairing, &[hq_deadline]).await;
    start(&mut rig);
    let new = establishment_request(&rig);
    let hq = task_of(&new, "hqAddress", None);
    rig.scripted(Agency::SaudiPost).script(hq, [Reply::Silent]);
    rig.submit(&new).await;

    let record = rig.completed(new.id).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    assert_only_not_ok(&record, "hqAddress", Outcome::Timeout);
    // The deadline leaves no room for a retry.
    assert!(rig.scripted(Agency::SaudiPost).calls(hq).len() <= 1);
    rig.finish().await;
}

pairing_test!(a_registry_record_without_the_licence_number_skips_the_licence_check);
async fn a_registry_record_without_the_licence_number_skips_the_licence_check(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    start(&mut rig);
    let new = establishment_request(&rig);
    let registry = task_of(&new, "registry", None);
    let answer = Reply::Answer(Outcome::Ok, registry_record_without_licence());
    rig.scripted(Agency::Labor).script(registry, [answer]);
    rig.submit(&new).await;

    let record = rig.completed(new.id).await;
    assert_eq!(record.verdict, Some(Verdict::Fail));
    assert_only_not_ok(&record, "municipalLicense", Outcome::InvalidInput);
    let licence = check(&record, "municipalLicense", None);
    assert_eq!(licence.attempts, 0);
    let error = licence.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("registry#/municipalLicenseNumber"),
        "{error}"
    );
    assert_eq!(rig.scripted(Agency::Municipal).total_calls(), 0);
    let audit = rig.audit(new.id).await;
    assert_eq!(count(&audit, "task.skipped"), 1);
    assert_eq!(count(&audit, "task.released"), DEPENDANTS.len() - 1);
    rig.finish().await;
}

pairing_test!(the_sweeper_skips_the_checks_of_a_timed_out_registry);
async fn the_sweeper_skips_the_checks_of_a_timed_out_registry(pairing: Pairing) {
    let registry_deadline = (
        "cooperative.establishment.check/registry",
        Duration::from_millis(500),
    );
    let mut rig = rig_with_deadlines(pairing, &[registry_deadline]).await;
    rig.start_relay();
    // No worker serves the registry's agency: its task waits in the queue and only the
    // sweeper can end it.
    let mut settings = worker_settings();
    settings.deadline_sweep = Duration::from_millis(100);
    rig.start_worker_for(&AGENCIES[1..], settings);
    let new = establishment_request(&rig);
    let registry = task_of(&new, "registry", None);
    rig.submit(&new).await;

    let record = rig.completed(new.id).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    let registry_view = check(&record, "registry", None);
    assert_eq!(registry_view.state, TaskState::Completed(Outcome::Timeout));
    skipped_with(&record, Outcome::Timeout, "`registry` answered TIMEOUT");
    for agency in AGENCIES {
        assert_eq!(rig.scripted(agency).total_calls(), 0, "{agency} was called");
    }
    let audit = rig.audit(new.id).await;
    let completed = entries(&audit, "task.completed");
    let by_sweeper = completed.iter().find(|e| e.task == Some(registry)).unwrap();
    assert_eq!(by_sweeper.actor, Actor::System, "the sweeper ended it");
    assert_eq!(count(&audit, "task.skipped"), DEPENDANTS.len());
    rig.outbox_drained().await;
    rig.finish().await;
}

pairing_test!(checks_waiting_for_a_check_whose_worker_died_are_released_on_redelivery);
async fn checks_waiting_for_a_check_whose_worker_died_are_released_on_redelivery(pairing: Pairing) {
    let mut rig = Rig::new(pairing).await;
    let new = establishment_request(&rig);
    let registry = task_of(&new, "registry", None);
    rig.submit(&new).await;
    // A worker took the registry check, recorded the answer and died before releasing
    // the checks that wait for it. Its message is delivered again (here it is still in
    // the outbox; in production the broker redelivers it, unacknowledged).
    let started = rig.store.start_task(registry, Utc::now()).await.unwrap();
    assert_eq!(started, StartResult::Started { attempt: 1 });
    let answer = TaskCompletion {
        task: registry,
        outcome: Outcome::Ok,
        data: Some(registry_record()),
        upstream_ref: None,
        error: None,
        latency_ms: Some(40),
        completed_at: Utc::now(),
    };
    rig.store.complete_task(&answer).await.unwrap();
    start(&mut rig);

    let record = rig.completed(new.id).await;
    assert_eq!(not_ok(&record), [], "{record:#?}");
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(rig.scripted(Agency::Labor).calls(registry), []);
    let hq = task_of(&new, "hqAddress", None);
    assert_eq!(
        inputs(&rig, Agency::SaudiPost, hq),
        [json!({"shortAddress": HQ_SHORT_ADDRESS})]
    );
    rig.finish().await;
}
