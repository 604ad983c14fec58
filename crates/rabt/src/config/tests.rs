//! Configuration layering, validation and the error messages that name the key.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_alone_are_valid() {
    let config = Config::from_sources(None, &[]).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert!(config.amqp_url.is_none());
    // deploy/rabt.toml has a table for every agency of the build.
    assert_eq!(config.agencies.len(), Agency::ALL.len());
    assert_eq!(
        config.agencies[&Agency::SaudiPost].url.as_str(),
        "http://127.0.0.1:9105/"
    );
}

#[test]
fn the_default_seed_is_the_standard_world() {
    let config = Config::from_sources(None, &[]).unwrap();
    assert_eq!(config.seed, rabt_sandbox::world::World::STANDARD_SEED);
}

#[test]
fn file_then_environment_override_defaults() {
    let file = "[api]\nlisten = \"0.0.0.0:9000\"\n[database]\nurl = \"postgres://db/rabt\"\n";
    let config = Config::from_sources(
        Some(file),
        &env(&[
            ("RABT_DATABASE_URL", "postgres://other/rabt"),
            ("RABT_AMQP_URL", "amqp://guest:pw@localhost:5672/%2f"),
            ("RABT_AGENCY_SAUDI_POST_URL", "http://127.0.0.1:1234"),
            ("RABT_AGENCY_SAUDI_POST_API_KEY", "k"),
            ("RABT_TEST_SOMETHING", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(config.database().unwrap(), "postgres://other/rabt");
    assert!(config.amqp_url.is_some());
    let post = &config.agencies[&Agency::SaudiPost];
    assert_eq!(post.url.port(), Some(1234));
    assert_eq!(post.api_key.expose(), "k");
    assert_eq!(format!("{:?}", post.api_key), "***");
}

#[test]
fn unknown_keys_are_named() {
    let err = Config::from_sources(Some("[api]\nlisen = \"x\"\n"), &[]).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("api") && text.contains("lisen"), "{text}");

    let err = Config::from_sources(
        Some("[agencies.post]\nurl = \"http://x\"\napi_key = \"\"\ntimeout_ms = 1\n"),
        &[],
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("agencies.post"), "{err:#}");

    let err = Config::from_sources(Some("[queue]\ndelivery_limit = \"ten\"\n"), &[]).unwrap_err();
    assert!(
        format!("{err:#}").contains("queue.delivery_limit"),
        "{err:#}"
    );

    let err =
        Config::from_sources(None, &env(&[("RABT_AGENCY_POST_URL", "http://x")])).unwrap_err();
    assert!(
        format!("{err:#}").contains("RABT_AGENCY_POST_URL"),
        "{err:#}"
    );
    // The agencies it could have named are every agency of the build.
    for agency in Agency::ALL {
        assert!(format!("{err:#}").contains(agency.env_name()), "{err:#}");
    }
}

#[test]
fn bad_values_are_explained() {
    let err = Config::from_sources(Some("[api]\nlisten = \"localhost\"\n"), &[]).unwrap_err();
    assert!(format!("{err:#}").contains("api.listen"));
    let err = Config::from_sources(None, &env(&[("RABT_AMQP_URL", "http://x")])).unwrap_err();
    assert!(format!("{err:#}").contains("queue.amqp_url"));
}

#[test]
fn callback_secrets_come_from_the_environment_and_are_checked() {
    let secret = rabt_webhook::Secret::generate().expose();
    let other = rabt_webhook::Secret::generate().expose();
    let config = Config::from_sources(
        None,
        &env(&[(
            "RABT_AGENCY_MUNICIPAL_CALLBACK_SECRETS",
            &format!("{secret},{other}"),
        )]),
    )
    .unwrap();
    assert_eq!(
        config.agencies[&Agency::Municipal].callback_secrets.len(),
        2
    );
    assert!(config.agencies[&Agency::Health].callback_secrets.is_empty());
    let err = Config::from_sources(
        None,
        &env(&[("RABT_AGENCY_HEALTH_CALLBACK_SECRETS", "whsec_nope")]),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("agencies.health.callback_secrets"),
        "{err:#}"
    );
    assert!(
        !format!("{err:#}").contains("nope"),
        "secrets never echo back"
    );
}

#[test]
fn other_agency_variables_are_credentials() {
    let config = Config::from_sources(
        None,
        &env(&[
            ("RABT_AGENCY_LABOR_CLIENT_SECRET", "s3cret"),
            ("RABT_AGENCY_LABOR_CLIENT_ID", "rabt"),
        ]),
    )
    .unwrap();
    let labor = &config.agencies[&Agency::Labor];
    assert_eq!(labor.credentials["client_secret"].expose(), "s3cret");
    assert_eq!(labor.credentials["client_id"].expose(), "rabt");
    assert_eq!(format!("{:?}", labor.credentials["client_secret"]), "***");
}

#[test]
fn simulator_knobs_come_from_the_file_and_are_checked() {
    let file = "[simulate.knobs.municipal]\ncallback_delay_ms = 1500\n[simulate.knobs.saudi-post]\nlatency_ms = 20\nfault = { kind = \"rate_limit\", retry_after = 3 }\n";
    let config = Config::from_sources(Some(file), &[]).unwrap();
    let municipal = config.simulate_knobs[&Agency::Municipal];
    assert_eq!(municipal.callback_delay, Duration::from_millis(1500));
    let post = config.simulate_knobs[&Agency::SaudiPost];
    assert_eq!(
        post.fault,
        rabt_sandbox::simulator::Fault::RateLimit { retry_after: 3 }
    );
    for bad in [
        "[simulate.knobs.post]\nlatency_ms = 1\n",
        "[simulate.knobs.health]\nlatncy_ms = 1\n",
        "[simulate.knobs.health]\nerror_rate = 2.0\n",
    ] {
        let err = Config::from_sources(Some(bad), &[]).unwrap_err();
        assert!(format!("{err:#}").contains("simulate.knobs"), "{err:#}");
    }
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(
        redact_url("amqp://guest:secret@host:5672/%2f"),
        "amqp://guest:***@host:5672/%2f"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
}

#[test]
fn several_brokers_from_the_variable_or_a_list_and_every_password_masked() {
    let config = Config::from_sources(
        None,
        &env(&[(
            "RABT_AMQP_URL",
            "amqp://rabt:pw1@10.0.0.1:5672/%2f, amqp://rabt:pw2@10.0.0.2:5672/%2f",
        )]),
    )
    .unwrap();
    let urls = config.amqp_url.unwrap();
    assert_eq!(
        urls.expose(),
        "amqp://rabt:pw1@10.0.0.1:5672/%2f,amqp://rabt:pw2@10.0.0.2:5672/%2f"
    );
    let shown = crate::config::redact_urls(urls.expose());
    assert!(!shown.contains("pw1") && !shown.contains("pw2"), "{shown}");
    assert_eq!(shown.matches("***").count(), 2, "{shown}");

    let file = "[queue]\namqp_url = [\"amqp://a:x@n1:5672/%2f\", \"amqps://a:x@n2:5671/%2f\"]\nquorum_size = 3\n";
    let config = Config::from_sources(Some(file), &env(&[])).unwrap();
    assert_eq!(
        config.amqp_url.unwrap().expose(),
        "amqp://a:x@n1:5672/%2f,amqps://a:x@n2:5671/%2f"
    );
    assert_eq!(config.quorum_size, Some(3));
    assert_eq!(
        Config::from_sources(None, &env(&[])).unwrap().quorum_size,
        None
    );

    let err = Config::from_sources(
        None,
        &env(&[("RABT_AMQP_URL", "amqp://a@n1/%2f,http://n2")]),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("URL 2"), "{err:#}");
}

#[test]
fn the_operators_listener_is_its_own_unless_set_equal() {
    let config = Config::from_sources(None, &[]).unwrap();
    assert_eq!(config.ops_listen.to_string(), "127.0.0.1:9091");
    assert_ne!(config.ops_listen, config.listen);
    let config = Config::from_sources(
        None,
        &env(&[
            ("RABT_LISTEN", "127.0.0.1:7000"),
            ("RABT_OPS_LISTEN", "127.0.0.1:7000"),
        ]),
    )
    .unwrap();
    assert_eq!(config.ops_listen, config.listen);
    let err = Config::from_sources(None, &env(&[("RABT_OPS_LISTEN", "console")])).unwrap_err();
    assert!(format!("{err:#}").contains("api.ops_listen"), "{err:#}");
}

#[test]
fn no_database_is_configured_by_default_and_asking_for_one_says_how() {
    let config = Config::from_sources(None, &[]).unwrap();
    let error = config.database().unwrap_err().to_string();
    assert!(error.contains("RABT_DATABASE_URL"), "{error}");
    let sqlite =
        Config::from_sources(None, &env(&[("RABT_DATABASE_URL", "sqlite://x.db")])).unwrap();
    assert_eq!(sqlite.database().unwrap(), "sqlite://x.db");
}

#[test]
fn the_key_cache_is_short_by_default_and_bounded() {
    let config = Config::from_sources(None, &[]).unwrap();
    assert_eq!(config.key_cache_ttl, Duration::from_secs(5));
    let off = Config::from_sources(Some("[api]\nkey_cache_ttl_ms = 0\n"), &[]).unwrap();
    assert_eq!(off.key_cache_ttl, Duration::ZERO);
    let err = Config::from_sources(Some("[api]\nkey_cache_ttl_ms = 300001\n"), &[]).unwrap_err();
    assert!(
        format!("{err:#}").contains("api.key_cache_ttl_ms"),
        "{err:#}"
    );
}
