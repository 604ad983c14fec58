use chrono::NaiveDate;
use rabt_catalogue::Catalogue;
use rabt_sandbox::conformance::wire_fixture;
use serde_json::{Value, json};

use super::*;
use crate::ChambersError;
use crate::output::{Chamber, MembershipClass, MembershipOutput, MembershipRecord, Name};

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

/// A service output the end-to-end golden tests expect too.
fn expected_output(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/output/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn record(name: &str) -> FscCocRecord {
    serde_json::from_value::<FscCocRecordResponse>(fixture(name))
        .unwrap()
        .result
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// The output as the worker checks it: valid against the catalogue's output schema.
fn validated(output: &MembershipOutput) -> Value {
    let value = serde_json::to_value(output).unwrap();
    let catalogue = Catalogue::bundled().unwrap();
    let service = catalogue.service(crate::MEMBERSHIP_VERIFY).unwrap();
    service.validate_output(&value).unwrap();
    value
}

#[test]
fn golden_files_round_trip_byte_for_byte_as_values() {
    for name in [
        "coc-record-7000000001.json",
        "coc-record-expired-7000000006.json",
        "coc-record-published-shape.json",
    ] {
        let parsed: FscCocRecordResponse = serde_json::from_value(fixture(name)).unwrap();
        let again: FscCocRecordResponse =
            serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again, "{name}");
    }
    let sandbox: FscCocRecordResponse =
        serde_json::from_value(fixture("coc-record-7000000001.json")).unwrap();
    // Nothing of the sandbox's record is lost or added on the way.
    assert_eq!(
        serde_json::to_value(&sandbox).unwrap(),
        fixture("coc-record-7000000001.json")
    );
}

#[test]
fn the_golden_membership_translates_into_a_valid_output() {
    let record = MembershipRecord::try_from(record("coc-record-7000000001.json")).unwrap();
    assert!(record.valid_on(day("2035-12-31")));
    let output = validated(&MembershipOutput::found(record, day("2030-01-01")));
    assert_eq!(output, expected_output("membership-7000000001.json"));
}

#[test]
fn an_expired_membership_is_not_valid() {
    let record = MembershipRecord::try_from(record("coc-record-expired-7000000006.json")).unwrap();
    assert_eq!(record.expires_at.gregorian, day("2022-08-28"));
    // Valid through its expiry day, not a day longer.
    assert!(record.valid_on(day("2022-08-28")));
    assert!(!record.valid_on(day("2022-08-29")));
    let output = validated(&MembershipOutput::found(record, day("2025-01-01")));
    assert_eq!(output["valid"], false);
    assert_eq!(output["membershipClass"], "FOURTH");
}

#[test]
fn the_published_shape_translates_without_the_sandbox_fields() {
    let record = MembershipRecord::try_from(record("coc-record-published-shape.json")).unwrap();
    assert_eq!(record.unified_number, None);
    assert_eq!(
        record.chamber,
        Chamber {
            code: 301,
            name: None
        }
    );
    assert_eq!(record.membership_number, "0004521");
    assert_eq!(record.class, MembershipClass::Third);
    assert_eq!(
        record.establishment_name,
        Some(Name {
            ar: "جمعية الساحل التعاونية لصيادي الأسماك".into(),
            en: None
        })
    );
    assert_eq!(record.cr_number.as_deref(), Some("4030011223"));
    // No Gregorian expiry: the Hijri one, converted.
    assert_eq!(record.expires_at.hijri.to_string(), "1460-02-01");
    let subscribed = record.subscribed_at.unwrap();
    assert_eq!(subscribed.gregorian, day("2021-09-08"));
    assert_eq!(subscribed.hijri.to_string(), "1443-02-01");
    let output = validated(&MembershipOutput::found(record, day("2030-01-01")));
    assert_eq!(
        output["establishmentName"],
        json!({"ar": "جمعية الساحل التعاونية لصيادي الأسماك"})
    );
    assert_eq!(output["chamber"], json!({"code": "301"}));
}

#[test]
fn values_that_break_fsc_format_are_refused() {
    let golden = fixture("coc-record-7000000001.json");
    let details = "/GetCoCRecordByMemberShipIDResult/CoCMembershipDetails";
    let cases: [(&str, Value, &str); 9] = [
        ("/CoCMembershipID", json!("12a"), "CoCMembershipID"),
        ("/CoCMembershipID", json!(""), "CoCMembershipID"),
        (
            "/CoCMembershipID",
            json!("1234567890123"),
            "CoCMembershipID",
        ),
        (
            "/CoCMembershipChamberCity",
            json!(0),
            "CoCMembershipChamberCity",
        ),
        (
            "/CoCMembershipChamberCity",
            json!(1000),
            "CoCMembershipChamberCity",
        ),
        (
            "/CoCMemberMembershipClass",
            json!(7),
            "CoCMemberMembershipClass",
        ),
        (
            "/CoCMemberSubscriptionExpiryDate",
            json!({"GregorianDate": "2040-13-01"}),
            "CoCMemberSubscriptionExpiryDate",
        ),
        (
            "/CoCMemberSubscriptionExpiryDate",
            json!({"GregorianDate": "", "HijriDate": ""}),
            "CoCMemberSubscriptionExpiryDate",
        ),
        (
            "/CoCMemberSubscriptionToChamberDate",
            json!({"HijriDate": "1445-13-01"}),
            "CoCMemberSubscriptionToChamberDate",
        ),
    ];
    for (pointer, value, expected) in cases {
        let mut broken = golden.clone();
        *broken.pointer_mut(&format!("{details}{pointer}")).unwrap() = value.clone();
        let parsed: FscCocRecordResponse = serde_json::from_value(broken).unwrap();
        match MembershipRecord::try_from(parsed.result) {
            Err(ChambersError::Field { field, .. }) => assert_eq!(field, expected, "{value}"),
            other => panic!("{pointer} = {value}: expected a refusal, got {other:?}"),
        }
    }
    let mut broken = golden.clone();
    broken["GetCoCRecordByMemberShipIDResult"]["CoCMemberEst"]["CoCMemberEstUnifiedNumber"] =
        json!("8000000001");
    let parsed: FscCocRecordResponse = serde_json::from_value(broken).unwrap();
    assert!(matches!(
        MembershipRecord::try_from(parsed.result),
        Err(ChambersError::Field {
            field: "CoCMemberEstUnifiedNumber",
            ..
        })
    ));
}

#[test]
fn a_sijil_number_that_is_not_a_cr_is_left_out() {
    let mut golden = fixture("coc-record-7000000001.json");
    golden["GetCoCRecordByMemberShipIDResult"]["CoCMemberSijil"]["CoCMemberSijilNumber"] =
        json!("COOP-12");
    let parsed: FscCocRecordResponse = serde_json::from_value(golden).unwrap();
    let record = MembershipRecord::try_from(parsed.result).unwrap();
    assert_eq!(record.cr_number, None);
}

#[test]
fn class_codes_round_trip() {
    for class in [
        MembershipClass::Excellent,
        MembershipClass::First,
        MembershipClass::Second,
        MembershipClass::Third,
        MembershipClass::Fourth,
    ] {
        assert_eq!(class_from_code(class_code(class)), Some(class));
    }
    assert_eq!(class_from_code(-1), None);
    assert_eq!(class_from_code(5), None);
}

#[test]
fn error_bodies_parse_in_both_shapes() {
    let no_record: FscExceptionDetail = serde_json::from_value(fixture("no-record.json")).unwrap();
    assert_eq!(no_record.code, NO_RECORD_CODE);
    assert_eq!(no_record.insert, ["1", "999999"]);
    for name in ["error-401.json", "error-404-path.json"] {
        let apigee: FscServiceErrorResponse = serde_json::from_value(fixture(name)).unwrap();
        assert_eq!(apigee.service_error.source_agency, "Apigee", "{name}");
        // Apigee's envelope is never mistaken for the backend's "no record".
        assert!(serde_json::from_value::<FscExceptionDetail>(fixture(name)).is_err());
    }
}
