use super::*;

fn config(url: &str) -> HealthConfig {
    HealthConfig {
        base_url: Url::parse(url).unwrap(),
        api_key: Secret::new("key"),
        timeout: Duration::from_secs(5),
    }
}

#[test]
fn base_urls_are_checked_without_showing_credentials() {
    assert!(HealthAdapter::new(config("https://moh.example/gateway")).is_ok());
    for bad in [
        "ftp://example.com/",
        "https://example.com/?api_key=x",
        "https://example.com/#top",
        "mailto:someone@example.com",
    ] {
        assert!(
            matches!(
                HealthAdapter::new(config(bad)),
                Err(HealthError::BaseUrl(_))
            ),
            "{bad}"
        );
    }
    let err = HealthAdapter::new(config("https://user:pw@example.com/?q=1")).unwrap_err();
    assert!(!err.to_string().contains("pw"), "{err}");
}

#[test]
fn an_unusable_key_is_a_configuration_error() {
    for key in ["", "line\nbreak"] {
        let bad = HealthConfig {
            api_key: Secret::new(key),
            ..config("https://example.com")
        };
        assert!(matches!(HealthAdapter::new(bad), Err(HealthError::ApiKey)));
    }
}

#[test]
fn a_zero_timeout_is_a_configuration_error() {
    let zero = HealthConfig {
        timeout: Duration::ZERO,
        ..config("https://example.com")
    };
    assert!(matches!(
        HealthAdapter::new(zero),
        Err(HealthError::Client(_))
    ));
}

#[test]
fn debug_output_hides_the_key() {
    let config = HealthConfig {
        api_key: Secret::new("super-secret-key"),
        ..config("https://example.com")
    };
    assert!(!format!("{config:?}").contains("super-secret-key"));
    let adapter = HealthAdapter::new(config).unwrap();
    assert!(!format!("{adapter:?}").contains("super-secret-key"));
}

#[test]
fn the_adapter_names_its_agency_and_service() {
    let adapter = HealthAdapter::new(config("https://example.com")).unwrap();
    assert_eq!(adapter.agency(), Agency::Health);
    assert_eq!(adapter.services(), [CERTIFICATES_VERIFY]);
}

#[test]
fn a_body_that_is_not_a_batch_callback_is_refused() {
    let adapter = HealthAdapter::new(config("https://example.com")).unwrap();
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
