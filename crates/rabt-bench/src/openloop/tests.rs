//! The generator against a small local server: every scheduled request is sent, answered
//! and counted, end-to-end answers are read for their verdict, and a `202` is polled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::*;

/// A stand-in for `POST /v1/requests`: `202` for the accept path; with `Prefer: wait`,
/// every other request answers `200` with its verdict and the others `202` with a
/// `Location` whose `GET` answers the verdict.
async fn serve() -> (String, Arc<AtomicU64>) {
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let create = move |headers: HeaderMap| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        async move {
            assert!(headers.contains_key("idempotency-key"));
            if !headers.contains_key("prefer") {
                return (StatusCode::ACCEPTED, "{\"id\":\"req_1\"}").into_response();
            }
            if n.is_multiple_of(2) {
                (
                    StatusCode::OK,
                    "{\"status\":\"COMPLETED\",\"verdict\":\"PASS\"}",
                )
                    .into_response()
            } else {
                (
                    StatusCode::ACCEPTED,
                    [("location", "/v1/requests/req_1")],
                    "{}",
                )
                    .into_response()
            }
        }
    };
    let app = Router::new().route("/v1/requests", post(create)).route(
        "/v1/requests/req_1",
        get(|| async { "{\"status\":\"COMPLETED\",\"verdict\":\"PASS\"}" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/v1/requests"), seen)
}

fn plan(url: String, mode: Mode) -> Plan {
    Plan {
        url,
        api_key: "rabt_test".to_owned(),
        body: Bytes::from_static(b"{}"),
        rate: 200.0,
        duration: Duration::from_millis(250),
        warmup: Duration::from_millis(50),
        mode,
        max_in_flight: 100,
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn every_scheduled_request_is_sent_and_counted() {
    let (url, seen) = serve().await;
    let result = run(&plan(url, Mode::Accept), &[]).await.unwrap();
    assert_eq!(result.scheduled, 50, "250 ms at 200/s");
    assert_eq!(result.ok, 50, "{:?}", result.errors);
    assert!(result.errors.is_empty());
    assert_eq!(
        seen.load(Ordering::Relaxed),
        60,
        "50 measured and 10 warm-up requests"
    );
    assert_eq!(result.latency.count, 50);
    assert!(!result.overloaded);
    assert!(result.usage.groups.iter().any(|g| g.name == "loadgen"));
}

#[tokio::test]
async fn end_to_end_reads_verdicts_and_polls_what_is_not_done() {
    let (url, _) = serve().await;
    let result = run(&plan(url, Mode::EndToEnd { wait_s: 5 }), &[])
        .await
        .unwrap();
    assert_eq!(result.ok, 50, "{:?}", result.errors);
    assert_eq!(result.verdicts.get("PASS"), Some(&50));
    assert!(result.polled > 0 && result.polled < 50, "{}", result.polled);
}

#[tokio::test]
async fn a_server_that_refuses_is_counted_by_status() {
    let app = Router::new().route("/v1/requests", post(|| async { StatusCode::UNAUTHORIZED }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let result = run(
        &plan(format!("http://{address}/v1/requests"), Mode::Accept),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(result.ok, 0);
    assert_eq!(result.errors.get("HTTP 401"), Some(&50));
}
