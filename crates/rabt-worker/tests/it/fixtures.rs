//! What the scripted agencies answer and what the tests send: the example outputs of
//! `schemas/services/*.output.json`, the golden cooperative of the sandbox world and
//! its board, and municipal callbacks shaped as `schemas/callbacks/municipal.json`.
//! A test at the bottom holds each of them to its schema.

use serde_json::{Value, json};

/// The service of the single-service tests.
pub(crate) const SERVICE: &str = "post.address.verify";

/// The composite these tests run.
pub(crate) const ESTABLISHMENT: &str = "cooperative.establishment.check";

/// The golden cooperative's unified number.
pub(crate) const UNIFIED_NUMBER: &str = "7000000001";

/// Where the registry says the cooperative has its headquarters: not the golden address
/// Saudi Post answers with, so a test can tell which one a check received.
pub(crate) const HQ_SHORT_ADDRESS: &str = "RHMA3344";

/// The municipal licence the registry names.
pub(crate) const LICENSE_NUMBER: &str = "4000012345";

/// The first example output of a service's output schema: a valid `OK` answer.
pub(crate) fn example_output(service: &str) -> Value {
    let path = format!("services/{service}.output.json");
    let (_, text) = rabt_catalogue::bundled_files()
        .iter()
        .find(|(p, _)| *p == path)
        .unwrap_or_else(|| panic!("no bundled {path}"));
    let schema: Value = serde_json::from_str(text).unwrap();
    schema["examples"][0].clone()
}

/// The golden address as `post.address.verify`'s output schema gives it in its first
/// example: the answer the scripted Saudi Post adapter returns for it.
pub(crate) fn found_address() -> Value {
    example_output(SERVICE)
}

/// A valid `OK` answer of `service`.
pub(crate) fn ok_output(service: &str) -> Value {
    match service {
        "labor.cooperative.registration" => registry_record(),
        other => example_output(other),
    }
}

/// `found` must be a boolean and nothing outside the schema's properties may appear
/// (true of every agency service's output schema).
pub(crate) fn schema_breaking_answer() -> Value {
    json!({"found": "yes", "owner": "someone"})
}

/// The input of the tests' `post.address.verify` requests.
pub(crate) fn address_input() -> Value {
    json!({"shortAddress": "RRRD2929"})
}

/// The golden board: a citizen (Hijri birth month) and a resident (Gregorian).
pub(crate) fn board() -> Vec<Value> {
    vec![
        json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}),
        json!({"idNumber": "2000000006", "birthDate": {"calendar": "gregorian", "year": 1985, "month": 3}}),
    ]
}

/// A cooperative's request for the establishment check of the golden cooperative.
pub(crate) fn establishment_input() -> Value {
    json!({"unifiedNumber": UNIFIED_NUMBER, "board": board()})
}

/// The registry's record of the golden cooperative: what the dependants read.
pub(crate) fn registry_record() -> Value {
    let mut record = example_output("labor.cooperative.registration");
    record["unifiedNumber"] = json!(UNIFIED_NUMBER);
    record["headquarters"]["shortAddress"] = json!(HQ_SHORT_ADDRESS);
    record["municipalLicenseNumber"] = json!(LICENSE_NUMBER);
    record
}

/// The registry's record without the licence number: a registry may leave it out.
pub(crate) fn registry_record_without_licence() -> Value {
    let mut record = registry_record();
    record
        .as_object_mut()
        .unwrap()
        .remove("municipalLicenseNumber");
    record
}

/// The input `municipal.license.verify` gets from the registry's record, as the
/// catalogue declares it.
pub(crate) fn licence_input() -> Value {
    json!({"licenseNumber": LICENSE_NUMBER, "licenseType": "COMMERCIAL", "unifiedNumber": UNIFIED_NUMBER})
}

/// The municipality's callback for `reference`: the licence found with `status`
/// (`ACTIVE`, `EXPIRED`…), or `None` for a licence it does not have.
pub(crate) fn municipal_callback(reference: &str, status: Option<&str>) -> Value {
    let mut body = json!({
        "eventId": format!("evt_{reference}"),
        "eventType": "LICENSE_VERIFICATION_COMPLETED",
        "reference": reference,
        "occurredAt": "2024-07-07T09:30:00Z",
        "result": "NOT_FOUND",
        "request": licence_input(),
    });
    if let Some(status) = status {
        body["result"] = json!("FOUND");
        body["license"] = json!({
            "licenseNumber": LICENSE_NUMBER,
            "licenseType": "COMMERCIAL",
            "status": status,
            "holder": { "unifiedNumber": UNIFIED_NUMBER },
            "activities": [{
                "activityCode": "472110",
                "activityNameAr": "البيع بالتجزئة للمواد الغذائية",
                "activityNameEn": "Retail sale of food"
            }],
            "issueDateGregorian": "2024-03-11",
            "issueDateHijri": "1445-09-01",
            "expiryDateGregorian": "2025-03-01",
            "expiryDateHijri": "1446-09-01"
        });
    }
    body
}

#[cfg(test)]
mod tests {
    use rabt_catalogue::Catalogue;
    use rabt_core::Agency;

    use super::*;
    use crate::agency::read_municipal_callback;

    #[test]
    fn every_fixture_is_what_its_schema_says() {
        let catalogue = Catalogue::bundled().unwrap();
        let output = |service: &str| catalogue.service(service).unwrap();
        for service in catalogue.services().filter(|s| s.agency().is_some()) {
            let name = service.name.as_str();
            service.validate_output(&ok_output(name)).unwrap();
            // What `Reply::NotFound` answers, for the services whose output says `found`.
            if !["health.certificates.verify", "interior.mobile.verify"].contains(&name) {
                service.validate_output(&json!({"found": false})).unwrap();
            }
            assert!(service.validate_output(&schema_breaking_answer()).is_err());
        }
        output("labor.cooperative.registration")
            .validate_output(&registry_record_without_licence())
            .unwrap();
        output("post.address.verify")
            .validate_input(&address_input())
            .unwrap();
        output("municipal.license.verify")
            .validate_input(&licence_input())
            .unwrap();
        output(ESTABLISHMENT)
            .validate_input(&establishment_input())
            .unwrap();
    }

    #[test]
    fn municipal_callbacks_pass_the_apis_checks_and_read_as_outputs() {
        let catalogue = Catalogue::bundled().unwrap();
        let schema = catalogue.callback_schema(Agency::Municipal).unwrap();
        let service = catalogue.service("municipal.license.verify").unwrap();
        for status in [Some("ACTIVE"), Some("EXPIRED"), None] {
            let body = municipal_callback("BLD-0001", status);
            schema.validate(&body).unwrap();
            let answers = read_municipal_callback(&body).unwrap();
            assert_eq!(answers.len(), 1);
            assert_eq!(answers[0].upstream_ref, "BLD-0001");
            service.validate_output(&answers[0].data).unwrap();
        }
    }
}
