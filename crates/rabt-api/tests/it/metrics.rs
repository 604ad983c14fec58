//! `GET /metrics`. The figures are the process's, shared with every other test of this
//! binary running at the same time: each check compares before and after, and asks
//! only for an increase it caused.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::harness::Harness;

async fn scrape(h: &Harness) -> String {
    let response = h
        .ops_app()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the sample whose name and labels are exactly `key`; 0 when absent.
fn sample(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn accepted_requests_and_answers_by_route_are_counted() {
    let h = Harness::new().await;
    let accepted = r#"rabt_requests_accepted_total{service="post.address.verify"}"#;
    let posts = r#"rabt_http_requests_total{method="POST",route="/v1/requests",status="202"}"#;
    let reads = r#"rabt_http_requests_total{method="GET",route="/v1/requests/{id}",status="200"}"#;
    let before = scrape(&h).await;

    let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let reply = h.post("metrics-1", &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.get(&format!("/v1/requests/{id}")).await.status,
        StatusCode::OK
    );

    let after = scrape(&h).await;
    assert!(
        sample(&after, accepted) > sample(&before, accepted),
        "{after}"
    );
    assert!(sample(&after, posts) > sample(&before, posts), "{after}");
    assert!(sample(&after, reads) > sample(&before, reads), "{after}");
    // Routes are templates: an id never becomes a label.
    assert!(!after.contains(&id), "{after}");
    assert!(after.contains("# TYPE rabt_http_request_duration_seconds histogram"));
}

#[tokio::test]
async fn queue_depths_are_measured_at_scrape_time() {
    let h = Harness::new().await;
    let text = scrape(&h).await;
    for queue in [
        "rabt.tasks.saudi-post",
        "rabt.dead.saudi-post",
        "rabt.tasks.labor",
    ] {
        let key = format!("rabt_queue_depth{{queue=\"{queue}\"}}");
        assert!(
            text.lines().any(|line| line.starts_with(&key)),
            "{key} missing from\n{text}"
        );
    }
}

/// Scrapes are unauthenticated: each used to open a broker channel. Depths are now
/// measured at most every five seconds, whatever the scrapes.
#[tokio::test]
async fn queue_depths_are_cached_between_scrapes() {
    let h = Harness::new().await;
    let key = "rabt_queue_depth{queue=\"rabt.tasks.saudi-post\"}";
    let first = sample(&scrape(&h).await, key);
    let message = rabt_queue::OutgoingMessage {
        exchange: rabt_queue::TASKS_EXCHANGE.to_owned(),
        routing_key: "saudi-post".to_owned(),
        message_id: "depth-test".to_owned(),
        body: b"{}".to_vec(),
        headers: Vec::new(),
    };
    h.transport
        .publish(&[message.clone(), message.clone(), message])
        .await
        .unwrap();
    assert_eq!(
        h.transport
            .depth(rabt_core::Agency::SaudiPost)
            .await
            .unwrap()
            .ready,
        3
    );
    for _ in 0..20 {
        assert_eq!(
            sample(&scrape(&h).await, key),
            first,
            "measured again within 5 s"
        );
    }
}

#[tokio::test]
async fn operators_surfaces_are_only_on_their_own_listener() {
    let h = Harness::new().await;
    for uri in ["/metrics", "/ops/v1/dead-letters"] {
        let response = h
            .app()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
    }
    for uri in ["/v1/services", "/openapi.json", "/healthz"] {
        let response = h
            .ops_app()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
    }
    // Configured equal: one router has both.
    for uri in ["/metrics", "/healthz"] {
        let response = rabt_api::combined_app(h.state.clone())
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
    }
}
