use super::*;

pub(crate) fn config(url: &str) -> InteriorConfig {
    InteriorConfig {
        base_url: Url::parse(url).unwrap(),
        lite_base_url: None,
        yakeen: YakeenCredentials {
            user_name: "rabt".into(),
            password: Secret::new("yakeen-password-secret"),
            charge_code: Secret::new("charge-code-secret"),
        },
        lite: YakeenLiteCredentials {
            app_id: "app-id".into(),
            app_key: Secret::new("app-key-secret"),
            service_key: Secret::new("service-key-secret"),
            organization_number: UnifiedNumber::parse("7000000001").unwrap(),
        },
        timeout: Duration::from_secs(5),
    }
}

#[test]
fn base_urls_are_checked_without_showing_credentials() {
    assert!(InteriorAdapter::new(config("https://yakeen.eserve.com.sa")).is_ok());
    for bad in [
        "ftp://example.com/",
        "https://example.com/?k=x",
        "mailto:someone@example.com",
    ] {
        assert!(
            matches!(
                InteriorAdapter::new(config(bad)),
                Err(InteriorError::BaseUrl(_))
            ),
            "{bad}"
        );
    }
    let lite_bad = InteriorConfig {
        lite_base_url: Some(Url::parse("https://user:pw@example.com/#x").unwrap()),
        ..config("https://example.com")
    };
    let err = InteriorAdapter::new(lite_bad).unwrap_err();
    assert!(matches!(err, InteriorError::BaseUrl(_)));
    assert!(!err.to_string().contains("pw"), "{err}");
}

#[test]
fn unusable_credentials_are_configuration_errors() {
    type Breaker = fn(&mut InteriorConfig);
    let cases: [Breaker; 6] = [
        |c| c.yakeen.user_name = String::new(),
        |c| c.yakeen.password = Secret::new(" "),
        |c| c.yakeen.charge_code = Secret::new("line\nbreak"),
        |c| c.lite.app_id = "تطبيق".into(),
        |c| c.lite.app_key = Secret::new(""),
        |c| c.lite.service_key = Secret::new("tab\there"),
    ];
    for break_it in cases {
        let mut bad = config("https://example.com");
        break_it(&mut bad);
        let err = InteriorAdapter::new(bad).unwrap_err();
        assert!(matches!(err, InteriorError::Credential(_)), "{err:?}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

#[test]
fn a_zero_timeout_is_a_configuration_error() {
    let zero = InteriorConfig {
        timeout: Duration::ZERO,
        ..config("https://example.com")
    };
    assert!(matches!(
        InteriorAdapter::new(zero),
        Err(InteriorError::Client(_))
    ));
}

#[test]
fn debug_output_hides_every_secret() {
    let config = config("https://example.com");
    let adapter = InteriorAdapter::new(config.clone()).unwrap();
    for shown in [format!("{adapter:?}"), format!("{config:?}")] {
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("rabt"), "{shown}");
    }
}

#[test]
fn callbacks_are_refused() {
    let adapter = InteriorAdapter::new(config("https://example.com")).unwrap();
    assert!(matches!(
        adapter.callback(&serde_json::json!({})),
        Err(AdapterError::BadCallback(_))
    ));
    assert_eq!(adapter.agency(), Agency::Interior);
    assert_eq!(adapter.services(), [IDENTITY_VERIFY, MOBILE_VERIFY]);
}
