use rabt_catalogue::Catalogue;
use rabt_sandbox::conformance::wire_fixture;
use serde_json::{Value, json};

use super::*;
use crate::LICENSE_VERIFY;

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn active() -> Value {
    fixture("callback-4000012345-active.json")
}

/// Reads a callback and checks its data against the service's output schema.
fn answer(body: &Value) -> CallbackAnswer {
    let answer = read(body).unwrap();
    let catalogue = Catalogue::bundled().unwrap();
    let service = catalogue.service(LICENSE_VERIFY).unwrap();
    if let Err(violations) = service.validate_output(&answer.data) {
        panic!("{} breaks the output schema: {violations:?}", answer.data);
    }
    answer
}

fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    *body.pointer_mut(pointer).unwrap() = value;
    body
}

fn without(mut body: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    body.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap();
    body
}

#[test]
fn the_golden_active_licence_is_ok_with_everything_balady_said() {
    let answer = answer(&active());
    assert_eq!(answer.upstream_ref, "BLD-7F3A9C2104");
    assert_eq!(answer.outcome, Outcome::Ok);
    let names = |ar: &str, en: &str| json!({"ar": ar, "en": en});
    assert_eq!(
        answer.data,
        json!({
            "found": true,
            "licenseNumber": "4000012345",
            "licenseType": "COMMERCIAL",
            "status": "ACTIVE",
            "holderMatches": true,
            "holderName": names("جمعية الربط التعاونية متعددة الأغراض", "Rabt Multi-Purpose Cooperative Society"),
            "activities": [
                {"code": "472110", "name": names("البيع بالتجزئة للمواد الغذائية", "Retail sale of food")},
                {"code": "812110", "name": names("التنظيف العام للمباني", "General cleaning of buildings")}
            ],
            "issuedAt": {"gregorian": "2019-02-06", "hijri": "1440-06-01"},
            "expiresAt": {"gregorian": "2038-07-04", "hijri": "1460-06-01"},
            "municipality": names("أمانة منطقة الرياض", "Riyadh Municipality"),
            "address": {"shortAddress": "RRRD2929"},
            "inspection": {
                "reference": "INSP-2024-000042",
                "inspectedAt": {"gregorian": "2024-07-07", "hijri": "1446-01-01"},
                "result": "COMPLIANT"
            },
            "linkedPermits": ["5000012345"]
        })
    );
}

#[test]
fn the_golden_expired_licence_is_a_mismatch() {
    let answer = answer(&fixture("callback-4000023456-expired.json"));
    assert_eq!(answer.outcome, Outcome::Mismatch);
    assert_eq!(answer.data["status"], "EXPIRED");
    assert_eq!(answer.data["holderMatches"], true);
    assert_eq!(answer.data["inspection"]["result"], "NOT_INSPECTED");
    assert!(answer.data.get("linkedPermits").is_none());
}

#[test]
fn not_found_is_not_found_and_says_no_more() {
    let answer = answer(&fixture("callback-not-found.json"));
    assert_eq!(answer.upstream_ref, "BLD-7F3A9C2106");
    assert_eq!(answer.outcome, Outcome::NotFound);
    assert_eq!(answer.data, json!({"found": false}));
}

#[test]
fn every_status_but_active_is_a_mismatch() {
    for (status, outcome) in [
        ("ACTIVE", Outcome::Ok),
        ("EXPIRED", Outcome::Mismatch),
        ("SUSPENDED", Outcome::Mismatch),
        ("CANCELLED", Outcome::Mismatch),
    ] {
        let body = with(active(), "/license/status", json!(status));
        let answer = answer(&body);
        assert_eq!(answer.outcome, outcome, "{status}");
        assert_eq!(answer.data["status"], status);
    }
}

#[test]
fn another_holder_is_a_mismatch_saying_so() {
    let body = with(active(), "/request/unifiedNumber", json!("7000000002"));
    let answer = answer(&body);
    assert_eq!(answer.outcome, Outcome::Mismatch);
    assert_eq!(answer.data["holderMatches"], false);
    assert_eq!(answer.data["status"], "ACTIVE");
}

#[test]
fn without_a_unified_number_asked_there_is_no_holder_verdict() {
    let body = without(active(), "/request/unifiedNumber");
    let answer = answer(&body);
    assert_eq!(answer.outcome, Outcome::Ok);
    assert!(answer.data.get("holderMatches").is_none());
    // Nor without the echo at all: the adapter has nothing to compare.
    let answer = read(&without(active(), "/request")).unwrap();
    assert_eq!(answer.outcome, Outcome::Ok);
    assert!(answer.data.get("holderMatches").is_none());
}

#[test]
fn a_licence_of_another_type_than_asked_is_a_mismatch() {
    let body = with(active(), "/request/licenseType", json!("BUILDING_PERMIT"));
    assert_eq!(answer(&body).outcome, Outcome::Mismatch);
}

#[test]
fn optional_fields_left_out_are_left_out() {
    let mut body = active();
    for pointer in [
        "/license/holder/nameEn",
        "/license/municipalityNameAr",
        "/license/shortAddress",
        "/license/linkedPermits",
        "/inspection",
    ] {
        body = without(body, pointer);
    }
    let answer = answer(&body);
    assert_eq!(answer.outcome, Outcome::Ok);
    for key in [
        "holderName",
        "municipality",
        "address",
        "linkedPermits",
        "inspection",
    ] {
        assert!(answer.data.get(key).is_none(), "{key}: {}", answer.data);
    }
}

#[test]
fn an_inspection_day_is_riyadh_s_day() {
    // 22:30 UTC on 7 July is already 8 July (2 Muharram 1446) in Riyadh.
    let body = with(
        active(),
        "/inspection/inspectedAt",
        json!("2024-07-07T22:30:00Z"),
    );
    let answer = answer(&body);
    assert_eq!(
        answer.data["inspection"]["inspectedAt"],
        json!({"gregorian": "2024-07-08", "hijri": "1446-01-02"})
    );
}

#[test]
fn inconsistent_callbacks_are_bad_callbacks_never_retried() {
    let cases = [
        ("FOUND without a licence", without(active(), "/license")),
        (
            "calendars disagree",
            with(active(), "/license/issueDateHijri", json!("1440-06-02")),
        ),
        (
            "expires before issued",
            with(
                active(),
                "/license/expiryDateGregorian",
                json!("2018-01-01"),
            ),
        ),
        (
            "another licence than asked",
            with(active(), "/request/licenseNumber", json!("4000023456")),
        ),
        ("holder not named", without(active(), "/license/holder")),
        (
            "bad reference",
            with(active(), "/reference", json!("BLD 1")),
        ),
        (
            "bad activity code",
            with(active(), "/license/activities/0/activityCode", json!("12")),
        ),
        (
            "bad short address",
            with(active(), "/license/shortAddress", json!("RIYADH")),
        ),
        (
            "bad linked permit",
            with(active(), "/license/linkedPermits/0", json!("P-1")),
        ),
        (
            "bad licence number",
            with(
                with(active(), "/license/licenseNumber", json!("12")),
                "/request/licenseNumber",
                json!("12"),
            ),
        ),
        ("not a callback", json!({"hello": "world"})),
        (
            "unknown event",
            with(active(), "/eventType", json!("LICENSE_RENEWED")),
        ),
    ];
    for (why, body) in cases {
        let err = read(&body).unwrap_err();
        assert!(
            matches!(err, AdapterError::BadCallback(_)),
            "{why}: {err:?}"
        );
        assert!(!err.is_retryable(), "{why}");
    }
}

#[test]
fn the_golden_callbacks_follow_the_callback_schema() {
    let catalogue = Catalogue::bundled().unwrap();
    let schema = catalogue
        .callback_schema(rabt_core::Agency::Municipal)
        .unwrap();
    for name in [
        "callback-4000012345-active.json",
        "callback-4000023456-expired.json",
        "callback-not-found.json",
    ] {
        if let Err(violations) = schema.validate(&fixture(name)) {
            panic!("{name}: {violations:?}");
        }
    }
}
