use serde_json::json;

use crate::{assert_valid_input, normalized, pointers, violations};

const ADDRESS_FORMS_EN: &str = "provide either `shortAddress`, or `buildingNumber` + `postalCode` + `additionalNumber` (exactly one form)";

#[test]
fn golden_inputs_are_valid() {
    assert_valid_input("post.address.verify", &json!({"shortAddress": "RRRD2929"}));
    assert_valid_input("post.address.verify", &json!({"shortAddress": "ZZZZ9999"}));
    assert_valid_input(
        "post.address.verify",
        &json!({"buildingNumber": "2929", "postalCode": "12211", "additionalNumber": "7788"}),
    );
    assert_valid_input(
        "interior.identity.verify",
        &json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}),
    );
    assert_valid_input(
        "interior.identity.verify",
        &json!({"idNumber": "2000000006", "birthDate": {"calendar": "gregorian", "year": 1985, "month": 3},
                "expectedNameAr": "محمد عبدالله"}),
    );
    assert_valid_input(
        "cooperative.establishment.check",
        &json!({"unifiedNumber": "7000000001", "board": [
            {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
            {"idNumber": "2000000006", "birthDate": {"calendar": "gregorian", "year": 1985, "month": 3}}
        ]}),
    );
    for unified in ["7000000001", "7000000002", "7000000003"] {
        assert_valid_input(
            "labor.establishment.compliance",
            &json!({"unifiedNumber": unified}),
        );
        assert_valid_input(
            "labor.cooperative.registration",
            &json!({"unifiedNumber": unified}),
        );
        assert_valid_input(
            "chambers.membership.verify",
            &json!({"unifiedNumber": unified}),
        );
    }
    assert_valid_input(
        "chambers.membership.verify",
        &json!({"chamberCode": 1, "membershipNumber": "123456"}),
    );
    assert_valid_input(
        "interior.mobile.verify",
        &json!({"idNumber": "1000000008", "mobile": "966512345678"}),
    );
    assert_valid_input(
        "municipal.license.verify",
        &json!({"licenseNumber": "4000012345", "licenseType": "COMMERCIAL", "unifiedNumber": "7000000001"}),
    );
    assert_valid_input(
        "health.certificates.verify",
        &json!({"establishmentLicenseNumber": "4000012345", "idNumbers": ["1000000008", "2000000006"]}),
    );
}

#[test]
fn a_failed_check_digit_is_one_violation_at_the_id() {
    let v = violations(
        "interior.identity.verify",
        &json!({"idNumber": "1000000009", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}),
    );
    assert_eq!(pointers(&v), vec![("/idNumber", "format")]);
    assert_eq!(
        v[0].message.en,
        "`idNumber` fails the national ID check digit (Luhn): a digit is mistyped"
    );
    assert!(
        v[0].message.ar.contains("خانة التحقق"),
        "{}",
        v[0].message.ar
    );
    assert!(
        !v[0].message.en.contains("1000000009"),
        "personal data echoed"
    );
}

#[test]
fn a_wrongly_shaped_id_says_which_shape() {
    let v = violations(
        "interior.mobile.verify",
        &json!({"idNumber": "3000000001", "mobile": "0412345678"}),
    );
    assert_eq!(
        pointers(&v),
        vec![("/idNumber", "format"), ("/mobile", "format")]
    );
    assert!(
        v[0].message
            .en
            .contains("national ID or iqama number: 10 digits, the first 1 (citizen) or 2"),
        "{}",
        v[0].message.en
    );
    assert!(
        v[1].message.en.contains("Saudi mobile number: 05XXXXXXXX"),
        "{}",
        v[1].message.en
    );
    for violation in &v {
        assert!(
            !violation.message.ar.contains('^'),
            "{}",
            violation.message.ar
        );
    }
}

#[test]
fn what_a_saudi_developer_sends_is_written_one_way_and_accepted() {
    let mobile = |spelling: &str| {
        normalized(
            "interior.mobile.verify",
            &json!({"idNumber": "1000000008", "mobile": spelling}),
        )
    };
    for spelling in [
        "+966512345678",
        "00966 51 234 5678",
        "0512345678",
        "٠٥١٢٣٤٥٦٧٨",
    ] {
        let input = mobile(spelling);
        assert_eq!(input["mobile"], "966512345678", "{spelling}");
        assert_valid_input("interior.mobile.verify", &input);
    }
    let identity = normalized(
        "interior.identity.verify",
        &json!({"idNumber": "١٠٠٠٠٠٠٠٠٨", "birthDate": {"calendar": "hijri", "year": 1400.0, "month": 7.0}}),
    );
    assert_eq!(
        identity,
        json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}})
    );
    assert!(
        identity["birthDate"]["year"].is_i64(),
        "a whole float is the integer"
    );
    assert_valid_input("interior.identity.verify", &identity);
    let persian = normalized(
        "labor.establishment.compliance",
        &json!({"unifiedNumber": "۷۰۰۰۰۰۰۰۰۱"}),
    );
    assert_eq!(persian["unifiedNumber"], "7000000001");
    let address = normalized("post.address.verify", &json!({"shortAddress": "rrrd2929"}));
    assert_eq!(address["shortAddress"], "RRRD2929");
    let chamber = normalized(
        "chambers.membership.verify",
        &json!({"chamberCode": 1, "membershipNumber": "١٢٣"}),
    );
    assert_eq!(
        chamber,
        json!({"chamberCode": "1", "membershipNumber": "123"})
    );
}

#[test]
fn only_what_is_unambiguous_is_rewritten() {
    let foreign = normalized(
        "interior.mobile.verify",
        &json!({"idNumber": "1000000008", "mobile": "+971512345678"}),
    );
    assert_eq!(foreign["mobile"], "+971512345678");
    let v = violations("interior.mobile.verify", &foreign);
    assert_eq!(pointers(&v), vec![("/mobile", "format")]);
    let half = normalized(
        "interior.identity.verify",
        &json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400.5, "month": 7}}),
    );
    assert_eq!(half["birthDate"]["year"], json!(1400.5));
    let name = normalized(
        "interior.identity.verify",
        &json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}, "expectedNameAr": "محمد ٢"}),
    );
    assert_eq!(
        name["expectedNameAr"], "محمد ٢",
        "free text keeps its digits"
    );
}

#[test]
fn missing_fields_are_reported_where_they_belong() {
    let v = violations(
        "interior.identity.verify",
        &json!({"birthDate": {"calendar": "hijri", "year": 1400}}),
    );
    assert_eq!(
        pointers(&v),
        vec![("/birthDate/month", "required"), ("/idNumber", "required")]
    );
    assert_eq!(v[1].message.en, "missing required field `idNumber`");
    assert_eq!(v[1].message.ar, "الحقل المطلوب `idNumber` مفقود");
}

#[test]
fn unexpected_fields_are_reported_each_at_its_own_pointer() {
    let v = violations(
        "labor.establishment.compliance",
        &json!({"unifiedNumber": "7000000001", "crNumber": "1010307349", "a/b~c": 1}),
    );
    assert_eq!(
        pointers(&v),
        vec![
            ("/a~1b~0c", "additionalProperties"),
            ("/crNumber", "additionalProperties")
        ]
    );
    assert_eq!(v[1].message.en, "unexpected field `crNumber`");
}

#[test]
fn wrong_types_are_one_violation_per_field() {
    let v = violations(
        "interior.identity.verify",
        &json!({"idNumber": 1000000008_u64, "birthDate": {"calendar": 1, "year": "1400", "month": 7}}),
    );
    assert_eq!(
        pointers(&v),
        vec![
            ("/birthDate/calendar", "type"),
            ("/birthDate/year", "type"),
            ("/idNumber", "type"),
        ]
    );
    assert_eq!(v[2].message.en, "`idNumber` must be a string");
    assert_eq!(v[1].message.en, "`year` must be an integer");
    let v = violations("post.address.verify", &json!([]));
    assert_eq!(pointers(&v), vec![("", "type")]);
    assert_eq!(v[0].message.en, "the document must be an object");
}

#[test]
fn both_address_forms_are_one_clear_violation() {
    let v = violations(
        "post.address.verify",
        &json!({"shortAddress": "RRRD2929", "buildingNumber": "2929", "postalCode": "12211", "additionalNumber": "7788"}),
    );
    assert_eq!(pointers(&v), vec![("", "oneOf")]);
    assert_eq!(v[0].message.en, ADDRESS_FORMS_EN);
    assert!(v[0].message.ar.starts_with("أرسل إما"));
}

#[test]
fn neither_or_half_an_address_form_is_one_clear_violation() {
    for input in [
        json!({}),
        json!({"buildingNumber": "2929", "postalCode": "12211"}),
        json!({"shortAddress": "RRRD2929", "postalCode": "12211"}),
    ] {
        let v = violations("post.address.verify", &input);
        assert_eq!(pointers(&v), vec![("", "oneOf")], "{input}");
        assert_eq!(v[0].message.en, ADDRESS_FORMS_EN);
    }
}

#[test]
fn a_bad_value_in_a_good_form_points_at_the_value() {
    let v = violations("post.address.verify", &json!({"shortAddress": "RRR29290"}));
    assert_eq!(pointers(&v), vec![("/shortAddress", "format")]);
    let v = violations(
        "post.address.verify",
        &json!({"buildingNumber": "292", "postalCode": "12211", "additionalNumber": "7788"}),
    );
    assert_eq!(pointers(&v), vec![("/buildingNumber", "format")]);
}

#[test]
fn chamber_forms_are_exactly_one() {
    assert_eq!(
        pointers(&violations(
            "chambers.membership.verify",
            &json!({"unifiedNumber": "7000000001", "chamberCode": 1, "membershipNumber": "1"})
        )),
        vec![("", "oneOf")]
    );
    let v = violations("chambers.membership.verify", &json!({"chamberCode": 1}));
    assert_eq!(pointers(&v), vec![("", "oneOf")]);
    assert!(
        v[0].message
            .en
            .contains("`chamberCode` + `membershipNumber`")
    );
}

#[test]
fn birth_months_follow_the_id_kind_and_calendar_ranges() {
    let v = violations(
        "interior.identity.verify",
        &json!({"idNumber": "1000000008", "birthDate": {"calendar": "gregorian", "year": 1980, "month": 5}}),
    );
    assert_eq!(pointers(&v), vec![("/birthDate/calendar", "const")]);
    assert!(
        v[0].message.en.contains("Hijri calendar"),
        "{}",
        v[0].message.en
    );
    let v = violations(
        "interior.identity.verify",
        &json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1985, "month": 13}}),
    );
    assert_eq!(
        pointers(&v),
        vec![
            ("/birthDate/month", "maximum"),
            ("/birthDate/year", "maximum")
        ]
    );
    assert_eq!(v[0].message.en, "`month` must be at most 12");
    assert_eq!(
        v[1].message.en,
        "a Hijri birth year must be between 1300 and 1500"
    );
}

#[test]
fn board_members_are_checked_element_by_element() {
    let v = violations(
        "cooperative.establishment.check",
        &json!({"unifiedNumber": "8000000001", "board": [
            {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
            {"idNumber": "1000000009", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
            {"idNumber": "2000000006"}
        ]}),
    );
    assert_eq!(
        pointers(&v),
        vec![
            ("/board/1/idNumber", "format"),
            ("/board/2/birthDate", "required"),
            ("/unifiedNumber", "format"),
        ]
    );
    let v = violations(
        "cooperative.establishment.check",
        &json!({"unifiedNumber": "7000000001", "board": []}),
    );
    assert_eq!(pointers(&v), vec![("/board", "minItems")]);
    assert_eq!(v[0].message.en, "`board` must have at least 1 item");
}

#[test]
fn repeated_workers_are_refused() {
    let v = violations(
        "health.certificates.verify",
        &json!({"establishmentLicenseNumber": "4000012345", "idNumbers": ["1000000008", "1000000008", "123"]}),
    );
    assert_eq!(
        pointers(&v),
        vec![("/idNumbers", "uniqueItems"), ("/idNumbers/2", "format")]
    );
    assert!(
        v[1].message.en.starts_with("`idNumbers[2]`"),
        "{}",
        v[1].message.en
    );
}

#[test]
fn every_message_is_bilingual() {
    let v = violations(
        "municipal.license.verify",
        &json!({"licenseNumber": "12", "licenseType": "KIOSK", "unifiedNumber": null, "x": true}),
    );
    assert_eq!(
        pointers(&v),
        vec![
            ("/licenseNumber", "pattern"),
            ("/licenseType", "enum"),
            ("/unifiedNumber", "type"),
            ("/x", "additionalProperties"),
        ]
    );
    assert_eq!(
        v[1].message.en,
        "`licenseType` must be one of `COMMERCIAL`, `BUILDING_PERMIT`"
    );
    for violation in &v {
        assert!(!violation.message.en.is_empty());
        assert!(
            violation
                .message
                .ar
                .chars()
                .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
            "{:?}",
            violation.message
        );
    }
}
