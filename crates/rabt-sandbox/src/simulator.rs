//! What every agency simulator shares: fault knobs, call statistics, and a server that
//! listens on a port of its own.
//!
//! A simulator's handlers call [`KnobsHandle::intercept`] first: it counts the call,
//! waits the configured latency, and tells the handler which fault to answer with, if
//! any. Each agency renders a fault in its own style (Saudi Post answers a rate limit
//! with 403, others with 429); [`InjectedFault::default_response`] is the plain HTTP
//! rendering, and [`InjectedFault::render`] puts an agency's own error bodies in its
//! place. Tests and operators turn the knobs over HTTP (`/_sim/knobs`) or through the
//! handle.
//!
//! After the knobs, a handler checks the caller's credentials ([`carries`] for a key
//! in a header) and, for an agency that accepts calls now and calls back later, submits
//! the call to its [`Submissions`] under its request id ([`request_id`]).
//!
//! Layout: this file, the knobs and what handlers share; `serve`, serving a simulator
//! on a port and stopping it; `replay`, the memory of accepted calls and their
//! callbacks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::world::SandboxRng;
use rabt_adapter::http::{REQUEST_ID, Secret};

mod replay;
mod serve;

pub use replay::{Recall, Replays, Submissions, Submitted};
pub use serve::{ShutdownHandle, serve_on, spawn, spawn_at};

/// How long a simulated [`Fault::Timeout`] hangs: longer than any client timeout.
pub const HANG: Duration = Duration::from_secs(3600);

/// The longest latency the knobs accept, so a typo cannot wedge a test run for days.
pub const MAX_LATENCY: Duration = Duration::from_secs(600);

/// A fault every call answers with, whatever it asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer normally.
    #[default]
    None,
    /// Answer 500.
    ServerError,
    /// Never answer within any client's timeout (hang for [`HANG`]).
    Timeout,
    /// Refuse as rate limited, with `Retry-After: retry_after` seconds.
    RateLimit {
        /// The `Retry-After` to send, in seconds.
        retry_after: u64,
    },
    /// Answer 200 with a body that does not follow the agency's protocol.
    Malformed,
}

/// The fault knobs of one simulator. JSON form (`/_sim/knobs`):
/// `{"latency_ms": 0, "error_rate": 0.0, "fault": {"kind": "none"}, "callback_delay_ms": 0,
/// "never_call_back": false}`; every field may be left out (then it is the default).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Knobs {
    /// Added before every answer.
    #[serde(rename = "latency_ms", with = "millis")]
    pub latency: Duration,
    /// The share of calls (0 to 1) answered with a server error, drawn from the
    /// simulator's seeded generator.
    pub error_rate: f64,
    /// A fault every call answers with.
    pub fault: Fault,
    /// For agencies that answer by callback: how long after accepting a call the
    /// simulator calls back.
    #[serde(rename = "callback_delay_ms", with = "millis")]
    pub callback_delay: Duration,
    /// For agencies that answer by callback: accept calls but never call back (to see
    /// Rabt end the task `TIMEOUT` at its deadline).
    pub never_call_back: bool,
}

impl Knobs {
    /// Why these knobs cannot be used, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Some(format!(
                "error_rate must be within 0..=1, got {}",
                self.error_rate
            ));
        }
        if self.callback_delay > MAX_LATENCY {
            return Some(format!(
                "callback_delay_ms must be at most {}",
                MAX_LATENCY.as_millis()
            ));
        }
        if self.latency > MAX_LATENCY {
            return Some(format!(
                "latency_ms must be at most {}",
                MAX_LATENCY.as_millis()
            ));
        }
        None
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// What a simulator has served since it started (or since the last reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Agency calls served (the `/_sim/` routes are not counted).
    pub calls: u64,
    /// Distinct `X-Request-Id` values seen: fewer than `calls` means retried or
    /// repeated calls for the same task.
    pub distinct_request_ids: u64,
    /// Calls that came without an `X-Request-Id`.
    pub calls_without_request_id: u64,
}

/// The fault [`KnobsHandle::intercept`] tells a handler to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFault {
    /// A server error.
    ServerError,
    /// A rate-limit refusal with this `Retry-After` in seconds.
    RateLimit {
        /// Seconds.
        retry_after: u64,
    },
    /// A 200 whose body breaks the protocol.
    Malformed,
}

impl InjectedFault {
    /// The plain HTTP rendering: 500, 429 with `Retry-After`, or a truncated JSON body.
    pub fn default_response(self) -> Response {
        match self {
            InjectedFault::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({"error": "simulated server error"})),
            )
                .into_response(),
            InjectedFault::RateLimit { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, HeaderValue::from(retry_after))],
                Json(serde_json::json!({"error": "simulated rate limit"})),
            )
                .into_response(),
            InjectedFault::Malformed => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                MALFORMED_BODY,
            )
                .into_response(),
        }
    }

    /// The fault in an agency's own style: `server_error` renders a server error,
    /// `rate_limited` a rate-limit refusal (the `Retry-After` header is added here), and
    /// a malformed answer is [`InjectedFault::default_response`]'s truncated body.
    pub fn render(
        self,
        server_error: impl FnOnce() -> Response,
        rate_limited: impl FnOnce() -> Response,
    ) -> Response {
        match self {
            InjectedFault::ServerError => server_error(),
            InjectedFault::RateLimit { retry_after } => {
                with_retry_after(rate_limited(), retry_after)
            }
            InjectedFault::Malformed => self.default_response(),
        }
    }
}

/// `response` with `Retry-After: seconds`.
pub fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The call's `X-Request-Id`, if it has a readable one.
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
}

/// Whether the header `name` holds exactly `secret` (an API key): a simulator's
/// check of the caller's credentials.
pub fn carries(headers: &HeaderMap, name: &str, secret: &Secret) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == secret.expose())
}

/// A body cut off mid-way, as a broken node behind a load balancer sends.
pub const MALFORMED_BODY: &str = "{\"success\": tru";

#[derive(Debug, Default)]
struct CallLog {
    calls: u64,
    without_request_id: u64,
    request_ids: HashSet<String>,
}

#[derive(Debug)]
struct Shared {
    knobs: RwLock<Knobs>,
    log: Mutex<CallLog>,
    rng: Mutex<SandboxRng>,
}

/// A simulator's knobs and statistics, shared between its handlers, its `/_sim/`
/// routes and the test that drives it. Cloning shares.
#[derive(Debug, Clone)]
pub struct KnobsHandle {
    shared: Arc<Shared>,
}

impl Default for KnobsHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl KnobsHandle {
    /// Knobs at rest (no latency, no errors), with the default error-rate seed.
    pub fn new() -> Self {
        Self::with_seed(0x5349_4d55) // "SIMU"
    }

    /// Knobs at rest whose `error_rate` draws come from `seed`, so a run is repeatable.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            shared: Arc::new(Shared {
                knobs: RwLock::new(Knobs::default()),
                log: Mutex::new(CallLog::default()),
                rng: Mutex::new(SandboxRng::stream(seed, "error-rate")),
            }),
        }
    }

    /// The current knobs.
    pub fn knobs(&self) -> Knobs {
        // A panic while holding the lock cannot leave `Knobs` half written (it is
        // `Copy` and replaced whole), so a poisoned lock is still good to read.
        *self
            .shared
            .knobs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the knobs. An `error_rate` outside 0..=1 is clamped (NaN counts as 0)
    /// and a latency above [`MAX_LATENCY`] is cut to it; the HTTP route refuses both.
    pub fn set(&self, mut knobs: Knobs) {
        knobs.error_rate = if knobs.error_rate.is_nan() {
            0.0
        } else {
            knobs.error_rate.clamp(0.0, 1.0)
        };
        knobs.latency = knobs.latency.min(MAX_LATENCY);
        *self
            .shared
            .knobs
            .write()
            .unwrap_or_else(PoisonError::into_inner) = knobs;
    }

    /// What has been served so far.
    pub fn stats(&self) -> Stats {
        let log = self.log();
        Stats {
            calls: log.calls,
            distinct_request_ids: u64::try_from(log.request_ids.len()).unwrap_or(u64::MAX),
            calls_without_request_id: log.without_request_id,
        }
    }

    /// Whether some call carried this `X-Request-Id`.
    pub fn saw_request_id(&self, id: &str) -> bool {
        self.log().request_ids.contains(id)
    }

    /// Forgets every call served so far.
    pub fn reset_stats(&self) {
        *self.log() = CallLog::default();
    }

    fn log(&self) -> std::sync::MutexGuard<'_, CallLog> {
        // The log holds counters only; a panic mid-update loses at most one count.
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every simulator handler calls this first: it counts the call, waits the
    /// latency, and returns the fault to answer with (or `None` to answer normally).
    /// Under [`Fault::Timeout`] it hangs for [`HANG`] before answering a server error.
    pub async fn intercept(&self, headers: &HeaderMap) -> Option<InjectedFault> {
        self.record(headers);
        let knobs = self.knobs();
        if !knobs.latency.is_zero() {
            tokio::time::sleep(knobs.latency).await;
        }
        match knobs.fault {
            Fault::None => {}
            Fault::ServerError => return Some(InjectedFault::ServerError),
            Fault::Timeout => {
                tokio::time::sleep(HANG).await;
                return Some(InjectedFault::ServerError);
            }
            Fault::RateLimit { retry_after } => {
                return Some(InjectedFault::RateLimit { retry_after });
            }
            Fault::Malformed => return Some(InjectedFault::Malformed),
        }
        let roll = self
            .shared
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unit();
        (roll < knobs.error_rate).then_some(InjectedFault::ServerError)
    }

    fn record(&self, headers: &HeaderMap) {
        let mut log = self.log();
        log.calls += 1;
        match request_id(headers) {
            Some(id) => {
                log.request_ids.insert(id.to_owned());
            }
            None => log.without_request_id += 1,
        }
    }
}

/// `GET`/`PUT /_sim/knobs` (JSON [`Knobs`]), `GET /_sim/stats` ([`Stats`]) and
/// `DELETE /_sim/stats` (reset). Merge into a simulator's router.
pub fn knobs_routes(handle: KnobsHandle) -> Router {
    Router::new()
        .route("/_sim/knobs", get(get_knobs).put(put_knobs))
        .route("/_sim/stats", get(get_stats).delete(reset_stats))
        .with_state(handle)
}

async fn get_knobs(State(handle): State<KnobsHandle>) -> Json<Knobs> {
    Json(handle.knobs())
}

async fn put_knobs(State(handle): State<KnobsHandle>, Json(knobs): Json<Knobs>) -> Response {
    match knobs.problem() {
        Some(problem) => (StatusCode::UNPROCESSABLE_ENTITY, problem).into_response(),
        None => {
            tracing::info!(?knobs, "simulator knobs changed");
            handle.set(knobs);
            Json(handle.knobs()).into_response()
        }
    }
}

async fn get_stats(State(handle): State<KnobsHandle>) -> Json<Stats> {
    Json(handle.stats())
}

async fn reset_stats(State(handle): State<KnobsHandle>) -> StatusCode {
    handle.reset_stats();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
#[path = "simulator/tests.rs"]
mod tests;
