//! The shared conformance kit, every check over mutual TLS, with outputs validated
//! against the catalogue's `chambers.membership.verify` output schema.

use std::io;

use rabt_core::Agency;
use rabt_sandbox::conformance::{Credentials, Expect, Kit, run};
use rabt_sandbox::tls::spawn_tls;
use rabt_sandbox::world::{cases, golden};
use serde_json::json;

use super::*;

#[tokio::test]
async fn chambers_passes_the_conformance_kit_over_mutual_tls() {
    let pki = SandboxPki::generate().unwrap();
    let service = ServiceName::parse(MEMBERSHIP_VERIFY).unwrap();
    // The validator is live: it refuses what the schema refuses.
    assert!(validate(&service, &json!({"found": true})).is_err());
    assert!(validate(&service, &json!({"found": false})).is_ok());
    let tls = pki.server_tls();
    let adapter_pki = pki.clone();
    let kit = Kit::new(
        Agency::Chambers,
        |knobs| simulator::router(world(), Secret::new(TOKEN), knobs),
        move |base, credentials: Credentials| {
            let token = credentials.pick(TOKEN, "not-the-token");
            Arc::new(adapter(base, &adapter_pki, &adapter_pki, token))
        },
        validate,
    )
    .served_by("https", move |router| {
        let tls = tls.clone();
        Box::pin(async move {
            spawn_tls(SocketAddr::from(([127, 0, 0, 1], 0)), router, &tls)
                .await
                .map_err(io::Error::other)
        })
    })
    .case(
        service.clone(),
        json!({"unifiedNumber": golden::COOP_COMPLIANT}),
        Expect::Ok,
    )
    .case(
        service.clone(),
        json!({"chamberCode": golden::COOP_COMPLIANT_CHAMBER.to_string(),
               "membershipNumber": golden::COOP_COMPLIANT_MEMBERSHIP}),
        Expect::Ok,
    )
    .case(
        service.clone(),
        json!({"unifiedNumber": cases::COOP_IN_NO_WORLD}),
        Expect::NotFound,
    )
    .case(
        service.clone(),
        json!({"chamberCode": "1", "membershipNumber": "999999"}),
        Expect::NotFound,
    )
    .case(
        service,
        json!({"unifiedNumber": cases::COOP_MEMBERSHIP_EXPIRED}),
        Expect::Mismatch,
    );
    let report = run(kit).await;
    assert!(report.passed.len() >= 15, "{:#?}", report.passed);
}
