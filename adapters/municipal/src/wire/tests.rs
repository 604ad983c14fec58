use rabt_sandbox::conformance::{self, wire_fixture};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// Parses a fixture into `T` and checks that `T` writes it back unchanged.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    conformance::round_trip(&fixture(name), name)
}

#[test]
fn every_golden_body_parses_and_round_trips() {
    let request: BaladyVerificationRequest = round_trip("verification-request.json");
    assert_eq!(request.license_type, BaladyLicenseType::Commercial);
    let accepted: BaladyAcceptance = round_trip("acceptance.json");
    assert!(is_valid_reference(&accepted.reference));
    let error: BaladyError = round_trip("error-401.json");
    assert_eq!(error.error_code, "UNAUTHORIZED");
    let _: BaladyError = round_trip("error-400-license-number.json");

    let active: BaladyCallback = round_trip("callback-4000012345-active.json");
    let license = active.license.unwrap();
    assert_eq!(license.status, BaladyLicenseStatus::Active);
    assert_eq!(license.issue_date_hijri.to_string(), "1440-06-01");
    assert_eq!(license.linked_permits, ["5000012345"]);
    let expired: BaladyCallback = round_trip("callback-4000023456-expired.json");
    assert_eq!(
        expired.inspection.unwrap().result,
        BaladyInspectionResult::NotInspected
    );
    let missing: BaladyCallback = round_trip("callback-not-found.json");
    assert_eq!(missing.result, BaladyResult::NotFound);
    assert!(missing.license.is_none());
}

#[test]
fn values_outside_balady_format_are_refused() {
    let mut callback = fixture("callback-4000012345-active.json");
    for (pointer, value) in [
        ("/eventType", json!("LICENSE_UPDATED")),
        ("/result", json!("MAYBE")),
        ("/license/status", json!("ACTIVE_PENDING")),
        ("/license/licenseType", json!("SHOP")),
        ("/license/issueDateHijri", json!("1440-13-01")),
        ("/license/expiryDateGregorian", json!("04/07/2038")),
        ("/occurredAt", json!("yesterday")),
        ("/inspection/result", json!("PASSED")),
    ] {
        let original = callback.pointer(pointer).unwrap().clone();
        *callback.pointer_mut(pointer).unwrap() = value;
        assert!(
            serde_json::from_value::<BaladyCallback>(callback.clone()).is_err(),
            "{pointer}"
        );
        *callback.pointer_mut(pointer).unwrap() = original;
    }
    assert!(serde_json::from_value::<BaladyCallback>(callback).is_ok());
}

#[test]
fn references_follow_the_callback_contract() {
    for good in ["BLD-7F3A9C2104", "abcd", "A_b-9", &"x".repeat(64)] {
        assert!(is_valid_reference(good), "{good}");
    }
    for bad in [
        "",
        "abc",
        "BLD 1234",
        "BLD/1234",
        "مرجع1234",
        &"x".repeat(65),
    ] {
        assert!(!is_valid_reference(bad), "{bad}");
    }
}

#[test]
fn licence_types_parse_their_wire_names_only() {
    for kind in [
        BaladyLicenseType::Commercial,
        BaladyLicenseType::BuildingPermit,
    ] {
        assert_eq!(BaladyLicenseType::parse(kind.as_str()), Some(kind));
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            json!(kind.as_str()),
            "serde and as_str agree"
        );
    }
    assert_eq!(BaladyLicenseType::parse("commercial"), None);
}
