//! `cooperative.establishment.check` through `rabt serve` on RabbitMQ and PostgreSQL, all
//! six agency simulators behind it (municipal answering by signed callback, chambers over
//! mutual TLS): PASS for the golden cooperative, FAIL naming the expired licence, and
//! PARTIAL when the municipality never calls back.

use std::time::Duration;

use rabt_tests::Deployment;
use serde_json::{Value, json};

/// The golden board of the fixed cooperatives (docs/sandbox.md).
fn board() -> Value {
    json!([
        {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
        {"idNumber": "1000000016", "birthDate": {"calendar": "hijri", "year": 1392, "month": 11}},
        {"idNumber": "1000000024", "birthDate": {"calendar": "hijri", "year": 1405, "month": 2}},
        {"idNumber": "1000000032", "birthDate": {"calendar": "hijri", "year": 1398, "month": 9}},
    ])
}

async fn check(deployment: &Deployment, unified: &str) -> Value {
    let body = json!({"service": "cooperative.establishment.check", "input": {"unifiedNumber": unified, "board": board()}});
    let (status, accepted) = deployment.client.submit(&body, None).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    deployment
        .client
        .completed(&id, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\nworker log:\n{}", deployment.workers[0].tail(40)))
}

/// Each check as (check, index, outcome).
fn outcomes(done: &Value) -> Vec<(String, Option<u64>, String)> {
    done["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["index"].as_u64(),
                c["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

const CHECKS: [&str; 6] = [
    "registry",
    "boardIdentity",
    "hqAddress",
    "municipalLicense",
    "chamberMembership",
    "laborCompliance",
];

#[tokio::test]
async fn the_golden_cooperative_passes_and_the_expired_licence_fails() {
    let deployment = Deployment::start(1, "cooperative.establishment.check")
        .await
        .unwrap();

    let passed = check(&deployment, "7000000001").await;
    assert_eq!(passed["verdict"], "PASS", "{passed}");
    let checks = outcomes(&passed);
    assert_eq!(
        checks.len(),
        9,
        "registry, four board members, four more checks: {checks:?}"
    );
    assert!(
        checks.iter().all(|(_, _, outcome)| outcome == "OK"),
        "{checks:?}"
    );
    for name in CHECKS {
        assert!(
            checks.iter().any(|(check, _, _)| check == name),
            "{name} missing"
        );
    }
    let indices: Vec<u64> = checks
        .iter()
        .filter(|c| c.0 == "boardIdentity")
        .filter_map(|c| c.1)
        .collect();
    assert_eq!(indices, vec![0, 1, 2, 3]);
    // The composite's output, with every child's data and timing.
    assert_eq!(passed["data"]["verdict"], "PASS");
    let licence = passed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "municipalLicense")
        .unwrap();
    assert_eq!(licence["data"]["status"], "ACTIVE");
    assert!(
        licence["upstreamRef"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "the municipality's reference"
    );
    assert!(
        licence["completedAt"].is_string() && licence["latencyMs"].is_i64(),
        "{licence}"
    );

    let failed = check(&deployment, "7000000002").await;
    assert_eq!(failed["verdict"], "FAIL", "{failed}");
    let failing: Vec<(String, Option<u64>, String)> = outcomes(&failed)
        .into_iter()
        .filter(|c| c.2 != "OK")
        .collect();
    assert_eq!(
        failing,
        vec![("municipalLicense".to_owned(), None, "MISMATCH".to_owned())]
    );
    let licence = failed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "municipalLicense")
        .unwrap();
    assert_eq!(licence["data"]["status"], "EXPIRED");
}

#[tokio::test]
async fn a_municipality_that_never_calls_back_leaves_the_check_partial_at_its_deadline() {
    let config = "[deadlines]\n\"cooperative.establishment.check/municipalLicense\" = 6000\n";
    let deployment = Deployment::start_with(1, "cooperative.establishment.check", Some(config))
        .await
        .unwrap();
    deployment
        .set_agency_knobs("municipal", json!({"never_call_back": true}))
        .await
        .unwrap();

    let partial = check(&deployment, "7000000001").await;
    assert_eq!(partial["verdict"], "PARTIAL", "{partial}");
    let not_ok: Vec<(String, Option<u64>, String)> = outcomes(&partial)
        .into_iter()
        .filter(|c| c.2 != "OK")
        .collect();
    assert_eq!(
        not_ok,
        vec![("municipalLicense".to_owned(), None, "TIMEOUT".to_owned())]
    );
}
