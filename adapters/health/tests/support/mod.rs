//! Test support: a fake of Rabt's callback endpoint that verifies Standard Webhooks
//! signatures and records what arrives, and the ministry's simulator wired to it with an
//! adapter pointing at it. Rabt's real endpoint lives in rabt-api; this models its
//! side for this crate's tests only.
#![allow(dead_code, unreachable_pub)] // each test binary uses a part of it

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use rabt_adapter::callback::{CallbackSender, CallbackTarget};
use rabt_adapter::http::Secret;
use rabt_adapter::sandbox::World;
use rabt_adapter::simulator::{Knobs, KnobsHandle, ShutdownHandle, spawn};
use rabt_adapter::webhook::{self, SignedHeaders};
use rabt_adapter::{Adapter, AdapterError, Answer, ServiceCall};
use rabt_adapter_health::{CERTIFICATES_VERIFY, HealthAdapter, HealthConfig, simulator};
use rabt_core::{Agency, ServiceName, TaskId};
use serde_json::Value;

/// The ministry's API key in these tests.
pub const KEY: &str = "moh-test-key";

/// One callback Rabt's fake endpoint accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// The body.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Debug)]
struct Inbox {
    secrets: Vec<webhook::Secret>,
    received: Mutex<Vec<Received>>,
}

/// Rabt's callback endpoint, faked: `POST /v1/callbacks/health`, 204 for a message
/// signed with one of its secrets within the tolerance, 401 otherwise.
pub struct FakeRabt {
    /// Where the ministry calls back.
    pub target: CallbackTarget,
    inbox: Arc<Inbox>,
    _server: ShutdownHandle,
}

impl FakeRabt {
    /// Starts the endpoint with a fresh secret.
    pub async fn start() -> FakeRabt {
        let secret = webhook::Secret::generate();
        let inbox = Arc::new(Inbox {
            secrets: vec![secret.clone()],
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/callbacks/health", post(receive))
            .with_state(inbox.clone());
        let (addr, server) = spawn(app).await.unwrap();
        FakeRabt {
            target: CallbackTarget {
                base_url: format!("http://{addr}").parse().unwrap(),
                secrets: vec![secret],
            },
            inbox,
            _server: server,
        }
    }

    /// A sender that signs with this endpoint's secret and honours `knobs`.
    pub fn sender(&self, knobs: &KnobsHandle) -> CallbackSender {
        CallbackSender::new(Agency::Health, self.target.clone(), knobs.clone())
    }

    /// Every callback accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }

    /// Waits (at most 20 seconds) for the callback quoting `reference`.
    pub async fn callback_for(&self, reference: &str) -> Received {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .received()
                .into_iter()
                .find(|r| r.body["reference"] == reference);
            if let Some(found) = found {
                return found;
            }
            assert!(Instant::now() < deadline, "no callback for {reference}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most 20 seconds) until at least `n` callbacks have arrived.
    pub async fn at_least(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} callbacks, expected {n}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signed = SignedHeaders {
        id: header(webhook::ID_HEADER),
        timestamp: header(webhook::TIMESTAMP_HEADER),
        signature: header(webhook::SIGNATURE_HEADER),
    };
    let now = chrono::Utc::now().timestamp();
    if webhook::verify(
        &inbox.secrets,
        &signed,
        &body,
        now,
        webhook::DEFAULT_TOLERANCE,
    )
    .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(body) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    inbox.received.lock().unwrap().push(Received {
        id: signed.id,
        body,
        at: Instant::now(),
    });
    StatusCode::NO_CONTENT
}

/// The adapter for a base URL, with the test key (or another).
pub fn adapter(base: &str, key: &str) -> HealthAdapter {
    HealthAdapter::new(HealthConfig {
        base_url: base.parse().unwrap(),
        api_key: Secret::new(key),
        timeout: Duration::from_secs(30),
    })
    .unwrap()
}

/// The ministry's simulator on a socket, calling back to a fake Rabt, and an adapter
/// pointing at it.
pub struct Ministry {
    pub adapter: HealthAdapter,
    pub knobs: KnobsHandle,
    pub rabt: FakeRabt,
    pub base: String,
    _server: ShutdownHandle,
}

impl Ministry {
    /// With the knobs at rest.
    pub async fn start() -> Ministry {
        Ministry::start_with(Knobs::default()).await
    }

    /// With these knobs.
    pub async fn start_with(knobs: Knobs) -> Ministry {
        let rabt = FakeRabt::start().await;
        let handle = KnobsHandle::new();
        handle.set(knobs);
        let world = Arc::new(World::standard());
        let router = simulator::router(
            world,
            Secret::new(KEY),
            handle.clone(),
            rabt.sender(&handle),
        );
        let (addr, server) = spawn(router).await.unwrap();
        let base = format!("http://{addr}");
        Ministry {
            adapter: adapter(&base, KEY),
            knobs: handle,
            rabt,
            base,
            _server: server,
        }
    }
}

/// Calls `health.certificates.verify` once for `task`.
pub async fn verify(
    adapter: &dyn Adapter,
    task: TaskId,
    input: &Value,
) -> Result<Answer, AdapterError> {
    let service = ServiceName::parse(CERTIFICATES_VERIFY).unwrap();
    adapter
        .call(ServiceCall {
            task,
            service: &service,
            input,
            attempt: 1,
            timeout: Duration::from_secs(30),
            traceparent: None,
        })
        .await
}

/// The reference of a `Submitted` answer.
pub fn submitted(answer: Result<Answer, AdapterError>) -> String {
    match answer {
        Ok(Answer::Submitted { upstream_ref }) => upstream_ref,
        other => panic!("expected Submitted, got {other:?}"),
    }
}

/// A fixture file's JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
