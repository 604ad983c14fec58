use super::*;

pub(crate) fn config(base_url: Url) -> InteriorConfig {
    InteriorConfig {
        base_url,
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

fn example() -> InteriorAdapter {
    InteriorAdapter::new(config(Url::parse("https://example.com").unwrap())).unwrap()
}

rabt_adapter::constructor_tests! {
    new: InteriorAdapter::new,
    config: config,
    base: "https://yakeen.eserve.com.sa",
    https_only: false,
    secrets: [
        "yakeen-password-secret",
        "charge-code-secret",
        "app-key-secret",
        "service-key-secret",
    ],
    breakers: [
        |c| c.yakeen.user_name = String::new(),
        |c| c.yakeen.password = Secret::new(" "),
        |c| c.yakeen.charge_code = Secret::new("line\nbreak"),
        |c| c.lite.app_id = "تطبيق".into(),
        |c| c.lite.app_key = Secret::new(""),
        |c| c.lite.service_key = Secret::new("tab\there"),
    ],
}

#[test]
fn the_lite_base_url_is_checked_without_showing_credentials() {
    let lite_bad = InteriorConfig {
        lite_base_url: Some(Url::parse("https://user:pw@example.com/#x").unwrap()),
        ..config(Url::parse("https://example.com").unwrap())
    };
    let err = InteriorAdapter::new(lite_bad).unwrap_err();
    assert!(matches!(err, ConfigError::BaseUrl { .. }));
    assert!(!err.to_string().contains("pw"), "{err}");
}

#[test]
fn the_user_name_shows_in_debug_output() {
    assert!(format!("{:?}", example()).contains("rabt"));
}

#[test]
fn callbacks_are_refused() {
    let adapter = example();
    assert!(matches!(
        adapter.callback(&serde_json::json!({})),
        Err(AdapterError::BadCallback(_))
    ));
    assert_eq!(adapter.agency(), Agency::Interior);
    assert_eq!(adapter.services(), [IDENTITY_VERIFY, MOBILE_VERIFY]);
}
