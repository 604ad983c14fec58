use serde_json::json;

use crate::{pointers, service};

fn full_address() -> serde_json::Value {
    json!({
        "found": true,
        "shortAddress": "RRRD2929",
        "buildingNumber": "2929",
        "additionalNumber": "7788",
        "postalCode": "12211",
        "street": {"ar": "طريق الملك فهد", "en": "King Fahd Road"},
        "district": {"ar": "العليا", "en": "Al Olaya"},
        "city": {"ar": "الرياض", "en": "Riyadh"},
        "region": {"ar": "منطقة الرياض", "en": "Riyadh Region"},
        "location": {"lat": 24.7136, "lng": 46.6753}
    })
}

#[test]
fn a_full_address_and_not_found_are_valid_outputs() {
    let post = service("post.address.verify");
    post.validate_output(&full_address()).unwrap();
    post.validate_output(&json!({"found": false})).unwrap();
}

#[test]
fn a_malformed_address_output_is_refused_field_by_field() {
    let post = service("post.address.verify");
    let mut bad = full_address();
    bad["postalCode"] = json!("1221");
    bad["city"] = json!({"ar": "الرياض"});
    bad["Latitude"] = json!("24.7");
    let v = post.validate_output(&bad).unwrap_err();
    assert_eq!(
        pointers(&v),
        vec![
            ("/Latitude", "additionalProperties"),
            ("/city/en", "required"),
            ("/postalCode", "format"),
        ]
    );
    assert_eq!(
        pointers(&post.validate_output(&json!({})).unwrap_err()),
        vec![("/found", "required")]
    );
}

#[test]
fn a_found_identity_must_carry_its_names() {
    let identity = service("interior.identity.verify");
    identity
        .validate_output(&json!({"found": true, "birthDateMatches": false}))
        .unwrap();
    let v = identity
        .validate_output(&json!({"found": true, "birthDateMatches": true, "gender": "X"}))
        .unwrap_err();
    assert_eq!(
        pointers(&v),
        vec![
            ("/birthDate", "required"),
            ("/gender", "enum"),
            ("/idType", "required"),
            ("/name", "required"),
            ("/nameParts", "required"),
        ]
    );
}

#[test]
fn dual_dates_need_both_calendars() {
    let licence = service("labor.establishment.compliance");
    let v = licence
        .validate_output(&json!({
            "found": true, "unifiedNumber": "7000000001", "nitaqatBand": "RED", "compliant": false,
            "saudizationRate": 101, "headcount": {"saudi": 1, "nonSaudi": 2, "total": 3},
            "saudizationCertificate": {"number": "1", "status": "VALID", "valid": true,
                "expiresAt": {"gregorian": "2024-02-30", "hijri": "1445-13-01"}}
        }))
        .unwrap_err();
    assert_eq!(
        pointers(&v),
        vec![
            ("/saudizationCertificate/expiresAt/gregorian", "format"),
            ("/saudizationCertificate/expiresAt/hijri", "format"),
            ("/saudizationRate", "maximum"),
        ]
    );
}
