//! The sealed audit log end to end: `rabt serve` processes seal it, a cooperative checks
//! its evidence with independent code, an attacker with the database's keys tampers
//! with it and `rabt audit verify` names the entry; several processes write at once and
//! every entry is sealed once, in order; no person's data reaches a log, a stored
//! error, the audit log or the metrics.

mod concurrency;
mod drill;

use std::time::Duration;

use rabt_tests::{Client, Deployment};
use serde_json::Value;
use sqlx::{AnyPool, Row};

/// Submits `body` and waits for its completion; the request's id.
async fn completed(client: &Client, body: &Value) -> String {
    let (status, reply) = client.submit(body, Some(20)).await.unwrap();
    assert!(matches!(status, 200 | 202), "{status}: {reply}");
    let id = reply["id"].as_str().unwrap().to_owned();
    client
        .completed(&id, Duration::from_secs(120))
        .await
        .unwrap();
    id
}

/// A request's evidence, waiting for every entry to be sealed.
async fn evidence(client: &Client, id: &str) -> Value {
    let response = client
        .http()
        .get(format!("{}/v1/requests/{id}/evidence", client.base_url))
        .bearer_auth(client.api_key())
        .header("Prefer", "wait=20")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A pool on the deployment's database, as its superuser.
async fn database(deployment: &Deployment) -> AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&deployment.wiring.database_url)
        .await
        .unwrap()
}

/// The seqs of `table`, in order.
async fn seqs(pool: &AnyPool, sql: &str) -> Vec<i64> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("seq").unwrap())
        .collect()
}

/// Waits until every committed entry is sealed (gaps aside) and returns the sealed
/// seqs, in leaf order.
async fn all_sealed(pool: &AnyPool) -> Vec<i64> {
    rabt_test_support::must::eventually("every audit entry sealed", || async {
        let sealed = seqs(pool, "SELECT seq FROM audit_leaves ORDER BY leaf_index").await;
        let committed = seqs(pool, "SELECT seq FROM audit_log ORDER BY seq").await;
        (sealed == committed).then_some(sealed)
    })
    .await
}

/// docs/api.md gives cooperatives the very script the drill runs.
#[test]
fn the_api_guide_carries_the_verification_script_verbatim() {
    let guide = include_str!("../../../docs/api.md");
    let script = include_str!("../../../docs/verify_evidence.py");
    assert!(
        guide.contains(script),
        "docs/api.md must embed docs/verify_evidence.py as it is"
    );
}
