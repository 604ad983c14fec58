//! The shared conformance kit against the Balady simulator: every case is accepted
//! (`Submitted`), since the answer comes later by callback; the callbacks themselves go
//! to a fake Rabt endpoint, and tests/golden.rs reads them.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;

use rabt_adapter_municipal::LICENSE_VERIFY;
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, ServiceName};
use rabt_sandbox::conformance::{Credentials, Expect, Kit, output_validator, run};
use rabt_sandbox::world::{cases, golden};
use serde_json::json;

#[tokio::test]
async fn municipal_passes_the_conformance_kit() {
    let receiver = Arc::new(common::receiver().await);
    let catalogue = Arc::new(Catalogue::bundled().unwrap());
    let service = ServiceName::parse(LICENSE_VERIFY).unwrap();
    let sim_receiver = receiver.clone();
    let kit = Kit::new(
        Agency::Municipal,
        move |knobs| common::simulator(&sim_receiver, &knobs),
        |base, credentials: Credentials| {
            Arc::new(common::adapter(
                base,
                credentials.pick(common::KEY, "not-the-key"),
            ))
        },
        output_validator(catalogue, |catalogue, service, output| {
            catalogue
                .service(service.as_str())
                .map(|service| service.validate_output(output))
        }),
    )
    .case(
        service.clone(),
        json!({"licenseNumber": golden::COOP_COMPLIANT_LICENCE, "licenseType": "COMMERCIAL",
               "unifiedNumber": golden::COOP_COMPLIANT}),
        Expect::Submitted,
    )
    .case(
        service.clone(),
        json!({"licenseNumber": golden::COOP_EXPIRED_LICENCE_LICENCE}),
        Expect::Submitted,
    )
    .case(
        service,
        json!({"licenseNumber": cases::LICENCE_IN_NO_WORLD}),
        Expect::Submitted,
    );
    let report = run(kit).await;
    assert!(report.passed.len() >= 14, "{:#?}", report.passed);
    // The kit's accepted calls did call Rabt back, each signed with the agency's secret.
    receiver.at_least(1).await;
    assert_eq!(receiver.refused(), 0);
}
