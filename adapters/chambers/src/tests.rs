use rabt_adapter::http::SecretBytes;
use rabt_sandbox::conformance::call_once;
use rabt_sandbox::tls::SandboxPki;
use serde_json::json;

use super::*;
use crate::wire::FscCocRecordResponse;

fn config(base_url: Url) -> ChambersConfig {
    let pki = SandboxPki::generate().unwrap();
    ChambersConfig {
        base_url,
        token: Secret::new("super-secret-token"),
        client_identity: pki.client_identity(),
        server_ca_pem: vec![pki.server_ca_pem],
        timeout: Duration::from_secs(5),
    }
}

rabt_adapter::constructor_tests! {
    new: ChambersAdapter::new,
    config: config,
    base: "https://api-dev.rega.gov.sa",
    https_only: true,
    secrets: ["super-secret-token", "PRIVATE KEY"],
    breakers: [
        |c| c.token = Secret::new(""),
        |c| c.token = Secret::new("two words"),
        |c| c.token = Secret::new("line\nbreak"),
    ],
}

#[test]
fn unusable_certificates_are_configuration_errors() {
    let url = || Url::parse("https://example.com").unwrap();
    let mut no_key = config(url());
    no_key.client_identity.key_pem = SecretBytes(Vec::new());
    assert!(matches!(
        ChambersAdapter::new(no_key),
        Err(ConfigError::Client(_))
    ));
    let bad_ca = ChambersConfig {
        server_ca_pem: vec![b"not a certificate".to_vec()],
        ..config(url())
    };
    assert!(matches!(
        ChambersAdapter::new(bad_ca),
        Err(ConfigError::Client(_))
    ));
}

fn golden() -> Lookup {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/wire/coc-record-7000000001.json"
    );
    let response: FscCocRecordResponse =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Lookup::Found(Box::new(response))
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn outcome(answer: &Answer) -> (Outcome, &serde_json::Value) {
    match answer {
        Answer::Final { outcome, data, .. } => (*outcome, data),
        Answer::Submitted { .. } => panic!("FSC answers synchronously"),
    }
}

#[test]
fn valid_is_ok_expired_is_mismatch_none_is_not_found() {
    let query = MembershipQuery::parse(&json!({"unifiedNumber": "7000000001"})).unwrap();
    let ok = answer(golden(), &query, day("2040-06-25")).unwrap();
    assert_eq!(outcome(&ok).0, Outcome::Ok);
    assert_eq!(outcome(&ok).1["valid"], true);
    let expired = answer(golden(), &query, day("2040-06-26")).unwrap();
    assert_eq!(outcome(&expired).0, Outcome::Mismatch);
    assert_eq!(outcome(&expired).1["valid"], false);
    assert_eq!(outcome(&expired).1["found"], true);
    let none = answer(Lookup::NoRecord, &query, day("2030-01-01")).unwrap();
    assert_eq!(
        outcome(&none),
        (Outcome::NotFound, &json!({"found": false}))
    );
}

#[test]
fn an_answer_about_another_membership_is_malformed() {
    for input in [
        json!({"unifiedNumber": "7000000002"}),
        json!({"chamberCode": "2", "membershipNumber": "123456"}),
        json!({"chamberCode": "1", "membershipNumber": "123457"}),
    ] {
        let query = MembershipQuery::parse(&input).unwrap();
        let err = answer(golden(), &query, day("2030-01-01")).unwrap_err();
        assert!(
            matches!(err, AdapterError::Malformed(_)),
            "{input}: {err:?}"
        );
    }
    // Zero padding is the same membership number.
    let padded =
        MembershipQuery::parse(&json!({"chamberCode": "1", "membershipNumber": "00123456"}))
            .unwrap();
    assert!(answer(golden(), &padded, day("2030-01-01")).is_ok());
}

#[test]
fn the_unified_number_asked_fills_in_what_fsc_does_not_say() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/wire/coc-record-published-shape.json"
    );
    let response: FscCocRecordResponse =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let query = MembershipQuery::parse(&json!({"unifiedNumber": "7000000042"})).unwrap();
    let ok = answer(Lookup::Found(Box::new(response)), &query, day("2030-01-01")).unwrap();
    assert_eq!(outcome(&ok).1["unifiedNumber"], "7000000042");
}

#[tokio::test]
async fn other_services_are_unsupported_and_callbacks_refused() {
    let adapter = ChambersAdapter::new(config(Url::parse("https://127.0.0.1:9").unwrap())).unwrap();
    let err = call_once(
        &adapter,
        "post.address.verify",
        rabt_core::TaskId::new(),
        &json!({}),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::UnsupportedService(_)));
    assert!(matches!(
        adapter.callback(&json!({})),
        Err(AdapterError::BadCallback(_))
    ));
    assert_eq!(adapter.agency(), Agency::Chambers);
    assert_eq!(adapter.services(), [MEMBERSHIP_VERIFY]);
}
