//! The shared conformance kit against the Saudi Post simulator, with outputs validated
//! against the catalogue's `post.address.verify` output schema.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use rabt_adapter::http::Secret;
use rabt_adapter_saudi_post::{ADDRESS_VERIFY, SaudiPostAdapter, SaudiPostConfig, simulator};
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, ServiceName};
use rabt_sandbox::conformance::{Credentials, Expect, Kit, output_validator, run};
use rabt_sandbox::world::{World, golden};
use serde_json::{Value, json};

const KEY: &str = "conformance-key";

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

#[tokio::test]
async fn saudi_post_passes_the_conformance_kit() {
    let world = Arc::new(World::standard());
    let catalogue = Arc::new(Catalogue::bundled().unwrap());
    let service = ServiceName::parse(ADDRESS_VERIFY).unwrap();
    // The validator is live: it refuses what the schema refuses.
    let check = validator(catalogue.clone());
    assert!(check(&service, &json!({"found": true, "postalCode": "1221"})).is_err());
    assert!(check(&service, &json!({"found": false})).is_ok());
    let kit = Kit::new(
        Agency::SaudiPost,
        move |knobs| simulator::router(world.clone(), Secret::new(KEY), knobs),
        |base, credentials: Credentials| {
            Arc::new(
                SaudiPostAdapter::new(SaudiPostConfig {
                    base_url: base.parse().unwrap(),
                    api_key: Secret::new(credentials.pick(KEY, "not-the-key")),
                    timeout: Duration::from_secs(30),
                })
                .unwrap(),
            )
        },
        validator(catalogue),
    )
    .case(
        service.clone(),
        json!({"shortAddress": golden::SHORT_ADDRESS_FOUND}),
        Expect::Ok,
    )
    .case(
        service.clone(),
        json!({"shortAddress": golden::SHORT_ADDRESS_MISSING}),
        Expect::NotFound,
    )
    .case(
        service.clone(),
        json!({"buildingNumber": golden::BUILDING_NUMBER, "postalCode": golden::POSTAL_CODE,
               "additionalNumber": golden::ADDITIONAL_NUMBER}),
        Expect::Ok,
    )
    .case(
        service,
        json!({"buildingNumber": golden::BUILDING_NUMBER, "postalCode": golden::POSTAL_CODE,
               "additionalNumber": "1000"}),
        Expect::NotFound,
    );
    let report = run(kit).await;
    assert!(report.passed.len() >= 15, "{:#?}", report.passed);
}
