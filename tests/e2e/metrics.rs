//! `/metrics` of `rabt serve` on PostgreSQL and RabbitMQ: the api process counts what it
//! accepted and measures the broker's queues; a worker-only process serves its own
//! figures on `worker.metrics_listen` (agency calls, retries, its circuit breakers).
//! Each process is fresh, so its figures are exact.

use std::time::Duration;

use rabt_test_support::eventually;
use rabt_tests::{Deployment, free_port};
use serde_json::json;

/// The value of the sample whose name and labels are exactly `key`; 0 when absent.
fn sample(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}

#[tokio::test]
async fn api_and_worker_processes_serve_their_figures() {
    let port = free_port();
    let config = format!("[worker]\nmetrics_listen = \"127.0.0.1:{port}\"\n");
    let deployment = Deployment::start_with(1, "post.address.verify", Some(&config))
        .await
        .unwrap();
    let client = &deployment.client;
    let api = format!("{}/metrics", deployment.wiring.ops_url());
    let worker = format!("http://127.0.0.1:{port}/metrics");
    let calls = |outcome: &str| {
        format!(
            r#"rabt_agency_calls_total{{agency="saudi-post",service="post.address.verify",outcome="{outcome}"}}"#
        )
    };
    let circuit = r#"rabt_circuit_state{agency="saudi-post"}"#;

    let address = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let (status, body) = client.submit(&address, Some(10)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let figures = scrape(&worker).await;
    assert_eq!(sample(&figures, &calls("OK")), 1.0, "{figures}");
    assert_eq!(
        sample(
            &figures,
            r#"rabt_tasks_finished_total{agency="saudi-post",service="post.address.verify",outcome="OK"}"#
        ),
        1.0
    );

    // Saudi Post fails every call: the worker retries, and its breaker opens.
    deployment
        .set_knobs(json!({"error_rate": 1.0}))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..6 {
        let (status, body) = client.submit(&address, None).await.unwrap();
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    let retries = r#"rabt_task_retries_total{agency="saudi-post",service="post.address.verify"}"#;
    // The breaker opens as the fifth failure is counted, and that task's retry is
    // counted once it is scheduled in the database, a moment later: wait for both.
    let opened = eventually(Duration::from_secs(60), "the circuit to open", || async {
        let figures = scrape(&worker).await;
        (sample(&figures, circuit) == 2.0 && sample(&figures, retries) >= 5.0).then_some(figures)
    })
    .await
    .unwrap();
    assert!(sample(&opened, &calls("unavailable")) >= 5.0, "{opened}");
    assert!(sample(&opened, retries) >= 5.0, "{opened}");

    // Healthy again: the probe closes the circuit and every waiting task completes.
    deployment
        .set_knobs(json!({"error_rate": 0.0}))
        .await
        .unwrap();
    for id in &ids {
        let done = client.completed(id, Duration::from_secs(90)).await.unwrap();
        assert_eq!(done["outcome"], "OK", "{done}");
    }
    let figures = scrape(&worker).await;
    assert_eq!(sample(&figures, circuit), 0.0, "{figures}");
    assert_eq!(sample(&figures, &calls("OK")), 7.0, "{figures}");

    let figures = scrape(&api).await;
    // Not on the public listener.
    let public = reqwest::get(format!("{}/metrics", client.base_url))
        .await
        .unwrap();
    assert_eq!(public.status().as_u16(), 404);
    assert_eq!(
        sample(
            &figures,
            r#"rabt_requests_accepted_total{service="post.address.verify"}"#
        ),
        7.0,
        "{figures}"
    );
    assert!(
        figures
            .lines()
            .any(|l| l.starts_with(r#"rabt_queue_depth{queue="rabt.tasks.saudi-post"}"#)),
        "{figures}"
    );
}
