//! The spine's delivery promise: SIGKILL the worker while 1,000 requests are in
//! flight, start it again, and every accepted request completes exactly once.

use std::time::Duration;

use futures_util::StreamExt;
use rabt_test_support::eventually;
use rabt_tests::Deployment;
use serde_json::json;
use sqlx::{PgPool, Row};

const REQUESTS: usize = 1000;

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(db)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

#[tokio::test]
async fn killing_the_worker_loses_nothing_and_applies_nothing_twice() {
    // No worker yet: the 1,000 requests are accepted and wait in RabbitMQ. On a busy
    // machine working through them takes longer than the service's 30 s deadline, and
    // the last ones would end TIMEOUT (PARTIAL): the deadline working, not what this
    // test is about. So they get five minutes.
    let mut deployment = Deployment::start_with(
        0,
        "post.address.verify",
        Some("[deadlines]\n\"post.address.verify\" = 300000\n"),
    )
    .await
    .unwrap();
    deployment
        .set_knobs(json!({"latency_ms": 40}))
        .await
        .unwrap();
    let client = deployment.client.clone();
    let accepted: Vec<(usize, String)> = futures_util::stream::iter(0..REQUESTS)
        .map(|i| {
            let client = client.clone();
            async move {
                let short = if i % 2 == 0 { "RRRD2929" } else { "ZZZZ9999" };
                let body = json!({"service": "post.address.verify", "input": {"shortAddress": short}, "reference": format!("n-{i}")});
                let (status, body) = client.submit(&body, None).await.unwrap();
                assert_eq!(status, 202, "{body}");
                (i, body["id"].as_str().unwrap().to_owned())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(accepted.len(), REQUESTS);

    let db = PgPool::connect(&deployment.wiring.database_url)
        .await
        .unwrap();
    let completed_sql = "SELECT count(*) FROM requests WHERE status = 'COMPLETED'";
    let mut worker = deployment
        .wiring
        .spawn("worker-a", &["serve", "--role", "worker"])
        .unwrap();
    eventually(
        Duration::from_secs(120),
        "the first 100 completions",
        || {
            let db = db.clone();
            async move { (count(&db, completed_sql).await >= 100).then_some(()) }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.tail(30)));
    worker.kill();
    let at_kill = count(&db, completed_sql).await;
    println!("completed when the worker was killed: {at_kill} of {REQUESTS}");
    assert!(
        at_kill < REQUESTS as i64,
        "the kill came too late to test anything"
    );

    let restarted = deployment
        .wiring
        .spawn("worker-b", &["serve", "--role", "worker"])
        .unwrap();
    eventually(
        Duration::from_secs(240),
        "every request to complete",
        || {
            let db = db.clone();
            async move { (count(&db, completed_sql).await == REQUESTS as i64).then_some(()) }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", restarted.tail(30)));
    deployment.workers.push(restarted);

    // Exactly once: one completion per task and per request in the audit log, and each
    // request's verdict is the one its input calls for.
    let twice = count(&db, "SELECT count(*) FROM (SELECT task_id FROM audit_log WHERE action = 'task.completed' GROUP BY task_id HAVING count(*) > 1) AS d").await;
    assert_eq!(twice, 0, "a task's result was applied twice");
    let tasks_done = count(
        &db,
        "SELECT count(DISTINCT task_id) FROM audit_log WHERE action = 'task.completed'",
    )
    .await;
    assert_eq!(tasks_done, REQUESTS as i64);
    let requests_done = count(
        &db,
        "SELECT count(*) FROM audit_log WHERE action = 'request.completed'",
    )
    .await;
    assert_eq!(
        requests_done, REQUESTS as i64,
        "a request completed twice or never"
    );
    let wrong = count(
        &db,
        "SELECT count(*) FROM requests WHERE NOT ((verdict = 'PASS' AND CAST(substr(reference, 3) AS INTEGER) % 2 = 0) OR (verdict = 'FAIL' AND CAST(substr(reference, 3) AS INTEGER) % 2 = 1))",
    )
    .await;
    let verdicts: Vec<(Option<String>, i64)> =
        sqlx::query("SELECT verdict, count(*) FROM requests GROUP BY verdict")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    assert_eq!(wrong, 0, "a request got the wrong verdict: {verdicts:?}");

    let stats = deployment.simulator_stats().await.unwrap();
    println!("simulator after the drill: {stats}");
    let distinct = stats["distinct_request_ids"].as_u64().unwrap_or(0);
    assert_eq!(distinct, REQUESTS as u64, "every task reached the agency");
    // Each verification is two SPL calls (Arabic and English). Only deliveries the dead
    // worker held unacknowledged (at most its prefetch, 32) may have been called twice.
    let calls = stats["calls"].as_u64().unwrap_or(0);
    assert!(
        calls <= 2 * (REQUESTS as u64 + 32),
        "{calls} agency calls: more duplicates than in-flight deliveries"
    );
}
