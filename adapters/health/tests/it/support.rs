//! Test support: the ministry's simulator calling back to a fake of Rabt's callback
//! endpoint (rabt-adapter's [`FakeRabt`], which verifies Standard Webhooks signatures
//! and records what arrives), with an adapter pointing at it.
#![allow(unreachable_pub)] // `pub` reads as "for the test modules" here

use rabt_sandbox::conformance::wire_fixture;
use std::sync::Arc;
use std::time::Duration;

use rabt_adapter::http::Secret;
use rabt_adapter::{Adapter, AdapterError, Answer};
use rabt_adapter_health::{CERTIFICATES_VERIFY, HealthAdapter, HealthConfig, simulator};
use rabt_core::{Agency, TaskId};
use rabt_sandbox::conformance::{FakeRabt, call_once};
use rabt_sandbox::simulator::{Knobs, KnobsHandle, ShutdownHandle, spawn};
use rabt_sandbox::world::World;
use serde_json::Value;

/// The ministry's API key in these tests.
pub const KEY: &str = "moh-test-key";

/// Rabt's `POST /v1/callbacks/health`, faked on a port of its own with a fresh secret.
pub async fn fake_rabt() -> FakeRabt {
    FakeRabt::start(Agency::Health).await.unwrap()
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
        let rabt = fake_rabt().await;
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
    call_once(adapter, CERTIFICATES_VERIFY, task, input).await
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
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}
