//! Graceful shutdown of a worker (`rabt serve --role worker`, PostgreSQL + RabbitMQ):
//! SIGTERM stops taking work and lets calls in flight finish within `shutdown.grace_ms`;
//! a call longer than the grace is abandoned unacknowledged, and the next worker runs it
//! again. Either way every request completes once.

use std::time::{Duration, Instant};

use rabt_test_support::eventually;
use rabt_tests::Deployment;
use serde_json::json;
use sqlx::{PgPool, Row};

/// How many times each task of `requests` was completed, per the audit log.
async fn completions(db: &PgPool, request: &str) -> i64 {
    sqlx::query(
        "SELECT count(*) FROM audit_log WHERE action = 'task.completed' AND request_id = $1",
    )
    .bind(request)
    .fetch_one(db)
    .await
    .unwrap()
    .get::<i64, _>(0)
}

async fn attempts(db: &PgPool, request: &str) -> i64 {
    sqlx::query("SELECT attempts FROM tasks WHERE request_id = $1")
        .bind(request)
        .fetch_one(db)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// Submits one address check and waits until Saudi Post's simulator has its call.
async fn submit_and_wait_for_the_call(deployment: &Deployment) -> String {
    let calls_before = deployment.simulator_stats().await.unwrap()["calls"]
        .as_u64()
        .unwrap();
    let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let (status, body) = deployment.client.submit(&body, None).await.unwrap();
    assert_eq!(status, 202, "{body}");
    eventually(Duration::from_secs(30), "the agency call", || async {
        let stats = deployment.simulator_stats().await.ok()?;
        (stats["calls"].as_u64()? > calls_before).then_some(())
    })
    .await
    .unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sigterm_lets_a_call_in_flight_finish_within_the_grace() {
    let config = "[shutdown]\ngrace_ms = 10000\n";
    let mut deployment = Deployment::start_with(1, "post.address.verify", Some(config))
        .await
        .unwrap();
    deployment
        .set_knobs(json!({"latency_ms": 1500}))
        .await
        .unwrap();
    let db = PgPool::connect(&deployment.wiring.database_url)
        .await
        .unwrap();
    let id = submit_and_wait_for_the_call(&deployment).await;

    let clean = deployment.workers[0]
        .terminate(Duration::from_secs(20))
        .unwrap();
    assert!(clean, "the worker did not exit cleanly");
    // The call it was making finished before it exited: nothing is left to redo.
    let (status, body) = deployment
        .client
        .get(&format!("/v1/requests/{id}"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["outcome"], "OK", "{body}");
    assert_eq!(attempts(&db, &id).await, 1);
    assert_eq!(completions(&db, &id).await, 1);
}

#[tokio::test]
async fn a_call_longer_than_the_grace_is_handed_back_and_run_once_by_the_next_worker() {
    let config = "[shutdown]\ngrace_ms = 1000\n";
    let mut deployment = Deployment::start_with(1, "post.address.verify", Some(config))
        .await
        .unwrap();
    deployment
        .set_knobs(json!({"latency_ms": 8000}))
        .await
        .unwrap();
    let db = PgPool::connect(&deployment.wiring.database_url)
        .await
        .unwrap();
    let id = submit_and_wait_for_the_call(&deployment).await;

    let asked = Instant::now();
    let clean = deployment.workers[0]
        .terminate(Duration::from_secs(6))
        .unwrap();
    assert!(
        clean,
        "the worker did not exit cleanly soon after its 1 s grace"
    );
    // It did not wait for the 8 s call.
    assert!(
        asked.elapsed() < Duration::from_secs(6),
        "{:?}",
        asked.elapsed()
    );
    let (_, body) = deployment
        .client
        .get(&format!("/v1/requests/{id}"))
        .await
        .unwrap();
    assert_ne!(body["status"], "COMPLETED", "{body}");

    deployment
        .set_knobs(json!({"latency_ms": 0}))
        .await
        .unwrap();
    let _next = deployment
        .wiring
        .spawn("worker-next", &["serve", "--role", "worker"])
        .unwrap();
    let done = deployment
        .client
        .completed(&id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(done["outcome"], "OK", "{done}");
    assert_eq!(
        attempts(&db, &id).await,
        2,
        "the abandoned call and the rerun"
    );
    assert_eq!(completions(&db, &id).await, 1);
}
