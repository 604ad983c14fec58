//! Every process writes a heartbeat row every few seconds: its role, and for a worker
//! each agency's circuit breaker and calls in flight. Those live in the workers'
//! memory; the console of any api process reads the rows, so its overview shows the
//! whole deployment rather than the process that serves the page.

use std::time::Duration;

use rabt_store::Store;
use rabt_worker::{CircuitState, Worker};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

/// How often a process writes its heartbeat; the console counts a process as gone
/// after three missed beats.
pub(crate) const EVERY: Duration = Duration::from_secs(5);

/// A worker's figures: per agency, its breaker and calls.
fn figures(worker: Option<&Worker>) -> Value {
    let Some(worker) = worker else {
        return json!({ "agencies": {} });
    };
    let agencies: Map<String, Value> = worker
        .gates()
        .iter()
        .map(|(agency, gate)| {
            let state = match gate.breaker.state {
                CircuitState::Closed => "closed",
                CircuitState::Open => "open",
                CircuitState::HalfOpen => "half_open",
            };
            let figures = json!({
                "circuit": state,
                "openForMs": gate.breaker.open_for.map(|d| d.as_millis() as u64),
                "consecutiveFailures": gate.breaker.consecutive_failures,
                "timesOpened": gate.breaker.times_opened,
                "inFlight": gate.calls_in_flight,
                "deferred": gate.deferred,
                "paused": worker.holds_paused(*agency),
            });
            (agency.as_str().to_owned(), figures)
        })
        .collect();
    json!({ "agencies": agencies, "pid": std::process::id() })
}

/// Writes this process's heartbeat until `shutdown`. A failed write is retried at the
/// next beat: the console greys what it cannot see rather than this process stopping.
pub(crate) async fn run(
    store: Store,
    role: &'static str,
    worker: Option<Worker>,
    shutdown: CancellationToken,
) {
    let id = uuid_like();
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let started = chrono::Utc::now();
    loop {
        let figures = figures(worker.as_ref());
        if let Err(err) = store.heartbeat(&id, role, &host, started, &figures).await {
            tracing::debug!(error = %err, "cannot write the heartbeat");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}

/// A random process id (`proc_` and 16 hex digits).
fn uuid_like() -> String {
    let n: u64 = rand::random();
    format!("proc_{n:016x}")
}
