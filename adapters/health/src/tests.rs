use reqwest::Url;

use super::*;

fn example() -> HealthAdapter {
    let base = Url::parse("https://example.com").unwrap();
    HealthAdapter::new(rabt_adapter::agency::testing::api_key_config(base)).unwrap()
}

rabt_adapter::constructor_tests! { api_key: HealthAdapter::new, base: "https://moh.example/gateway" }

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
