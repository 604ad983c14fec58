//! What the integration tests share: a fake Rabt callback endpoint, and the Balady
//! simulator started over a real socket with an adapter pointing at it.
#![allow(dead_code, unreachable_pub)] // each test binary uses a part
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rabt_adapter::http::Secret;
use rabt_adapter_municipal::{MunicipalAdapter, MunicipalConfig, simulator};
use rabt_core::Agency;
use rabt_sandbox::conformance::FakeRabt;
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle, spawn};
use rabt_sandbox::world::World;

/// The API key the simulators accept.
pub const KEY: &str = "balady-test-key";

/// Rabt's `POST /v1/callbacks/municipal`, faked on a port of its own: it verifies the
/// Standard Webhooks signature with the agency's secret (as Rabt does), records what
/// passes, and refuses the rest.
pub async fn receiver() -> FakeRabt {
    FakeRabt::start(Agency::Municipal).await.unwrap()
}

/// The simulator of the standard world, calling `receiver` back.
pub fn simulator(receiver: &FakeRabt, knobs: &KnobsHandle) -> Router {
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
    pub receiver: FakeRabt,
    _simulator: ShutdownHandle,
}

/// Starts a receiver, then the simulator calling it back, then the adapter.
pub async fn stage() -> Stage {
    let receiver = receiver().await;
    let knobs = KnobsHandle::new();
    let (addr, server) = spawn(simulator(&receiver, &knobs)).await.unwrap();
    Stage {
        adapter: adapter(&format!("http://{addr}"), KEY),
        knobs,
        receiver,
        _simulator: server,
    }
}
