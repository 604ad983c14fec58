//! The shared conformance kit against the Yakeen simulator, with outputs validated
//! against the catalogue's output schemas of both services.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use rabt_adapter_interior::{IDENTITY_VERIFY, MOBILE_VERIFY};
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, ServiceName};
use rabt_sandbox::conformance::{Credentials, Expect, Kit, output_validator, run};
use rabt_sandbox::world::{cases, golden};
use serde_json::{Value, json};

/// Validates a service's output against the catalogue's output schema.
fn validator(
    catalogue: Arc<Catalogue>,
) -> impl Fn(&ServiceName, &Value) -> Result<(), String> + Send + Sync + 'static {
    output_validator(catalogue, |catalogue, service, output| {
        catalogue
            .service(service.as_str())
            .map(|service| service.validate_output(output))
    })
}

fn kit(first: (&ServiceName, Value), catalogue: Arc<Catalogue>) -> Kit {
    Kit::new(
        Agency::Interior,
        common::router,
        |base, credentials| Arc::new(common::adapter(base, credentials == Credentials::Valid)),
        validator(catalogue),
    )
    .case(first.0.clone(), first.1, Expect::Ok)
}

fn hijri(year: u16, month: u8) -> Value {
    json!({"calendar": "hijri", "year": year, "month": month})
}

#[tokio::test]
async fn interior_passes_the_conformance_kit_for_identities() {
    let catalogue = Arc::new(Catalogue::bundled().unwrap());
    let identity = ServiceName::parse(IDENTITY_VERIFY).unwrap();
    // The validator is live: it refuses what the schema refuses.
    let check = validator(catalogue.clone());
    assert!(check(&identity, &json!({"found": true})).is_err());
    assert!(check(&identity, &json!({"found": false})).is_ok());
    let id = |id: &str, birth: Value| json!({"idNumber": id, "birthDate": birth});
    let report = run(kit(
        (&identity, id(golden::CITIZEN_ID, hijri(1400, 7))),
        catalogue,
    )
    .case(
        identity.clone(),
        id(
            golden::RESIDENT_ID,
            json!({"calendar": "gregorian", "year": 1985, "month": 3}),
        ),
        Expect::Ok,
    )
    .case(
        identity.clone(),
        id(golden::CITIZEN_ID, hijri(1400, 8)),
        Expect::Mismatch,
    )
    .case(
        identity.clone(),
        id(cases::ID_IN_NO_WORLD, hijri(1400, 7)),
        Expect::NotFound,
    )
    .case(
        identity.clone(),
        json!({"idNumber": cases::NAME_NORMALISATION_ID, "birthDate": hijri(1410, 1),
                   "expectedNameAr": cases::NAME_NORMALISATION_VARIANT_AR}),
        Expect::Ok,
    )
    .case(
        identity,
        json!({"idNumber": cases::NAME_NORMALISATION_ID, "birthDate": hijri(1410, 1),
                   "expectedNameAr": cases::NAME_NORMALISATION_OTHER_AR}),
        Expect::Mismatch,
    ))
    .await;
    assert!(report.passed.len() >= 17, "{:#?}", report.passed);
}

#[tokio::test]
async fn interior_passes_the_conformance_kit_for_mobiles() {
    let catalogue = Arc::new(Catalogue::bundled().unwrap());
    let mobile = ServiceName::parse(MOBILE_VERIFY).unwrap();
    let input = |id: &str, mobile: &str| json!({"idNumber": id, "mobile": mobile});
    let report = run(kit(
        (&mobile, input(golden::CITIZEN_ID, "0512345678")),
        catalogue,
    )
    .case(
        mobile.clone(),
        input(golden::RESIDENT_ID, golden::RESIDENT_MOBILE),
        Expect::Ok,
    )
    .case(
        mobile.clone(),
        input(golden::CITIZEN_ID, golden::RESIDENT_MOBILE),
        Expect::Mismatch,
    )
    .case(
        mobile,
        input(cases::ID_IN_NO_WORLD, golden::CITIZEN_MOBILE),
        Expect::NotFound,
    ))
    .await;
    assert!(report.passed.len() >= 15, "{:#?}", report.passed);
}
