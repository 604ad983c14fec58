//! The shared client accepts what mutual-TLS agencies need: a client identity (PEM
//! certificate and key) and extra root CAs, and refuses them when they are not PEM.

use rabt_adapter::http::{
    ClientConfigError, ClientIdentity, HttpClientConfig, SecretBytes, build_client,
};

const CERT: &[u8] = include_bytes!("../fixtures/test-client.cert.pem");
const KEY: &[u8] = include_bytes!("../fixtures/test-client.key.pem");

#[test]
fn client_identity_and_extra_roots_build() {
    let config = HttpClientConfig {
        identity: Some(ClientIdentity {
            cert_pem: CERT.to_vec(),
            key_pem: SecretBytes(KEY.to_vec()),
        }),
        extra_root_certs_pem: vec![CERT.to_vec()],
        ..HttpClientConfig::default()
    };
    build_client(&config).unwrap();
    // The key never shows in the configuration's Debug output.
    let debug = format!("{config:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
}

#[test]
fn a_certificate_without_its_key_is_refused() {
    let config = HttpClientConfig {
        identity: Some(ClientIdentity {
            cert_pem: CERT.to_vec(),
            key_pem: SecretBytes(Vec::new()),
        }),
        ..HttpClientConfig::default()
    };
    assert!(matches!(
        build_client(&config),
        Err(ClientConfigError::Identity(_))
    ));
}

#[test]
fn an_empty_root_bundle_is_refused() {
    let config = HttpClientConfig {
        extra_root_certs_pem: vec![CERT.to_vec(), b"# no certificate here\n".to_vec()],
        ..HttpClientConfig::default()
    };
    assert!(matches!(
        build_client(&config),
        Err(ClientConfigError::EmptyRootBundle { index: 1 })
    ));
}
