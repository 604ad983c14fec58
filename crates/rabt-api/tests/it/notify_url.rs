//! `notify_url` at accept time: the SSRF rules refuse restricted IP literals, local
//! names and plain http with a 422 at `/notify_url`, writing nothing, unless the
//! deployment allows private targets.

use axum::http::StatusCode;
use rabt_api::ApiSettings;
use serde_json::json;

use crate::harness::{Harness, pointers, problem_type};

fn body(notify_url: &str) -> serde_json::Value {
    json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "notify_url": notify_url})
}

#[tokio::test]
async fn restricted_notify_urls_are_refused_and_nothing_is_written() {
    let h = Harness::new().await;
    let refused = [
        "https://127.0.0.1/hook",
        "https://2130706433/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "https://localhost:8443/hook",
        "https://metadata.google.internal/computeMetadata/v1/",
        "http://erp.example.sa/hook",
    ];
    for (n, url) in refused.iter().enumerate() {
        let reply = h.post(&format!("ssrf-{n}"), &body(url)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            reply.body
        );
        assert_eq!(problem_type(&reply), "validation-failed", "{url}");
        assert_eq!(pointers(&reply), vec!["/notify_url"], "{url}");
    }
    let reply = h
        .post("ssrf-detail", &body("https://10.9.8.7/x?token=s3cr3t"))
        .await;
    let text = reply.body.to_string();
    assert!(text.contains("10.9.8.7 is a private address"), "{text}");
    assert!(
        !text.contains("s3cr3t"),
        "the URL's query is not echoed: {text}"
    );
    assert_eq!(h.stored_requests().await, 0, "a refused request was stored");
    assert_eq!(h.audit_entries().await, 0, "a refused request was audited");

    let reply = h
        .post("public", &body("https://erp.example.sa/hooks/rabt"))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

#[tokio::test]
async fn a_deployment_allowing_private_targets_accepts_them() {
    let settings = ApiSettings {
        allow_private_notify_targets: true,
        ..ApiSettings::default()
    };
    let h = Harness::with(&["post.address.verify"], settings).await;
    let reply = h.post("local", &body("http://127.0.0.1:9000/hook")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let reply = h.post("not-http", &body("gopher://127.0.0.1/hook")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}
