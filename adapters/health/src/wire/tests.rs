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

fn golden_callback() -> MohBatchCallback {
    round_trip("callback-4000067890.json")
}

fn result(callback: MohBatchCallback) -> Result<BatchResult, HealthError> {
    BatchResult::try_from(callback)
}

#[test]
fn every_fixture_parses_and_round_trips() {
    let request: MohBatchRequest = round_trip("batch-request-4000067890.json");
    assert_eq!(request.workers.len(), 5);
    let accepted: MohBatchAccepted = round_trip("batch-accepted.json");
    assert_eq!(accepted.status, MohBatchStatus::Accepted);
    for name in [
        "error-401.json",
        "error-404-establishment.json",
        "error-400-batch-too-large.json",
    ] {
        let error: MohError = round_trip(name);
        assert!(!error.message_ar.is_empty() && !error.message_en.is_empty());
    }
    let callback = golden_callback();
    assert_eq!(callback.reference, accepted.reference);
    assert_eq!(callback.batch_id, accepted.batch_id);
}

#[test]
fn the_golden_callback_is_a_mismatch_with_every_workers_detail() {
    let result = result(golden_callback()).unwrap();
    assert_eq!(result.reference, "MOH-BATCH-5F3A9C21D4E8B605");
    assert_eq!(result.outcome, Outcome::Mismatch);
    assert_eq!(
        serde_json::to_value(&result.output).unwrap(),
        fixture("output-4000067890.json")
    );
}

#[test]
fn only_valid_fit_certificates_make_an_ok() {
    let mut callback = golden_callback();
    callback.workers.truncate(2);
    let result = result(callback).unwrap();
    assert_eq!(result.outcome, Outcome::Ok);
    assert!(result.output.all_valid);
    for unfit_or_expired_or_missing in 2..5 {
        let mut callback = golden_callback();
        let worker = callback.workers[unfit_or_expired_or_missing].clone();
        callback.workers = vec![callback.workers[0].clone(), worker];
        let result = BatchResult::try_from(callback).unwrap();
        assert_eq!(result.outcome, Outcome::Mismatch);
        assert!(!result.output.all_valid);
        assert!(!result.output.certificates[1].valid);
    }
}

#[test]
fn a_valid_status_past_its_expiry_on_the_day_of_completion_is_not_valid() {
    let mut callback = golden_callback();
    callback.workers.truncate(1);
    // Completed in Riyadh on 2 February 2037, the day after the certificate expired
    // (21:30 UTC on the 1st is already the 2nd in Riyadh).
    callback.completed_at = "2037-02-01T21:30:00Z".parse().unwrap();
    let result = result(callback.clone()).unwrap();
    assert_eq!(result.outcome, Outcome::Mismatch);
    assert!(!result.output.certificates[0].valid);
    // On its last day it is still valid.
    callback.completed_at = "2037-02-01T20:00:00Z".parse().unwrap();
    assert_eq!(self::result(callback).unwrap().outcome, Outcome::Ok);
}

#[test]
fn the_issue_date_may_come_in_one_calendar_or_none() {
    let mut callback = golden_callback();
    callback.workers.truncate(1);
    let certificate = callback.workers[0].certificate.as_mut().unwrap();
    certificate.issue_date_hijri = None;
    let issued = result(callback.clone()).unwrap().output.certificates[0].issued_at;
    assert_eq!(issued.unwrap().hijri.to_string(), "1445-07-20");
    let certificate = callback.workers[0].certificate.as_mut().unwrap();
    certificate.issue_date_gregorian = None;
    let answer = result(callback).unwrap();
    assert_eq!(answer.output.certificates[0].issued_at, None);
    assert_eq!(answer.outcome, Outcome::Ok);
}

/// Breaks one thing in a callback.
type Breakage = fn(&mut MohBatchCallback);

#[test]
fn what_breaks_the_ministrys_format_is_refused() {
    let breakages: [(&str, Breakage); 7] = [
        ("reference", |c| c.reference = "MOH BATCH".into()),
        ("licence", |c| c.establishment_license_number = "12".into()),
        ("no workers", |c| c.workers.clear()),
        ("id", |c| c.workers[0].id_number = "1000000009".into()),
        ("found without a certificate", |c| {
            c.workers[0].certificate = None
        }),
        ("dates disagree", |c| {
            let certificate = c.workers[0].certificate.as_mut().unwrap();
            certificate.expiry_date_hijri = "1458-12-16".parse().unwrap();
        }),
        ("empty profession", |c| {
            c.workers[0]
                .certificate
                .as_mut()
                .unwrap()
                .profession_name_ar = " ".into();
        }),
    ];
    for (what, breaks) in breakages {
        let mut callback = golden_callback();
        breaks(&mut callback);
        let err = result(callback).unwrap_err();
        assert!(!err.to_string().contains("1000000009"), "{what}: {err}");
    }
}

#[test]
fn unknown_fields_are_ignored_and_unknown_events_refused() {
    let mut json = fixture("callback-4000067890.json");
    json["channel"] = json!("BALADY");
    json["workers"][0]["certificate"]["qrCode"] = json!("https://example/qr");
    assert!(serde_json::from_value::<MohBatchCallback>(json.clone()).is_ok());
    json["eventType"] = json!("HEALTH_CERTIFICATES_BATCH_FAILED");
    assert!(serde_json::from_value::<MohBatchCallback>(json).is_err());
}

#[test]
fn licence_numbers_are_eight_to_twenty_digits() {
    assert!(is_licence_number("40000678"));
    assert!(is_licence_number("40000678901234567890"));
    assert!(!is_licence_number("4000067"));
    assert!(!is_licence_number("400006789012345678901"));
    assert!(!is_licence_number("40000678a"));
    assert!(!is_licence_number("٤٠٠٠٠٦٧٨٩٠"));
}
