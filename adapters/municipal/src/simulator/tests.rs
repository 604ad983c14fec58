use axum::body::Body;
use axum::http::Request;
use rabt_adapter::http::REQUEST_ID;
use rabt_core::Agency;
use rabt_sandbox::conformance::{oneshot, wire_fixture, without_callbacks};
use rabt_sandbox::simulator::{Fault, Knobs};
use rabt_sandbox::world::{cases, golden};
use serde_json::{Value, json};

use super::*;
use crate::wire::is_valid_reference;

const KEY: &str = "sim-key";

/// A simulator that accepts but never calls back: these tests look at the HTTP side;
/// the callbacks themselves are tested over real sockets in tests/golden.rs.
fn app() -> (Router, KnobsHandle) {
    without_callbacks(Agency::Municipal, KEY, router)
}

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

struct Post<'a> {
    key: Option<&'a str>,
    request_id: Option<&'a str>,
    content_type: &'a str,
    body: String,
}

impl<'a> Post<'a> {
    fn json(body: &Value) -> Self {
        Post {
            key: Some(KEY),
            request_id: Some("task_1"),
            content_type: "application/json",
            body: body.to_string(),
        }
    }
}

async fn send(app: &Router, post: Post<'_>) -> (StatusCode, HeaderMap, Value) {
    let mut request =
        Request::post(VERIFICATION_REQUESTS_PATH).header(header::CONTENT_TYPE, post.content_type);
    if let Some(key) = post.key {
        request = request.header(API_KEY_HEADER, key);
    }
    if let Some(id) = post.request_id {
        request = request.header(REQUEST_ID, id);
    }
    let (status, headers, bytes) = oneshot(app, request.body(Body::from(post.body)).unwrap()).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, body)
}

#[tokio::test]
async fn a_verification_request_is_accepted_with_a_reference() {
    let (app, knobs) = app();
    let (status, _, body) = send(&app, Post::json(&fixture("verification-request.json"))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let accepted: BaladyAcceptance = serde_json::from_value(body).unwrap();
    assert!(is_valid_reference(&accepted.reference), "{accepted:?}");
    assert!(accepted.reference.starts_with("BLD-"));
    assert_eq!(accepted.status, BaladyRequestStatus::PendingInspection);
    assert_eq!(accepted.received_at.offset().local_minus_utc(), 3 * 3600);
    assert!(knobs.saw_request_id("task_1"));
}

#[tokio::test]
async fn a_repeated_request_id_gets_the_same_reference_or_a_conflict() {
    let (app, _) = app();
    let body = fixture("verification-request.json");
    let (_, _, first) = send(&app, Post::json(&body)).await;
    let (status, _, again) = send(&app, Post::json(&body)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(first, again);
    let other = Post {
        request_id: Some("task_2"),
        ..Post::json(&body)
    };
    let (_, _, third) = send(&app, other).await;
    assert_ne!(first["reference"], third["reference"]);
    let changed = json!({"licenseNumber": golden::COOP_EXPIRED_LICENCE_LICENCE});
    let (status, _, conflict) = send(&app, Post::json(&changed)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["errorCode"], "DUPLICATE_REQUEST_ID");
    // Without a request id every submission is a new request.
    let anonymous = || Post {
        request_id: None,
        ..Post::json(&body)
    };
    let (_, _, a) = send(&app, anonymous()).await;
    let (_, _, b) = send(&app, anonymous()).await;
    assert_ne!(a["reference"], b["reference"]);
}

#[tokio::test]
async fn the_key_is_checked_as_balady_checks_it() {
    let (app, _) = app();
    let body = fixture("verification-request.json");
    for key in [None, Some("wrong"), Some("")] {
        let post = Post {
            key,
            ..Post::json(&body)
        };
        let (status, _, answer) = send(&app, post).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(answer, fixture("error-401.json"));
    }
}

#[tokio::test]
async fn bad_fields_get_balady_s_codes() {
    let (app, _) = app();
    let (status, _, answer) = send(&app, Post::json(&json!({"licenseNumber": "12"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer, fixture("error-400-license-number.json"));
    for (body, code) in [
        (json!({}), "INVALID_LICENSE_NUMBER"),
        (
            json!({"licenseNumber": 4000012345_u64}),
            "INVALID_LICENSE_NUMBER",
        ),
        (
            json!({"licenseNumber": "4000012345", "licenseType": "SHOP"}),
            "INVALID_LICENSE_TYPE",
        ),
        (
            json!({"licenseNumber": "4000012345", "unifiedNumber": "123"}),
            "INVALID_UNIFIED_NUMBER",
        ),
        (json!([1, 2]), "INVALID_REQUEST"),
        (json!("text"), "INVALID_REQUEST"),
    ] {
        let (status, _, answer) = send(&app, Post::json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["errorCode"], code, "{body}");
    }
    let broken = Post {
        body: "{\"licenseNumber\": ".to_owned(),
        ..Post::json(&json!({}))
    };
    let (status, _, answer) = send(&app, broken).await;
    assert_eq!(
        (status, &answer["errorCode"]),
        (StatusCode::BAD_REQUEST, &json!("INVALID_REQUEST"))
    );
    let form = Post {
        content_type: "application/x-www-form-urlencoded",
        ..Post::json(&fixture("verification-request.json"))
    };
    let (status, _, answer) = send(&app, form).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer["errorCode"], "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn faults_come_first_and_look_like_balady() {
    let (app, knobs) = app();
    let wrong_key = || Post {
        key: Some("wrong"),
        ..Post::json(&fixture("verification-request.json"))
    };
    let set = |fault| {
        knobs.set(Knobs {
            fault,
            ..Knobs::default()
        })
    };
    set(Fault::ServerError);
    let (status, _, answer) = send(&app, wrong_key()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer["errorCode"], "INTERNAL_ERROR");
    set(Fault::RateLimit { retry_after: 9 });
    let (status, headers, answer) = send(&app, wrong_key()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "9");
    assert_eq!(answer["errorCode"], "RATE_LIMITED");
    set(Fault::Malformed);
    let (status, _, answer) = send(&app, wrong_key()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.is_string(), "not JSON: {answer}");
}

/// Replaces what the simulator draws afresh with the fixture's values, after checking
/// their shapes.
fn normalised(mut callback: Value, like: &Value) -> Value {
    assert!(callback["eventId"].as_str().unwrap().starts_with("evt_"));
    assert!(is_valid_reference(callback["reference"].as_str().unwrap()));
    for pointer in ["/eventId", "/reference", "/occurredAt"] {
        *callback.pointer_mut(pointer).unwrap() = like.pointer(pointer).unwrap().clone();
    }
    if let Some(inspection) = callback.get_mut("inspection") {
        assert!(
            inspection["inspectionId"]
                .as_str()
                .unwrap()
                .starts_with("INSP-")
        );
        inspection["inspectionId"] = like["inspection"]["inspectionId"].clone();
        inspection["inspectedAt"] = like["inspection"]["inspectedAt"].clone();
    }
    callback
}

fn callback_json(request: Value) -> Value {
    let request: BaladyVerificationRequest = serde_json::from_value(request).unwrap();
    let world = World::standard();
    let callback = inspection::callback_for(&world, &request, "BLD-0000000001", riyadh_now());
    serde_json::to_value(callback).unwrap()
}

#[test]
fn the_golden_licences_are_inspected_exactly_as_the_fixtures_say() {
    for (request, file) in [
        (
            fixture("verification-request.json"),
            "callback-4000012345-active.json",
        ),
        (
            json!({"licenseNumber": golden::COOP_EXPIRED_LICENCE_LICENCE, "licenseType": "COMMERCIAL",
                   "unifiedNumber": golden::COOP_EXPIRED_LICENCE}),
            "callback-4000023456-expired.json",
        ),
        (
            json!({"licenseNumber": cases::LICENCE_IN_NO_WORLD, "licenseType": "COMMERCIAL"}),
            "callback-not-found.json",
        ),
    ] {
        let expected = fixture(file);
        assert_eq!(
            normalised(callback_json(request), &expected),
            expected,
            "{file}"
        );
    }
}

#[test]
fn the_register_asked_is_the_register_searched() {
    let permit = golden::COOP_COMPLIANT_BUILDING_PERMIT;
    let as_permit =
        callback_json(json!({"licenseNumber": permit, "licenseType": "BUILDING_PERMIT"}));
    assert_eq!(as_permit["result"], "FOUND");
    assert_eq!(as_permit["license"]["licenseType"], "BUILDING_PERMIT");
    let as_commercial =
        callback_json(json!({"licenseNumber": permit, "licenseType": "COMMERCIAL"}));
    assert_eq!(as_commercial["result"], "NOT_FOUND");
    assert!(as_commercial.get("license").is_none());
}

#[test]
fn suspended_and_cancelled_licences_are_found_as_they_are() {
    let suspended = callback_json(
        json!({"licenseNumber": cases::LICENCE_SUSPENDED, "licenseType": "COMMERCIAL"}),
    );
    assert_eq!(suspended["license"]["status"], "SUSPENDED");
    assert_eq!(suspended["inspection"]["result"], "NON_COMPLIANT");
    let cancelled = callback_json(
        json!({"licenseNumber": cases::LICENCE_CANCELLED, "licenseType": "COMMERCIAL"}),
    );
    assert_eq!(cancelled["license"]["status"], "CANCELLED");
    assert_eq!(
        cancelled["license"]["linkedPermits"],
        json!([cases::PERMIT_CANCELLED])
    );
    assert_eq!(cancelled["inspection"]["result"], "NOT_INSPECTED");
}

#[test]
fn every_licence_of_the_world_reads_back_through_the_adapter() {
    let world = World::standard();
    for licence in world.licences() {
        let request = BaladyVerificationRequest {
            license_number: licence.number.clone(),
            license_type: inspection::license(licence).license_type,
            unified_number: Some(licence.holder.to_string()),
        };
        let body = serde_json::to_value(inspection::callback_for(
            &world,
            &request,
            "BLD-0000000001",
            riyadh_now(),
        ))
        .unwrap();
        let answer = crate::callback::read(&body).unwrap();
        assert_eq!(answer.data["found"], true, "{}", licence.number);
        assert_eq!(answer.data["holderMatches"], true, "{}", licence.number);
    }
}
