//! Mutual TLS: the simulator serves only clients whose certificate its client CA
//! signed, and the adapter talks only to a server its configured CA vouches for.
//! Refused callers never reach a handler (the simulator counts no call).

use rabt_adapter::AdapterError;
use rabt_adapter::http::{ClientIdentity, HttpClientConfig, build_client};
use rabt_core::Outcome;
use rabt_sandbox::world::golden;
use serde_json::json;

use super::*;

fn input() -> Value {
    json!({"unifiedNumber": golden::COOP_COMPLIANT})
}

/// Every error of a chain, for asserting what refused the call.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(&format!(" / {cause}"));
        next = cause.source();
    }
    text
}

/// Fails the test unless `words` appear in `err` or one of its causes: what the TLS
/// stack said of the refusal.
#[track_caller]
fn assert_says(err: &dyn std::error::Error, words: &str) {
    let said = chain(err);
    assert!(said.contains(words), "{said}");
}

/// Fails the test unless FSC's answer came through: a final `OK`.
#[track_caller]
fn assert_ok(answer: &Answer) {
    assert!(
        matches!(
            answer,
            Answer::Final {
                outcome: Outcome::Ok,
                ..
            }
        ),
        "{answer:?}"
    );
}

/// A GET with the shared client, built with this identity (or none), trusting the
/// sandbox's server CA.
async fn raw_get(
    fsc: &Fsc,
    pki: &SandboxPki,
    identity: Option<ClientIdentity>,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let client = build_client(&HttpClientConfig {
        identity,
        extra_root_certs_pem: vec![pki.server_ca_pem.clone()],
        ..HttpClientConfig::default()
    })
    .unwrap();
    let url = format!(
        "{}/v1/fsc/coc-records?cocMemberUnifiedNumber={}",
        fsc.base(),
        golden::COOP_COMPLIANT
    );
    client
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .map(|r| r.status())
}

#[tokio::test]
async fn the_right_client_certificate_is_served() {
    let pki = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    let status = raw_get(&fsc, &pki, Some(pki.client_identity()))
        .await
        .unwrap();
    assert_eq!(status, reqwest::StatusCode::OK);
    let answer = verify(&adapter(&fsc.base(), &pki, &pki, TOKEN), input())
        .await
        .unwrap();
    assert_ok(&answer);
    assert_eq!(fsc.knobs.stats().calls, 2);
}

#[tokio::test]
async fn no_client_certificate_is_refused_at_the_handshake() {
    let pki = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    let err = raw_get(&fsc, &pki, None).await.unwrap_err();
    // TLS 1.3: the client learns of the refusal from the server's alert.
    assert_says(&err, "CertificateRequired");
    assert_eq!(
        fsc.knobs.stats().calls,
        0,
        "a caller without a certificate reached a handler"
    );
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let pki = SandboxPki::generate().unwrap();
    let stranger = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    assert!(
        raw_get(&fsc, &pki, Some(stranger.client_identity()))
            .await
            .is_err()
    );
    // The adapter reports it as an agency it cannot reach: retryable, as a TLS failure
    // is for every agency (the operator sees it in the logs and the circuit breaker).
    let with_strangers_certificate = adapter(&fsc.base(), &stranger, &pki, TOKEN);
    let err = verify(&with_strangers_certificate, input())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    // The stranger's CA has the trusted CA's name but not its key: a bad signature.
    assert_says(&err, "received fatal alert");
    assert_eq!(fsc.knobs.stats().calls, 0);
}

#[tokio::test]
async fn a_server_the_configured_ca_does_not_vouch_for_is_refused_by_the_adapter() {
    let pki = SandboxPki::generate().unwrap();
    let impostor_ca = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    let trusting_another_ca = adapter(&fsc.base(), &pki, &impostor_ca, TOKEN);
    let err = verify(&trusting_another_ca, input()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert_says(&err, "invalid peer certificate");
    assert_eq!(
        fsc.knobs.stats().calls,
        0,
        "the token was sent to an unverified server"
    );
}

#[tokio::test]
async fn plain_http_is_not_served() {
    let pki = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    let plain = reqwest::Client::new()
        .get(format!("http://{}/v1/fsc/coc-records", fsc.addr))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(fsc.knobs.stats().calls, 0);
}

#[tokio::test]
async fn the_server_certificate_names_localhost_too() {
    let pki = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    let base = format!("https://localhost:{}", fsc.addr.port());
    let answer = verify(&adapter(&base, &pki, &pki, TOKEN), input())
        .await
        .unwrap();
    assert_ok(&answer);
}
