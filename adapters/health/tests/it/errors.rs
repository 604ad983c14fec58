//! How submissions fail, over real sockets: the ministry's refusals and failures, batch
//! limits, and callbacks Rabt refuses because their signature is wrong.

use crate::support;
use std::time::Duration;

use crate::support::{KEY, Ministry, adapter, fake_rabt, fixture, verify};
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use rabt_adapter::AdapterError;
use rabt_core::{Agency, Outcome, TaskId};
use rabt_sandbox::callback::{CallbackSender, CallbackTarget};
use rabt_sandbox::conformance::numbered_national_ids;
use rabt_sandbox::simulator::{Fault, Knobs, KnobsHandle, spawn};
use rabt_sandbox::webhook;
use rabt_sandbox::world::cases;
use serde_json::{Value, json};

fn food_batch() -> Value {
    json!({"establishmentLicenseNumber": cases::FOOD_LICENCE,
           "idNumbers": [cases::WORKER_VALID_CITIZEN]})
}

/// The error of a call the ministry failed, which must be `Unavailable` and retryable.
#[track_caller]
fn unavailable(result: Result<rabt_adapter::Answer, AdapterError>) -> AdapterError {
    let err = result.unwrap_err();
    assert!(
        matches!(err, AdapterError::Unavailable { .. }) && err.is_retryable(),
        "{err:?}"
    );
    err
}

fn is_refused(result: &Result<rabt_adapter::Answer, AdapterError>, expected: Outcome) -> bool {
    matches!(result, Err(err @ AdapterError::Refused { outcome, .. })
        if *outcome == expected && !err.is_retryable())
}

/// A ministry that answers every batch with `status` and `body`.
async fn answering(
    status: StatusCode,
    body: Value,
) -> (String, rabt_sandbox::simulator::ShutdownHandle) {
    let app = Router::new().route(
        "/api/v1/health-certificates/batches",
        post(move || {
            let body = body.clone();
            async move {
                let mut response = (status, axum::Json(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
                response
            }
        }),
    );
    let (addr, server) = spawn(app).await.unwrap();
    (format!("http://{addr}"), server)
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_not_retried() {
    let ministry = Ministry::start().await;
    let wrong = adapter(&ministry.base, "not-the-key");
    let result = verify(&wrong, TaskId::new(), &food_batch()).await;
    assert!(is_refused(&result, Outcome::UpstreamError), "{result:?}");
    assert!(!format!("{result:?}").contains("not-the-key"));
}

#[tokio::test]
async fn access_denied_is_refused_and_not_retried() {
    let denied =
        json!({"code": "ACCESS_DENIED", "messageEn": "Not allowed.", "messageAr": "غير مسموح."});
    let (base, _server) = answering(StatusCode::FORBIDDEN, denied).await;
    let result = verify(&adapter(&base, KEY), TaskId::new(), &food_batch()).await;
    assert!(is_refused(&result, Outcome::UpstreamError), "{result:?}");
    assert!(result.unwrap_err().to_string().contains("ACCESS_DENIED"));
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_after_the_ministrys_hint() {
    let ministry = Ministry::start_with(Knobs {
        fault: Fault::RateLimit { retry_after: 9 },
        ..Knobs::default()
    })
    .await;
    let err = unavailable(verify(&ministry.adapter, TaskId::new(), &food_batch()).await);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(9)));

    ministry.knobs.set(Knobs {
        fault: Fault::ServerError,
        ..Knobs::default()
    });
    unavailable(verify(&ministry.adapter, TaskId::new(), &food_batch()).await);

    let failing =
        json!({"code": "SERVICE_UNAVAILABLE", "messageEn": "Down.", "messageAr": "متوقفة."});
    let (base, _server) = answering(StatusCode::SERVICE_UNAVAILABLE, failing).await;
    let err = verify(&adapter(&base, KEY), TaskId::new(), &food_batch())
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
}

#[tokio::test]
async fn a_batch_beyond_the_limit_is_refused_before_any_call() {
    let ministry = Ministry::start().await;
    let ids = numbered_national_ids(rabt_adapter_health::MAX_WORKERS + 1);
    let over = json!({"establishmentLicenseNumber": cases::FOOD_LICENCE, "idNumbers": ids});
    let result = verify(&ministry.adapter, TaskId::new(), &over).await;
    assert!(is_refused(&result, Outcome::InvalidInput), "{result:?}");
    assert_eq!(ministry.knobs.stats().calls, 0);

    let full = json!({"establishmentLicenseNumber": cases::FOOD_LICENCE,
                      "idNumbers": ids[..rabt_adapter_health::MAX_WORKERS]});
    support::submitted(verify(&ministry.adapter, TaskId::new(), &full).await);
}

#[tokio::test]
async fn the_ministrys_own_refusal_of_a_batch_is_invalid_input() {
    let (base, _server) = answering(
        StatusCode::BAD_REQUEST,
        fixture("error-400-batch-too-large.json"),
    )
    .await;
    let result = verify(&adapter(&base, KEY), TaskId::new(), &food_batch()).await;
    assert!(is_refused(&result, Outcome::InvalidInput), "{result:?}");
    assert!(result.unwrap_err().to_string().contains("BATCH_TOO_LARGE"));
}

#[tokio::test]
async fn a_wrong_base_path_is_refused_as_a_configuration_problem() {
    let ministry = Ministry::start().await;
    let misplaced = adapter(&format!("{}/elsewhere", ministry.base), KEY);
    let result = verify(&misplaced, TaskId::new(), &food_batch()).await;
    assert!(is_refused(&result, Outcome::UpstreamError), "{result:?}");
}

#[tokio::test]
async fn an_acceptance_of_another_batch_is_malformed() {
    let mut other = fixture("batch-accepted.json");
    other["workersCount"] = json!(1);
    other["establishmentLicenseNumber"] = json!("4000099999");
    let (base, _server) = answering(StatusCode::ACCEPTED, other).await;
    let result = verify(&adapter(&base, KEY), TaskId::new(), &food_batch()).await;
    assert!(
        matches!(result, Err(AdapterError::Malformed(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn rabt_refuses_a_callback_signed_with_another_secret() {
    let rabt = fake_rabt().await;
    let body = fixture("callback-4000067890.json");
    let forger = CallbackSender::new(
        Agency::Health,
        CallbackTarget {
            base_url: rabt.target().base_url,
            secrets: vec![webhook::Secret::generate()],
        },
        KnobsHandle::new(),
    );
    assert!(
        !forger.deliver(&body).await,
        "a forged callback was accepted"
    );
    assert!(rabt.sender(&KnobsHandle::new()).deliver(&body).await);
    assert_eq!(rabt.received().len(), 1);
}
