//! The conformance kit against a toy agency: a careful adapter passes every check, and
//! a sloppy one fails exactly the checks it should. This is what lets an adapter's
//! green conformance run mean something.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::FutureExt;
use rabt_adapter::http::{
    HttpClientConfig, REQUEST_ID, Secret, build_client, classify_send_error, unavailable,
};
use rabt_adapter::{Adapter, AdapterError, Answer, BoxFuture, CallbackAnswer, ServiceCall};
use rabt_core::{Agency, Outcome, ServiceName};
use rabt_sandbox::conformance::{Credentials, Expect, Kit, run};
use rabt_sandbox::simulator::KnobsHandle;
use serde_json::{Value, json};

const SERVICE: &str = "health.toy.lookup";
const KEY: &str = "right-key";

#[derive(serde::Deserialize)]
struct Lookup {
    id: String,
}

/// The toy agency: `GET /lookup?id=` with an `api-key` header; knows the id `yes`.
fn toy_simulator(knobs: KnobsHandle) -> Router {
    async fn lookup(
        State(knobs): State<KnobsHandle>,
        headers: HeaderMap,
        Query(q): Query<Lookup>,
    ) -> Response {
        if let Some(fault) = knobs.intercept(&headers).await {
            return fault.default_response();
        }
        if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        Json(json!({"found": q.id == "yes", "id": q.id})).into_response()
    }
    Router::new()
        .route("/lookup", get(lookup))
        .with_state(knobs.clone())
        .merge(rabt_sandbox::simulator::knobs_routes(knobs))
}

/// How careful the toy adapter is.
#[derive(Debug, Clone, Copy)]
struct Care {
    sends_request_id: bool,
    honours_retry_after: bool,
}

#[derive(Debug)]
struct ToyAdapter {
    base: String,
    key: Secret,
    client: reqwest::Client,
    care: Care,
}

impl ToyAdapter {
    async fn lookup(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let id = call.input["id"].as_str().unwrap_or_default();
        let mut request = self
            .client
            .get(format!("{}/lookup?id={id}", self.base))
            .header("api-key", self.key.expose())
            .timeout(call.timeout);
        if self.care.sends_request_id {
            request = request.header(REQUEST_ID, call.task.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| classify_send_error(e, call.timeout))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(AdapterError::Refused {
                outcome: Outcome::UpstreamError,
                reason: "key refused".into(),
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let mut err = unavailable(status, response.headers(), "try later");
            if let (false, AdapterError::Unavailable { retry_after, .. }) =
                (self.care.honours_retry_after, &mut err)
            {
                *retry_after = None;
            }
            return Err(err);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| classify_send_error(e, call.timeout))?;
        let body: Value =
            serde_json::from_slice(&bytes).map_err(|e| AdapterError::Malformed(e.to_string()))?;
        let outcome = if body["found"] == json!(true) {
            Outcome::Ok
        } else {
            Outcome::NotFound
        };
        Ok(Answer::Final {
            outcome,
            data: json!({"found": body["found"]}),
            upstream_ref: None,
        })
    }
}

impl Adapter for ToyAdapter {
    fn agency(&self) -> Agency {
        Agency::Health
    }

    fn services(&self) -> &'static [&'static str] {
        &[SERVICE]
    }

    fn callback(&self, _body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        Err(AdapterError::BadCallback(
            "the toy agency answers synchronously and never calls back".to_owned(),
        ))
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        Box::pin(async move {
            if call.service.as_str() != SERVICE {
                return Err(AdapterError::UnsupportedService(call.service.clone()));
            }
            self.lookup(call).await
        })
    }
}

fn kit(care: Care) -> Kit {
    let client = build_client(&HttpClientConfig {
        timeout: Duration::from_secs(30),
        ..HttpClientConfig::default()
    })
    .unwrap();
    let service = ServiceName::parse(SERVICE).unwrap();
    Kit::new(
        Agency::Health,
        toy_simulator,
        move |base, credentials| {
            let key = match credentials {
                Credentials::Valid => KEY,
                Credentials::Wrong => "wrong-key",
            };
            Arc::new(ToyAdapter {
                base: base.to_owned(),
                key: Secret::new(key),
                client: client.clone(),
                care,
            })
        },
        |_, data| match data.get("found") {
            Some(Value::Bool(_)) => Ok(()),
            _ => Err("`found` must be a boolean".into()),
        },
    )
    .case(service.clone(), json!({"id": "yes"}), Expect::Ok)
    .case(service, json!({"id": "no"}), Expect::NotFound)
}

#[tokio::test]
async fn a_careful_adapter_passes_every_check() {
    let report = run(kit(Care {
        sends_request_id: true,
        honours_retry_after: true,
    }))
    .await;
    assert!(report.passed.len() >= 13, "{:#?}", report.passed);
}

#[tokio::test]
async fn a_sloppy_adapter_fails_the_checks_it_breaks() {
    let sloppy = kit(Care {
        sends_request_id: false,
        honours_retry_after: false,
    });
    let panic = std::panic::AssertUnwindSafe(run(sloppy))
        .catch_unwind()
        .await
        .unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("3 check(s) failed"), "{message}");
    assert!(message.contains("X-Request-Id"), "{message}");
    assert!(
        message.contains("rate limit is Unavailable with Retry-After"),
        "{message}"
    );
}
