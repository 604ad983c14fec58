use axum::body::Body;
use axum::http::Request;
use chrono::TimeZone;
use rabt_core::Agency;
use rabt_sandbox::conformance::{numbered_national_ids, oneshot, wire_fixture, without_callbacks};
use rabt_sandbox::simulator::{Fault, Knobs};
use rabt_sandbox::world::cases;
use serde_json::{Value, json};

use super::*;

const KEY: &str = "sim-key";

/// The simulator with callbacks switched off: these tests look at the HTTP answers.
fn app() -> (Router, KnobsHandle) {
    without_callbacks(Agency::Health, KEY, router)
}

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

async fn post_raw(
    app: &Router,
    key: Option<&str>,
    request_id: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::post(BATCHES_PATH).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    oneshot(app, request.body(body.into()).unwrap()).await
}

async fn post(app: &Router, request_id: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let (status, _, bytes) = post_raw(app, Some(KEY), request_id, body.to_string()).await;
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn batch(licence: &str, ids: &[&str]) -> Value {
    let workers: Vec<Value> = ids.iter().map(|id| json!({"idNumber": id})).collect();
    json!({"establishmentLicenseNumber": licence, "workers": workers})
}

#[tokio::test]
async fn a_known_establishment_is_accepted_with_a_fresh_reference() {
    let (app, _) = app();
    let body = fixture("batch-request-4000067890.json");
    let (status, first) = post(&app, None, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let accepted: MohBatchAccepted = serde_json::from_value(first).unwrap();
    assert_eq!(accepted.establishment_license_number, cases::FOOD_LICENCE);
    assert_eq!(accepted.workers_count, 5);
    assert!(crate::wire::check_reference(&accepted.reference).is_ok());
    let (_, second) = post(&app, None, &body).await;
    assert_ne!(second["reference"], json!(accepted.reference));
}

#[tokio::test]
async fn a_retried_submission_gets_its_batch_back_and_a_reused_id_is_refused() {
    let (app, _) = app();
    let body = fixture("batch-request-4000067890.json");
    let (status, first) = post(&app, Some("task_1"), &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        post(&app, Some("task_1"), &body).await,
        (StatusCode::OK, first)
    );
    let other = batch(cases::FOOD_LICENCE, &[cases::WORKER_VALID_CITIZEN]);
    let (status, error) = post(&app, Some("task_1"), &other).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["code"], "DUPLICATE_REQUEST");
}

#[tokio::test]
async fn the_callback_of_the_golden_batch_is_the_fixture() {
    let world = World::standard();
    let accepted: MohBatchAccepted =
        serde_json::from_value(fixture("batch-accepted.json")).unwrap();
    let workers: Vec<NationalId> = [
        cases::WORKER_VALID_CITIZEN,
        cases::WORKER_VALID_RESIDENT,
        cases::WORKER_UNFIT,
        cases::WORKER_CERTIFICATE_EXPIRED,
        cases::WORKER_WITHOUT_CERTIFICATE,
    ]
    .iter()
    .map(|id| NationalId::parse(id).unwrap())
    .collect();
    let completed_at = Utc.with_ymd_and_hms(2025, 1, 1, 10, 5, 0).unwrap();
    let callback = batch_callback(&world, &accepted, &workers, completed_at);
    assert_eq!(
        serde_json::to_value(callback).unwrap(),
        fixture("callback-4000067890.json")
    );
}

#[tokio::test]
async fn errors_are_the_ministrys_own() {
    let (app, _) = app();
    let body = fixture("batch-request-4000067890.json").to_string();
    for key in [None, Some("wrong")] {
        let (status, _, bytes) = post_raw(&app, key, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            fixture("error-401.json")
        );
    }
    let unknown = batch(cases::LICENCE_IN_NO_WORLD, &[cases::WORKER_VALID_CITIZEN]);
    assert_eq!(
        post(&app, None, &unknown).await,
        (
            StatusCode::NOT_FOUND,
            fixture("error-404-establishment.json")
        )
    );
    // A building permit is no establishment's licence.
    let permit = batch(
        rabt_sandbox::world::golden::COOP_COMPLIANT_BUILDING_PERMIT,
        &[cases::WORKER_VALID_CITIZEN],
    );
    assert_eq!(post(&app, None, &permit).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn batches_are_checked_as_the_ministry_checks_them() {
    let (app, _) = app();
    let ids = numbered_national_ids(MAX_WORKERS + 1);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let full = batch(cases::FOOD_LICENCE, &refs[..MAX_WORKERS]);
    assert_eq!(post(&app, None, &full).await.0, StatusCode::ACCEPTED);
    let over = batch(cases::FOOD_LICENCE, &refs);
    assert_eq!(
        post(&app, None, &over).await,
        (
            StatusCode::BAD_REQUEST,
            fixture("error-400-batch-too-large.json")
        )
    );
    let invalid = [
        batch("1234", &[cases::WORKER_VALID_CITIZEN]),
        batch(cases::FOOD_LICENCE, &[]),
        batch(cases::FOOD_LICENCE, &["1000000009"]),
        batch(
            cases::FOOD_LICENCE,
            &[cases::WORKER_UNFIT, cases::WORKER_UNFIT],
        ),
        json!({"establishmentLicenseNumber": cases::FOOD_LICENCE}),
        json!({"establishmentLicenseNumber": 4000067890_u64, "workers": []}),
        json!([1, 2, 3]),
    ];
    for body in invalid {
        let (status, error) = post(&app, None, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["code"], "VALIDATION_ERROR", "{body}");
    }
    for garbage in ["", "{", "\u{0}\u{1}", "null"] {
        let (status, _, _) = post_raw(&app, Some(KEY), None, garbage).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{garbage:?}");
    }
}

#[tokio::test]
async fn faults_come_first_in_the_ministrys_style() {
    let (app, knobs) = app();
    let body = fixture("batch-request-4000067890.json").to_string();
    let with = |fault| Knobs {
        fault,
        never_call_back: true,
        ..Knobs::default()
    };
    knobs.set(with(Fault::ServerError));
    // Even with a wrong key: the fault answers before anything is checked.
    let (status, _, bytes) = post_raw(&app, Some("wrong"), None, body.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap()["code"],
        "INTERNAL_ERROR"
    );

    knobs.set(with(Fault::RateLimit { retry_after: 4 }));
    let (status, headers, bytes) = post_raw(&app, Some(KEY), None, body.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "4");
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap()["code"],
        "RATE_LIMITED"
    );

    knobs.set(with(Fault::Malformed));
    let (status, _, bytes) = post_raw(&app, Some(KEY), None, body).await;
    assert!(status.is_success());
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
}

#[tokio::test]
async fn calls_are_counted_with_their_request_ids() {
    let (app, knobs) = app();
    let body = fixture("batch-request-4000067890.json").to_string();
    post_raw(&app, Some(KEY), Some("task_a"), body.clone()).await;
    post_raw(&app, Some(KEY), Some("task_a"), body.clone()).await;
    post_raw(&app, Some(KEY), None, body).await;
    let stats = knobs.stats();
    assert_eq!(
        (
            stats.calls,
            stats.distinct_request_ids,
            stats.calls_without_request_id
        ),
        (3, 1, 1)
    );
}
