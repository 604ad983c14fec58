//! The README's Production path with the sandbox agencies: `rabt simulate` needs no
//! credentials (it is a sandbox), and what `rabt simulate --print-env` prints is all
//! `rabt serve` needs to call it — keys, OAuth2 and Yakeen credentials, the chambers
//! client certificate, the callback secrets — shown by a composite that uses five
//! agencies, municipal's signed callback and chambers' mutual TLS included.

use std::time::Duration;

use rabt_test_support::{TempDatabase, TempDir, TempVhost};
use rabt_tests::{Client, Rabt, free_base_port, free_port, run_rabt};
use serde_json::json;

/// `export NAME='value'` lines as pairs; anything else is a failure.
fn exports(printed: &str) -> Vec<(String, String)> {
    printed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let rest = line
                .strip_prefix("export ")
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            let (name, value) = rest.split_once('=').unwrap();
            let value = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''));
            (name.to_owned(), value.unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_printed_sandbox_environment_is_all_serve_needs() {
    let dir = TempDir::create("rabt-sandbox-").unwrap();
    let database = TempDatabase::create("rabt_sandbox_").await.unwrap();
    let vhost = TempVhost::create("rabt-sandbox-").await.unwrap();
    let (base, api_port) = (free_base_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let pki = dir.path().join("pki").display().to_string();
    let simulate = [
        ("RABT_SIMULATE_PKI_DIR", pki.as_str()),
        ("RABT_SIMULATE_CALLBACK_URL", api.as_str()),
    ];
    let base_arg = base.to_string();
    let printed = run_rabt(
        &["simulate", "--listen-base", &base_arg, "--print-env"],
        &simulate,
    )
    .unwrap();
    let printed = exports(&printed);
    let names: Vec<&str> = printed.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "RABT_AGENCY_INTERIOR_URL",
        "RABT_AGENCY_INTERIOR_PASSWORD",
        "RABT_AGENCY_LABOR_CLIENT_SECRET",
        "RABT_AGENCY_SAUDI_POST_API_KEY",
        "RABT_AGENCY_MUNICIPAL_CALLBACK_SECRETS",
        "RABT_AGENCY_HEALTH_CALLBACK_SECRETS",
        "RABT_AGENCY_CHAMBERS_CLIENT_CERT_FILE",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"RABT_AGENCY_LABOR_API_KEY"),
        "labor signs in with OAuth2, not an API key"
    );

    // The simulators get no credential at all: they take the sandbox's.
    let _simulators = Rabt::spawn(
        "simulate",
        &["simulate", "--listen-base", &base_arg],
        &simulate,
        dir.path(),
    )
    .unwrap();

    let listen = format!("127.0.0.1:{api_port}");
    let mut env: Vec<(&str, &str)> = printed
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    env.extend([
        ("RABT_DATABASE_URL", database.url.as_str()),
        ("RABT_AMQP_URL", vhost.amqp_url.as_str()),
        ("RABT_LISTEN", listen.as_str()),
        // Set by the operator beside the database, as the README's step 3 does: the
        // simulators have no say in the deployment's personal-data key.
        ("RABT_PII_KEY", "the-sandbox-deployments-personal-data-key"),
    ]);
    run_rabt(&["migrate"], &env).unwrap();
    let added = run_rabt(
        &[
            "coop",
            "add",
            "--name",
            "Sandbox Cooperative",
            "--unified-number",
            "7000000001",
            "--services",
            "cooperative.establishment.check",
        ],
        &env,
    )
    .unwrap();
    let key = added
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .map(str::trim)
        .expect("coop add prints the key")
        .to_owned();
    let mut api_process =
        Rabt::spawn("api", &["serve", "--role", "api"], &env, dir.path()).unwrap();
    let worker = Rabt::spawn("worker", &["serve", "--role", "worker"], &env, dir.path()).unwrap();
    let client = Client::new(&api, &key);
    client
        .ready(&mut api_process, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    let board = json!([
        {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
        {"idNumber": "1000000016", "birthDate": {"calendar": "hijri", "year": 1392, "month": 11}},
        {"idNumber": "1000000024", "birthDate": {"calendar": "hijri", "year": 1405, "month": 2}},
        {"idNumber": "1000000032", "birthDate": {"calendar": "hijri", "year": 1398, "month": 9}},
    ]);
    let (status, accepted) = client
        .submit(
            &json!({"service": "cooperative.establishment.check",
                    "input": {"unifiedNumber": "7000000001", "board": board}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{accepted}");
    let done = client
        .completed(accepted["id"].as_str().unwrap(), Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\nworker log:\n{}", worker.tail(40)));
    assert_eq!(
        done["verdict"], "PASS",
        "every check answered with the printed credentials: {done:#}"
    );
}
