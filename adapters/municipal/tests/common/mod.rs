//! What the integration tests share: a fake Rabt callback endpoint, and the Balady
//! simulator started over a real socket with an adapter pointing at it.
#![allow(dead_code, unreachable_pub)] // each test binary uses a part
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

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
use rabt_adapter::simulator::{KnobsHandle, ShutdownHandle, spawn};
use rabt_adapter_municipal::{MunicipalAdapter, MunicipalConfig, simulator};
use rabt_core::Agency;
use rabt_webhook::{DEFAULT_TOLERANCE, SignedHeaders};
use serde_json::Value;

/// The API key the simulators accept.
pub const KEY: &str = "balady-test-key";

/// How long a test waits for a callback before it fails: far above any delay the
/// tests set, so a slow machine does not fail them.
pub const CALLBACK_DEADLINE: Duration = Duration::from_secs(30);

/// One callback Rabt's side received, its signature verified.
#[derive(Debug, Clone)]
pub struct Received {
    /// The body, as JSON.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Log {
    received: Vec<Received>,
    refused: u32,
}

/// A fake of Rabt's `POST /v1/callbacks/municipal`: it verifies the Standard Webhooks
/// signature with the agency's secret (as Rabt does), records what passes, and refuses
/// the rest with 401. It models Rabt's side for these tests only.
pub struct Receiver {
    /// Rabt's base URL, for a [`CallbackTarget`].
    pub base_url: url::Url,
    /// The municipal callback secret Rabt holds.
    pub secret: rabt_webhook::Secret,
    log: Arc<Mutex<Log>>,
    _server: ShutdownHandle,
}

async fn receive(
    State(state): State<(rabt_webhook::Secret, Arc<Mutex<Log>>)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (secret, log) = state;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signed = SignedHeaders {
        id: header(rabt_webhook::ID_HEADER),
        timestamp: header(rabt_webhook::TIMESTAMP_HEADER),
        signature: header(rabt_webhook::SIGNATURE_HEADER),
    };
    let now = chrono::Utc::now().timestamp();
    let verified = rabt_webhook::verify(&[secret], &signed, &body, now, DEFAULT_TOLERANCE);
    let mut log = log.lock().unwrap();
    match (verified, serde_json::from_slice(&body)) {
        (Ok(()), Ok(body)) => {
            log.received.push(Received {
                body,
                at: Instant::now(),
            });
            StatusCode::NO_CONTENT
        }
        _ => {
            log.refused += 1;
            StatusCode::UNAUTHORIZED
        }
    }
}

impl Receiver {
    /// Starts a receiver on a port of its own.
    pub async fn start() -> Receiver {
        let secret = rabt_webhook::Secret::generate();
        let log = Arc::new(Mutex::new(Log::default()));
        let app = Router::new()
            .route("/v1/callbacks/municipal", post(receive))
            .with_state((secret.clone(), log.clone()));
        let (addr, server) = spawn(app).await.unwrap();
        Receiver {
            base_url: format!("http://{addr}").parse().unwrap(),
            secret,
            log,
            _server: server,
        }
    }

    /// A callback sender aimed here, signing with `secret`, honouring `knobs`.
    pub fn sender_with(&self, secret: rabt_webhook::Secret, knobs: &KnobsHandle) -> CallbackSender {
        let target = CallbackTarget {
            base_url: self.base_url.clone(),
            secrets: vec![secret],
        };
        CallbackSender::new(Agency::Municipal, target, knobs.clone())
    }

    /// A callback sender aimed here with the right secret.
    pub fn sender(&self, knobs: &KnobsHandle) -> CallbackSender {
        self.sender_with(self.secret.clone(), knobs)
    }

    /// Every callback received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }

    /// How many callbacks failed the signature check.
    pub fn refused(&self) -> u32 {
        self.log.lock().unwrap().refused
    }

    /// The callbacks quoting `reference`.
    pub fn for_reference(&self, reference: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.body["reference"] == reference)
            .collect()
    }

    /// Waits (polling, up to [`CALLBACK_DEADLINE`]) for the callback quoting
    /// `reference`.
    pub async fn wait_for(&self, reference: &str) -> Received {
        let deadline = Instant::now() + CALLBACK_DEADLINE;
        loop {
            if let Some(received) = self.for_reference(reference).into_iter().next() {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "no callback for {reference} within {CALLBACK_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (polling) until `count` callbacks failed the signature check.
    pub async fn wait_for_refused(&self, count: u32) {
        let deadline = Instant::now() + CALLBACK_DEADLINE;
        while self.refused() < count {
            assert!(Instant::now() < deadline, "no refused callback");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The simulator of the standard world, calling `receiver` back.
pub fn simulator(receiver: &Receiver, knobs: &KnobsHandle) -> Router {
    simulator::router(
        Arc::new(World::standard()),
        Secret::new(KEY),
        knobs.clone(),
        receiver.sender(knobs),
    )
}

/// An adapter for the agency at `base`, with `key`.
pub fn adapter(base: &str, key: &str) -> MunicipalAdapter {
    MunicipalAdapter::new(MunicipalConfig {
        base_url: base.parse().unwrap(),
        api_key: Secret::new(key),
        timeout: Duration::from_secs(30),
    })
    .unwrap()
}

/// A simulator and Rabt's side, over real sockets.
pub struct Stage {
    /// The adapter, pointing at the simulator.
    pub adapter: MunicipalAdapter,
    /// The simulator's knobs.
    pub knobs: KnobsHandle,
    /// Rabt's side.
    pub receiver: Receiver,
    _simulator: ShutdownHandle,
}

/// Starts a receiver, then the simulator calling it back, then the adapter.
pub async fn stage() -> Stage {
    let receiver = Receiver::start().await;
    let knobs = KnobsHandle::new();
    let (addr, server) = spawn(simulator(&receiver, &knobs)).await.unwrap();
    Stage {
        adapter: adapter(&format!("http://{addr}"), KEY),
        knobs,
        receiver,
        _simulator: server,
    }
}
