//! The shared conformance kit against the ministry's simulator, with outputs validated
//! against the catalogue's `health.certificates.verify` output schema; then the
//! callbacks the kit's accepted batches gave, mapped and validated too.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::sync::Arc;

use rabt_adapter::http::Secret;
use rabt_adapter::{Adapter, CallbackAnswer};
use rabt_adapter_health::{CERTIFICATES_VERIFY, simulator};
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, Outcome, ServiceName};
use rabt_sandbox::conformance::{Credentials, Expect, Kit, output_validator, run};
use rabt_sandbox::world::{World, cases};
use serde_json::{Value, json};
use support::{KEY, adapter, fake_rabt};

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
async fn health_passes_the_conformance_kit() {
    let world = Arc::new(World::standard());
    let catalogue = Arc::new(Catalogue::bundled().unwrap());
    let service = ServiceName::parse(CERTIFICATES_VERIFY).unwrap();
    let check = validator(catalogue.clone());
    assert!(
        check(&service, &json!({"allValid": true})).is_err(),
        "the validator is live"
    );
    let rabt = Arc::new(fake_rabt().await);
    let target = rabt.target();
    let kit = Kit::new(
        Agency::Health,
        move |knobs| {
            let callbacks = rabt_sandbox::callback::CallbackSender::new(
                Agency::Health,
                target.clone(),
                knobs.clone(),
            );
            simulator::router(world.clone(), Secret::new(KEY), knobs, callbacks)
        },
        |base, credentials: Credentials| {
            Arc::new(adapter(base, credentials.pick(KEY, "not-the-key")))
        },
        validator(catalogue.clone()),
    )
    .case(
        service.clone(),
        json!({"establishmentLicenseNumber": cases::FOOD_LICENCE,
               "idNumbers": [cases::WORKER_VALID_CITIZEN, cases::WORKER_VALID_RESIDENT]}),
        Expect::Submitted,
    )
    .case(
        service.clone(),
        json!({"establishmentLicenseNumber": cases::FOOD_LICENCE,
               "idNumbers": [cases::WORKER_UNFIT, cases::WORKER_CERTIFICATE_EXPIRED,
                             cases::WORKER_WITHOUT_CERTIFICATE]}),
        Expect::Submitted,
    )
    .case(
        service.clone(),
        json!({"establishmentLicenseNumber": cases::LICENCE_IN_NO_WORLD,
               "idNumbers": [cases::WORKER_VALID_CITIZEN]}),
        Expect::NotFound,
    );
    let report = run(kit).await;
    assert!(report.passed.len() >= 14, "{:#?}", report.passed);

    // The two Submitted cases and the latency check each accepted a batch: their
    // callbacks are OK, MISMATCH and OK.
    let received = rabt.at_least(3).await;
    let answers: Vec<CallbackAnswer> = received
        .iter()
        .map(|r| {
            let mut answers = adapter("http://127.0.0.1:9", KEY)
                .callback(&r.body)
                .unwrap();
            answers.remove(0)
        })
        .collect();
    for answer in &answers {
        check(&service, &answer.data).unwrap();
    }
    assert!(answers.iter().any(|a| a.outcome == Outcome::Ok));
    assert!(answers.iter().any(|a| a.outcome == Outcome::Mismatch));
}
