use rabt_core::Calendar;
use serde_json::json;

use super::*;
use crate::InteriorError;
use crate::output::{IdentityOutput, IdentityRecord};
use crate::soap;

const CITIZEN: &str = include_str!("../../tests/fixtures/wire/citizen-info-1000000008.xml");
const RESIDENT: &str = include_str!("../../tests/fixtures/wire/alien-info-2000000006.xml");
const NOT_FOUND: &str = include_str!("../../tests/fixtures/wire/fault-not-found.xml");
const MISMATCH: &str = include_str!("../../tests/fixtures/wire/fault-birth-date-mismatch.xml");

fn citizen() -> CitizenInfoResult {
    match soap::read::<YakeenResponse>(CITIZEN).unwrap() {
        YakeenResponse::CitizenInfo(r) => r.result,
        other => panic!("{other:?}"),
    }
}

fn resident() -> AlienInfoByIqamaResult {
    match soap::read::<YakeenResponse>(RESIDENT).unwrap() {
        YakeenResponse::AlienInfo(r) => r.result,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_golden_citizen_maps_to_the_output() {
    let record = IdentityRecord::try_from(&citizen()).unwrap();
    assert_eq!(record.log_id.as_deref(), Some("90210000001"));
    assert_eq!(
        IdentityOutput::found(&record, None).to_json(),
        json!({
            "found": true,
            "birthDateMatches": true,
            "idType": "citizen",
            "name": {"ar": "محمد عبدالله سعد القحطاني", "en": "Mohammed Abdullah Saad Alqahtani"},
            "nameParts": {
                "first": {"ar": "محمد", "en": "Mohammed"},
                "father": {"ar": "عبدالله", "en": "Abdullah"},
                "grandfather": {"ar": "سعد", "en": "Saad"},
                "family": {"ar": "القحطاني", "en": "Alqahtani"}
            },
            "gender": "M",
            "birthDate": {"gregorian": "1980-05-20", "hijri": "1400-07-05"},
            "idExpiry": {"gregorian": "2038-02-15", "hijri": "1460-01-10"},
            "nationality": {"code": "682", "name": {"ar": "سعودي", "en": "Saudi"}},
            "occupationCode": "1120"
        })
    );
}

#[test]
fn the_golden_resident_maps_with_gregorian_dates_of_record() {
    let record = IdentityRecord::try_from(&resident()).unwrap();
    let output = IdentityOutput::found(&record, Some(true)).to_json();
    assert_eq!(output["idType"], "resident");
    assert_eq!(output["expectedNameMatches"], true);
    assert_eq!(output["name"]["en"], "Ahmed Mahmoud Ali Mansour");
    assert_eq!(
        output["birthDate"],
        json!({"gregorian": "1985-03-14", "hijri": "1405-06-22"})
    );
    assert_eq!(output["idExpiry"]["gregorian"], "2037-03-14");
    assert_eq!(output["nationality"]["name"]["en"], "Egyptian");
}

#[test]
fn fixtures_round_trip_through_the_wire_types() {
    for text in [CITIZEN, RESIDENT, NOT_FOUND, MISMATCH] {
        let parsed = soap::read::<YakeenResponse>(text).unwrap();
        assert_eq!(soap::write_response(parsed).unwrap(), text.trim_end());
    }
    for (text, code) in [(NOT_FOUND, "1"), (MISMATCH, "2")] {
        let YakeenResponse::Fault(fault) = soap::read::<YakeenResponse>(text).unwrap() else {
            panic!("not a fault");
        };
        assert_eq!(fault.common_error().unwrap().error_code, code);
    }
}

#[test]
fn values_that_break_yakeen_formats_are_refused() {
    type Breaker = fn(&mut CitizenInfoResult);
    let cases: [(&str, Breaker); 7] = [
        ("gender", |r| r.gender = Some("X".into())),
        ("englishThirdName", |r| r.english_third_name = None),
        ("familyName", |r| r.family_name = Some("  ".into())),
        ("dateOfBirthH", |r| {
            r.date_of_birth_h = Some("1400-07-05".into())
        }),
        ("dateOfBirthG", |r| {
            r.date_of_birth_g = Some("21-05-1980".into())
        }),
        ("idExpiryDate", |r| {
            r.id_expiry_date = Some("31-13-1460".into())
        }),
        ("occupationCode", |r| {
            r.occupation_code = Some("driver".into())
        }),
    ];
    for (name, break_it) in cases {
        let mut broken = citizen();
        break_it(&mut broken);
        match IdentityRecord::try_from(&broken) {
            Err(InteriorError::Field { field, .. }) => assert_eq!(field, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    // Optional fields may be missing.
    let sparse = CitizenInfoResult {
        date_of_birth_g: None,
        id_expiry_date: None,
        nationality_code: None,
        occupation_code: None,
        log_id: None,
        ..citizen()
    };
    let record = IdentityRecord::try_from(&sparse).unwrap();
    assert_eq!((record.id_expiry, record.log_id), (None, None));
}

#[test]
fn dates_are_dd_mm_yyyy_in_either_calendar() {
    let hijri = parse_date(Calendar::Hijri, "d", "05-07-1400").unwrap();
    assert_eq!(hijri.gregorian.to_string(), "1980-05-20");
    assert_eq!(format_date(Calendar::Hijri, &hijri), "05-07-1400");
    assert_eq!(format_date(Calendar::Gregorian, &hijri), "20-05-1980");
    for bad in [
        "5-07-1400",
        "05-07-140",
        "05/07/1400",
        "30-02-1980x",
        "00-07-1400",
        "",
    ] {
        assert!(parse_date(Calendar::Hijri, "d", bad).is_err(), "{bad}");
    }
    assert!(parse_date(Calendar::Gregorian, "d", "30-02-1980").is_err());
}

#[test]
fn debug_output_hides_the_credentials() {
    let credentials = Credentials {
        charge_code: Some("CHARGE-SECRET".into()),
        password: Some("PASSWORD-SECRET".into()),
        reference_number: Some("task_1".into()),
        user_name: Some("rabt".into()),
    };
    let request = CitizenInfoRequest::new("1000000008", "07-1400", credentials.clone());
    for shown in [format!("{request:?}"), format!("{credentials:?}")] {
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("task_1"), "{shown}");
    }
}
