//! The chambers adapter against its simulator over real sockets and real mutual TLS,
//! with certificates generated for each run (no key is ever committed).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod conformance;
mod golden;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rabt_adapter::http::Secret;
use rabt_adapter::{AdapterError, Answer};
use rabt_adapter_chambers::{ChambersAdapter, ChambersConfig, MEMBERSHIP_VERIFY, simulator};
use rabt_catalogue::Catalogue;
use rabt_core::{ServiceName, TaskId};
use rabt_sandbox::conformance::{call_once, output_validator};
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle};
use rabt_sandbox::tls::SandboxPki;
use rabt_sandbox::world::World;
use serde_json::Value;

/// The token the simulators of these tests accept.
const TOKEN: &str = "fsc-test-token";

/// The standard world, generated once for the whole binary.
fn world() -> Arc<World> {
    static WORLD: OnceLock<Arc<World>> = OnceLock::new();
    WORLD.get_or_init(|| Arc::new(World::standard())).clone()
}

/// The bundled catalogue, loaded once.
fn catalogue() -> Arc<Catalogue> {
    static CATALOGUE: OnceLock<Arc<Catalogue>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| Arc::new(Catalogue::bundled().unwrap()))
        .clone()
}

/// Validates an output against the catalogue's output schema of the service.
fn validate(service: &ServiceName, output: &Value) -> Result<(), String> {
    let check = output_validator(catalogue(), |catalogue, service, output| {
        catalogue
            .service(service.as_str())
            .map(|service| service.validate_output(output))
    });
    check(service, output)
}

/// A simulator served over mutual TLS on 127.0.0.1.
struct Fsc {
    knobs: KnobsHandle,
    addr: SocketAddr,
    _server: ShutdownHandle,
}

impl Fsc {
    async fn start(pki: &SandboxPki) -> Self {
        let knobs = KnobsHandle::new();
        let (addr, server) = simulator::serve(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            world(),
            Secret::new(TOKEN),
            knobs.clone(),
            &pki.server_tls(),
        )
        .await
        .unwrap();
        Self {
            knobs,
            addr,
            _server: server,
        }
    }

    fn base(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// The adapter for `base`, presenting `client`'s certificate and trusting `server`'s CA.
fn adapter(base: &str, client: &SandboxPki, server: &SandboxPki, token: &str) -> ChambersAdapter {
    ChambersAdapter::new(ChambersConfig {
        base_url: base.parse().unwrap(),
        token: Secret::new(token),
        client_identity: client.client_identity(),
        server_ca_pem: vec![server.server_ca_pem.clone()],
        timeout: Duration::from_secs(30),
    })
    .unwrap()
}

/// One call of `chambers.membership.verify` for `task`.
async fn verify_as(
    adapter: &ChambersAdapter,
    task: TaskId,
    input: Value,
) -> Result<Answer, AdapterError> {
    call_once(adapter, MEMBERSHIP_VERIFY, task, &input).await
}

async fn verify(adapter: &ChambersAdapter, input: Value) -> Result<Answer, AdapterError> {
    verify_as(adapter, TaskId::new(), input).await
}
