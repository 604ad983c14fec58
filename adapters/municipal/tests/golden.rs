//! The golden fixtures end to end over real sockets: the adapter submits to the
//! simulator serving the standard world, the simulator calls a fake Rabt endpoint back
//! with a signed callback, and the adapter reads the callback into the task's answer.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use rabt_adapter::{Adapter, Answer, CallbackAnswer};
use rabt_adapter_municipal::LICENSE_VERIFY;
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, Outcome, TaskId};
use rabt_sandbox::conformance::call_once;
use rabt_sandbox::simulator::Knobs;
use rabt_sandbox::world::{cases, golden};
use serde_json::{Value, json};

use common::{Stage, stage};

/// Submits and returns the reference the agency gave.
async fn submit(stage: &Stage, input: Value) -> String {
    match call_once(&stage.adapter, LICENSE_VERIFY, TaskId::new(), &input)
        .await
        .unwrap()
    {
        Answer::Submitted { upstream_ref } => upstream_ref,
        other => panic!("expected Submitted, got {other:?}"),
    }
}

/// The whole round trip: submit, wait for the callback, check it against the callback
/// schema, and read it with the adapter, checking the output against the service's
/// output schema.
async fn round_trip(stage: &Stage, input: Value) -> CallbackAnswer {
    let reference = submit(stage, input).await;
    let received = stage.receiver.wait_for(&reference).await;
    let catalogue = Catalogue::bundled().unwrap();
    let schema = catalogue.callback_schema(Agency::Municipal).unwrap();
    if let Err(violations) = schema.validate(&received.body) {
        panic!(
            "{} breaks the callback schema: {violations:?}",
            received.body
        );
    }
    let mut answers = stage.adapter.callback(&received.body).unwrap();
    assert_eq!(answers.len(), 1);
    let answer = answers.remove(0);
    assert_eq!(answer.upstream_ref, reference);
    let service = catalogue.service(LICENSE_VERIFY).unwrap();
    if let Err(violations) = service.validate_output(&answer.data) {
        panic!("{} breaks the output schema: {violations:?}", answer.data);
    }
    answer
}

#[tokio::test]
async fn the_compliant_cooperative_s_licence_is_ok() {
    let stage = stage().await;
    let answer = round_trip(
        &stage,
        json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE, "licenseType": "COMMERCIAL",
               "unifiedNumber": golden::COOP_COMPLIANT}),
    )
    .await;
    assert_eq!(answer.outcome, Outcome::Ok);
    let data = &answer.data;
    assert_eq!(data["status"], "ACTIVE");
    assert_eq!(data["holderMatches"], true);
    assert_eq!(data["address"]["shortAddress"], golden::SHORT_ADDRESS_FOUND);
    assert_eq!(data["inspection"]["result"], "COMPLIANT");
    assert_eq!(
        data["linkedPermits"],
        json!([golden::COOP_COMPLIANT_BUILDING_PERMIT])
    );
    assert_eq!(stage.receiver.refused(), 0);
}

#[tokio::test]
async fn the_expired_licence_of_7000000002_is_a_mismatch() {
    let stage = stage().await;
    // As the establishment check sends it: the type given, the holder from the registry.
    let answer = round_trip(
        &stage,
        json!({"licenseNumber": golden::COOP_EXPIRED_LICENCE_LICENCE, "licenseType": "COMMERCIAL",
               "unifiedNumber": golden::COOP_EXPIRED_LICENCE}),
    )
    .await;
    assert_eq!(answer.outcome, Outcome::Mismatch);
    assert_eq!(answer.data["status"], "EXPIRED");
    assert_eq!(answer.data["holderMatches"], true);
    assert_eq!(answer.data["expiresAt"]["gregorian"], "2023-09-16");
}

#[tokio::test]
async fn a_licence_in_no_world_is_not_found() {
    let stage = stage().await;
    let answer = round_trip(&stage, json!({"licenseNumber": cases::LICENCE_IN_NO_WORLD})).await;
    assert_eq!(answer.outcome, Outcome::NotFound);
    assert_eq!(answer.data, json!({"found": false}));
}

#[tokio::test]
async fn suspended_cancelled_and_someone_else_s_licences_are_mismatches() {
    let stage = stage().await;
    for (input, status) in [
        (
            json!({"licenseNumber": cases::LICENCE_SUSPENDED}),
            "SUSPENDED",
        ),
        (
            json!({"licenseNumber": cases::LICENCE_CANCELLED}),
            "CANCELLED",
        ),
        (
            json!({"licenseNumber": cases::PERMIT_CANCELLED, "licenseType": "BUILDING_PERMIT"}),
            "CANCELLED",
        ),
    ] {
        let answer = round_trip(&stage, input.clone()).await;
        assert_eq!(answer.outcome, Outcome::Mismatch, "{input}");
        assert_eq!(answer.data["status"], status, "{input}");
    }
    let answer = round_trip(
        &stage,
        json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE,
               "unifiedNumber": golden::COOP_RED_BAND}),
    )
    .await;
    assert_eq!(answer.outcome, Outcome::Mismatch);
    assert_eq!(answer.data["status"], "ACTIVE");
    assert_eq!(answer.data["holderMatches"], false);
}

#[tokio::test]
async fn the_register_asked_is_searched() {
    let stage = stage().await;
    let permit = golden::COOP_COMPLIANT_BUILDING_PERMIT;
    let as_permit = round_trip(
        &stage,
        json!({"licenseNumber": permit, "licenseType": "BUILDING_PERMIT"}),
    )
    .await;
    assert_eq!(as_permit.outcome, Outcome::Ok);
    assert_eq!(as_permit.data["licenseType"], "BUILDING_PERMIT");
    let as_shop = round_trip(&stage, json!({"licenseNumber": permit})).await;
    assert_eq!(as_shop.outcome, Outcome::NotFound);
}

#[tokio::test]
async fn never_call_back_accepts_and_never_calls() {
    let stage = stage().await;
    stage.knobs.set(Knobs {
        never_call_back: true,
        ..Knobs::default()
    });
    let silent = submit(
        &stage,
        json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE}),
    )
    .await;
    // Calls accepted afterwards are called back: once theirs has arrived, a callback
    // for the first would have too (it was due first).
    stage.knobs.set(Knobs::default());
    for _ in 0..2 {
        let heard = submit(
            &stage,
            json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE}),
        )
        .await;
        stage.receiver.wait_for(&heard).await;
    }
    assert!(stage.receiver.for_reference(&silent).is_empty());
    assert_eq!(stage.receiver.received().len(), 2);
}

#[tokio::test]
async fn the_callback_delay_is_respected() {
    let stage = stage().await;
    let delay = Duration::from_millis(400);
    stage.knobs.set(Knobs {
        callback_delay: delay,
        ..Knobs::default()
    });
    let started = Instant::now();
    let reference = submit(
        &stage,
        json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE}),
    )
    .await;
    let accepted_after = started.elapsed();
    let received = stage.receiver.wait_for(&reference).await;
    // Lower bounds only: they hold however slow the machine is.
    assert!(received.at.duration_since(started) >= delay);
    assert!(accepted_after < received.at.duration_since(started));
}

#[tokio::test]
async fn a_retried_task_gets_the_same_reference_and_one_inspection() {
    let stage = stage().await;
    let input = json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE,
                       "unifiedNumber": golden::COOP_COMPLIANT});
    let task = TaskId::new();
    let first = call_once(&stage.adapter, LICENSE_VERIFY, task, &input)
        .await
        .unwrap();
    let second = call_once(&stage.adapter, LICENSE_VERIFY, task, &input)
        .await
        .unwrap();
    assert_eq!(first, second);
    let Answer::Submitted { upstream_ref } = first else {
        panic!("not submitted: {first:?}");
    };
    stage.receiver.wait_for(&upstream_ref).await;
    // Another task's callback, due after any second one for the first task.
    let other = submit(&stage, input).await;
    stage.receiver.wait_for(&other).await;
    assert_eq!(stage.receiver.for_reference(&upstream_ref).len(), 1);
    let stats = stage.knobs.stats();
    assert_eq!((stats.calls, stats.distinct_request_ids), (3, 2));
    assert!(stage.knobs.saw_request_id(&task.to_string()));
}

#[tokio::test]
async fn a_callback_signed_with_another_secret_is_refused_by_rabt() {
    let receiver = common::receiver().await;
    let knobs = rabt_sandbox::simulator::KnobsHandle::new();
    let wrong = receiver.sender_with(rabt_sandbox::webhook::Secret::generate(), &knobs);
    let router = rabt_adapter_municipal::simulator::router(
        std::sync::Arc::new(rabt_sandbox::world::World::standard()),
        rabt_adapter::http::Secret::new(common::KEY),
        knobs.clone(),
        wrong,
    );
    let (addr, _server) = rabt_sandbox::simulator::spawn(router).await.unwrap();
    let adapter = common::adapter(&format!("http://{addr}"), common::KEY);
    let input = json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE});
    assert!(matches!(
        call_once(&adapter, LICENSE_VERIFY, TaskId::new(), &input).await,
        Ok(Answer::Submitted { .. })
    ));
    // The fake checks signatures as Rabt does: the forgery is refused, never recorded.
    receiver.wait_for_refused(1).await;
    assert!(receiver.received().is_empty());
}
