//! The sandbox's health cases end to end over real sockets: the adapter submits to the
//! simulator, the simulator calls a fake Rabt back with a signed callback, and the
//! adapter maps that callback; with the callback knobs.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::time::{Duration, Instant};

use rabt_adapter::{Adapter, Answer, CallbackAnswer};
use rabt_adapter_health::CERTIFICATES_VERIFY;
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, Outcome, TaskId};
use rabt_sandbox::simulator::Knobs;
use rabt_sandbox::world::{cases, golden};
use serde_json::{Value, json};
use support::{Ministry, fixture, submitted, verify};

const FOOD_WORKERS: [&str; 5] = [
    cases::WORKER_VALID_CITIZEN,
    cases::WORKER_VALID_RESIDENT,
    cases::WORKER_UNFIT,
    cases::WORKER_CERTIFICATE_EXPIRED,
    cases::WORKER_WITHOUT_CERTIFICATE,
];

fn input(licence: &str, ids: &[&str]) -> Value {
    json!({"establishmentLicenseNumber": licence, "idNumbers": ids})
}

/// Checks the callback body and the answer against the catalogue's schemas, and returns
/// the answer the adapter makes of the callback.
fn answer_of(ministry: &Ministry, body: &Value) -> CallbackAnswer {
    let catalogue = Catalogue::bundled().unwrap();
    let schema = catalogue.callback_schema(Agency::Health).unwrap();
    schema.validate(body).unwrap();
    let mut answers = ministry.adapter.callback(body).unwrap();
    assert_eq!(answers.len(), 1, "one answer per batch");
    let answer = answers.remove(0);
    let service = catalogue.service(CERTIFICATES_VERIFY).unwrap();
    service.validate_output(&answer.data).unwrap();
    answer
}

#[tokio::test]
async fn the_food_cooperatives_workers_are_a_mismatch_with_each_workers_detail() {
    let ministry = Ministry::start().await;
    let answer = verify(
        &ministry.adapter,
        TaskId::new(),
        &input(cases::FOOD_LICENCE, &FOOD_WORKERS),
    )
    .await;
    let reference = submitted(answer);
    let callback = ministry.rabt.wait_for(&reference).await;
    assert_eq!(
        callback.body["eventType"],
        "HEALTH_CERTIFICATES_BATCH_COMPLETED"
    );
    let answer = answer_of(&ministry, &callback.body);
    assert_eq!(answer.upstream_ref, reference);
    assert_eq!(answer.outcome, Outcome::Mismatch);
    assert_eq!(answer.data, fixture("output-4000067890.json"));
}

#[tokio::test]
async fn workers_with_valid_certificates_are_ok() {
    let ministry = Ministry::start().await;
    let ids = [cases::WORKER_VALID_RESIDENT, cases::WORKER_VALID_CITIZEN];
    let reference = submitted(
        verify(
            &ministry.adapter,
            TaskId::new(),
            &input(cases::FOOD_LICENCE, &ids),
        )
        .await,
    );
    let callback = ministry.rabt.wait_for(&reference).await;
    let answer = answer_of(&ministry, &callback.body);
    assert_eq!(answer.outcome, Outcome::Ok);
    assert_eq!(answer.data["allValid"], true);
    // In the order asked.
    assert_eq!(
        answer.data["certificates"][0]["idNumber"],
        cases::WORKER_VALID_RESIDENT
    );
    assert_eq!(
        answer.data["certificates"][1]["certificateNumber"],
        "HC-1445-000101"
    );
}

#[tokio::test]
async fn each_kind_of_invalid_certificate_alone_is_a_mismatch() {
    let ministry = Ministry::start().await;
    for worker in [
        cases::WORKER_UNFIT,
        cases::WORKER_CERTIFICATE_EXPIRED,
        cases::WORKER_WITHOUT_CERTIFICATE,
    ] {
        let reference = submitted(
            verify(
                &ministry.adapter,
                TaskId::new(),
                &input(cases::FOOD_LICENCE, &[worker]),
            )
            .await,
        );
        let callback = ministry.rabt.wait_for(&reference).await;
        let answer = answer_of(&ministry, &callback.body);
        assert_eq!(answer.outcome, Outcome::Mismatch, "{worker}");
        assert_eq!(answer.data["allValid"], false, "{worker}");
    }
}

#[tokio::test]
async fn an_unknown_establishment_is_not_found_at_once() {
    let ministry = Ministry::start().await;
    let answer = verify(
        &ministry.adapter,
        TaskId::new(),
        &input(cases::LICENCE_IN_NO_WORLD, &[cases::WORKER_VALID_CITIZEN]),
    )
    .await
    .unwrap();
    assert_eq!(
        answer,
        Answer::Final {
            outcome: Outcome::NotFound,
            data: Value::Null,
            upstream_ref: None
        }
    );
}

#[tokio::test]
async fn the_compliant_cooperatives_shop_has_no_food_workers_on_file() {
    // The catalogue's example: 7000000001's licence with the golden citizen and resident,
    // neither of whom holds a certificate there.
    let ministry = Ministry::start().await;
    let ids = [golden::CITIZEN_ID, golden::RESIDENT_ID];
    let reference = submitted(
        verify(
            &ministry.adapter,
            TaskId::new(),
            &input(golden::COOP_COMPLIANT_LICENCE, &ids),
        )
        .await,
    );
    let callback = ministry.rabt.wait_for(&reference).await;
    let answer = answer_of(&ministry, &callback.body);
    assert_eq!(answer.outcome, Outcome::Mismatch);
    assert_eq!(
        answer.data,
        json!({"establishmentLicenseNumber": golden::COOP_COMPLIANT_LICENCE, "allValid": false,
               "certificates": [
                   {"idNumber": golden::CITIZEN_ID, "found": false, "valid": false},
                   {"idNumber": golden::RESIDENT_ID, "found": false, "valid": false}]})
    );
}

#[tokio::test]
async fn a_retried_task_gets_the_same_batch_and_one_callback() {
    let ministry = Ministry::start().await;
    let task = TaskId::new();
    let input = input(cases::FOOD_LICENCE, &FOOD_WORKERS);
    let first = submitted(verify(&ministry.adapter, task, &input).await);
    let again = submitted(verify(&ministry.adapter, task, &input).await);
    assert_eq!(first, again);
    let stats = ministry.knobs.stats();
    assert_eq!((stats.calls, stats.distinct_request_ids), (2, 1));
    assert!(ministry.knobs.saw_request_id(&task.to_string()));
    ministry.rabt.wait_for(&first).await;
    // Another batch's callback, sent later, arrives; the retried one was never sent twice.
    let other = submitted(verify(&ministry.adapter, TaskId::new(), &input).await);
    ministry.rabt.wait_for(&other).await;
    let copies = ministry
        .rabt
        .received()
        .iter()
        .filter(|r| r.body["reference"] == first)
        .count();
    assert_eq!(copies, 1);
}

#[tokio::test]
async fn never_call_back_accepts_and_stays_silent() {
    let ministry = Ministry::start_with(Knobs {
        never_call_back: true,
        ..Knobs::default()
    })
    .await;
    let input = input(cases::FOOD_LICENCE, &FOOD_WORKERS);
    let silent = submitted(verify(&ministry.adapter, TaskId::new(), &input).await);
    ministry.knobs.set(Knobs::default());
    let heard = submitted(verify(&ministry.adapter, TaskId::new(), &input).await);
    ministry.rabt.wait_for(&heard).await;
    assert!(
        ministry
            .rabt
            .received()
            .iter()
            .all(|r| r.body["reference"] != silent),
        "a callback came for a batch accepted under never_call_back"
    );
}

#[tokio::test]
async fn the_callback_waits_for_the_callback_delay() {
    let delay = Duration::from_millis(400);
    let ministry = Ministry::start_with(Knobs {
        callback_delay: delay,
        ..Knobs::default()
    })
    .await;
    let started = Instant::now();
    let reference = submitted(
        verify(
            &ministry.adapter,
            TaskId::new(),
            &input(cases::FOOD_LICENCE, &FOOD_WORKERS),
        )
        .await,
    );
    let callback = ministry.rabt.wait_for(&reference).await;
    // A lower bound only: it holds however slow the machine is.
    assert!(callback.at.duration_since(started) >= delay);
    assert!(callback.id.starts_with("msg_"), "{}", callback.id);
}

#[test]
fn the_wire_fixtures_follow_the_catalogues_schemas() {
    let catalogue = Catalogue::bundled().unwrap();
    let callback = catalogue.callback_schema(Agency::Health).unwrap();
    callback
        .validate(&fixture("callback-4000067890.json"))
        .unwrap();
    let service = catalogue.service(CERTIFICATES_VERIFY).unwrap();
    service
        .validate_output(&fixture("output-4000067890.json"))
        .unwrap();
    let input = input(cases::FOOD_LICENCE, &FOOD_WORKERS);
    service.validate_input(&input).unwrap();
}
