//! The shared conformance kit against the MHRSD simulator, with outputs validated
//! against the catalogue's output schemas of both labour services.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use rabt_adapter::http::Secret;
use rabt_adapter_labor::{
    COOPERATIVE_REGISTRATION, ESTABLISHMENT_COMPLIANCE, LaborAdapter, LaborConfig, simulator,
};
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, ServiceName};
use rabt_sandbox::conformance::{Credentials, Expect, Kit, output_validator, run};
use rabt_sandbox::world::{World, cases, golden};
use serde_json::{Value, json};

const CLIENT_ID: &str = "conformance-client";
const SECRET: &str = "conformance-secret";

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

fn unified(number: &str) -> Value {
    json!({"unifiedNumber": number})
}

#[tokio::test]
async fn labor_passes_the_conformance_kit() {
    let world = Arc::new(World::standard());
    let catalogue = Arc::new(Catalogue::bundled().unwrap());
    let compliance = ServiceName::parse(ESTABLISHMENT_COMPLIANCE).unwrap();
    let registration = ServiceName::parse(COOPERATIVE_REGISTRATION).unwrap();
    // The validator is live: it refuses what the schemas refuse.
    let check = validator(catalogue.clone());
    assert!(check(&compliance, &json!({"found": true})).is_err());
    assert!(check(&registration, &json!({"found": true, "unifiedNumber": "1"})).is_err());
    assert!(check(&registration, &json!({"found": false})).is_ok());
    let kit = Kit::new(
        Agency::Labor,
        move |knobs| simulator::router(world.clone(), CLIENT_ID, Secret::new(SECRET), knobs),
        |base, credentials: Credentials| {
            Arc::new(
                LaborAdapter::new(LaborConfig {
                    base_url: base.parse().unwrap(),
                    client_id: CLIENT_ID.to_owned(),
                    client_secret: Secret::new(credentials.pick(SECRET, "not-the-secret")),
                    timeout: Duration::from_secs(30),
                })
                .unwrap(),
            )
        },
        validator(catalogue),
    )
    .case(
        compliance.clone(),
        unified(golden::COOP_COMPLIANT),
        Expect::Ok,
    )
    .case(
        compliance.clone(),
        unified(cases::COOP_IN_NO_WORLD),
        Expect::NotFound,
    )
    .case(
        compliance.clone(),
        unified(cases::COOP_NO_LABOR_FILE),
        Expect::NotFound,
    )
    .case(compliance, unified(golden::COOP_RED_BAND), Expect::Mismatch)
    .case(
        registration.clone(),
        unified(golden::COOP_COMPLIANT),
        Expect::Ok,
    )
    .case(
        registration.clone(),
        unified(cases::COOP_IN_NO_WORLD),
        Expect::NotFound,
    )
    .case(
        registration,
        unified(cases::COOP_SUSPENDED),
        Expect::Mismatch,
    );
    let report = run(kit).await;
    assert!(report.passed.len() >= 18, "{:#?}", report.passed);
}
