use rabt_adapter::http::Secret;
use reqwest::Url;

use super::*;

fn config(base_url: Url) -> HealthConfig {
    HealthConfig {
        base_url,
        api_key: Secret::new("super-secret-key"),
        timeout: std::time::Duration::from_secs(5),
    }
}

fn example() -> HealthAdapter {
    HealthAdapter::new(config(Url::parse("https://example.com").unwrap())).unwrap()
}

rabt_adapter::constructor_tests! {
    new: HealthAdapter::new,
    config: config,
    base: "https://moh.example/gateway",
    https_only: false,
    secrets: ["super-secret-key"],
    breakers: [
        |c| c.api_key = Secret::new(""),
        |c| c.api_key = Secret::new("line\nbreak"),
    ],
}

#[test]
fn the_adapter_names_its_agency_and_service() {
    let adapter = example();
    assert_eq!(adapter.agency(), Agency::Health);
    assert_eq!(adapter.services(), [CERTIFICATES_VERIFY]);
}

#[test]
fn a_body_that_is_not_a_batch_callback_is_refused() {
    let adapter = example();
    for body in [
        serde_json::json!({}),
        serde_json::json!({"eventType": "LICENSE_VERIFICATION_COMPLETED"}),
        serde_json::json!([1, 2]),
    ] {
        let err = adapter.callback(&body).unwrap_err();
        assert!(
            matches!(err, AdapterError::BadCallback(_)),
            "{body}: {err:?}"
        );
        assert!(!err.is_retryable());
    }
}
