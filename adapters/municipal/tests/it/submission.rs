//! The submission's errors end to end over a real socket: a scripted Balady answers each
//! status, and the adapter must classify it as the crate's docs say; and what the
//! adapter sends on the wire.

use crate::support;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use rabt_adapter::{AdapterError, Answer};
use rabt_adapter_municipal::LICENSE_VERIFY;
use rabt_core::{Outcome, TaskId};
use rabt_sandbox::conformance::{call_once, call_traced};
use rabt_sandbox::simulator::spawn;
use serde_json::{Value, json};

const PATH: &str = "/api/v1/licenses/verification-requests";

fn balady_error(code: &str) -> Value {
    json!({"errorCode": code, "errorMessageAr": "خطأ", "errorMessageEn": "Error."})
}

/// Submits to a Balady that always answers `status` with `body` (and `Retry-After: 4`).
async fn submit_against(status: u16, body: Value) -> Result<Answer, AdapterError> {
    let app = Router::new().route(
        PATH,
        post(move || {
            let body = body.clone();
            async move {
                (
                    StatusCode::from_u16(status).unwrap(),
                    [(header::RETRY_AFTER, "4")],
                    axum::Json(body),
                )
                    .into_response()
            }
        }),
    );
    let (addr, _server) = spawn(app).await.unwrap();
    let adapter = support::adapter(&format!("http://{addr}"), support::KEY);
    let input = json!({"licenseNumber": "4000012345"});
    call_once(&adapter, LICENSE_VERIFY, TaskId::new(), &input).await
}

#[tokio::test]
async fn submission_errors_are_classified() {
    for (status, code, expected) in [
        (400, "INVALID_LICENSE_NUMBER", Outcome::InvalidInput),
        (401, "UNAUTHORIZED", Outcome::UpstreamError),
        (403, "FORBIDDEN", Outcome::UpstreamError),
        (404, "NOT_FOUND", Outcome::UpstreamError),
        (409, "DUPLICATE_REQUEST_ID", Outcome::UpstreamError),
    ] {
        let err = submit_against(status, balady_error(code))
            .await
            .unwrap_err();
        match &err {
            AdapterError::Refused { outcome, reason } => {
                assert_eq!(*outcome, expected, "{status}");
                assert!(reason.contains(code), "{status}: {reason}");
            }
            other => panic!("{status}: {other:?}"),
        }
        assert!(!err.is_retryable(), "{status}");
    }
    for status in [429, 500, 502, 503, 504] {
        let err = submit_against(status, balady_error("BUSY"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{status}: {err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(4)), "{status}");
    }
}

#[tokio::test]
async fn an_acceptance_without_a_usable_reference_is_malformed() {
    for body in [
        json!({"reference": "no spaces allowed", "status": "PENDING_INSPECTION",
               "receivedAt": "2024-07-07T12:30:00+03:00"}),
        json!({"status": "PENDING_INSPECTION"}),
        json!([]),
    ] {
        let err = submit_against(202, body.clone()).await.unwrap_err();
        assert!(matches!(err, AdapterError::Malformed(_)), "{body}: {err:?}");
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn the_adapter_sends_key_task_id_trace_and_the_golden_body() {
    let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
    let log = seen.clone();
    let app = Router::new().route(
        PATH,
        post(
            move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push((headers, body));
                    let path = format!(
                        "{}/tests/fixtures/wire/acceptance.json",
                        env!("CARGO_MANIFEST_DIR")
                    );
                    let accepted: Value =
                        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                    (StatusCode::ACCEPTED, axum::Json(accepted))
                }
            },
        ),
    );
    let (addr, _server) = spawn(app).await.unwrap();
    let adapter = support::adapter(&format!("http://{addr}"), support::KEY);
    let input = json!({"licenseNumber": "4000012345", "unifiedNumber": "7000000001"});
    let task = TaskId::new();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let answer = call_traced(&adapter, LICENSE_VERIFY, task, &input, Some(traceparent))
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::Submitted {
            upstream_ref: "BLD-7F3A9C2104".to_owned()
        }
    );
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["x-api-key"], support::KEY);
    assert_eq!(
        headers["x-request-id"],
        HeaderValue::from_str(&task.to_string()).unwrap()
    );
    assert_eq!(headers["traceparent"], traceparent);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let path = format!(
        "{}/tests/fixtures/wire/verification-request.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(*body, golden);
}
