//! The conformance kit: the checks every adapter's tests run against its own simulator,
//! so that every agency behaves the same way towards the worker, whatever its wire
//! protocol.
//!
//! An adapter's test describes itself in a [`Kit`] (how to start its simulator, how to
//! build the adapter for a base URL, one input per service that the sandbox answers
//! `OK` and one it answers `NOT_FOUND`, and a validator of outputs, usually built on
//! `rabt-catalogue`, which this crate does not depend on) and calls [`run`]. Every
//! check starts a fresh simulator with fresh knobs. `run` goes through all checks and
//! then panics listing every one that failed, so one run shows the whole picture.
//!
//! Besides the kit, what adapters' own tests keep needing: [`call_once`], one call as
//! a worker's first attempt (and [`call_traced`], within a trace); [`oneshot`], a simulator's router asked once without a
//! socket; [`FakeRabt`], Rabt's callback endpoint faked for the agencies that call
//! back; [`output_validator`], the kit's validator from the catalogue; and
//! [`assert_refused`] and [`assert_unavailable`] for their error tables; and for their
//! unit tests, [`wire_fixture`], [`round_trip`], [`without_callbacks`] and
//! [`numbered_national_ids`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use rabt_sandbox::conformance::{run, Credentials, Expect, Kit};
//! # async fn example(kit: Kit) {
//! let report = run(kit).await; // panics if any check fails
//! assert!(report.passed.len() > 10);
//! # }
//! ```
//!
//! Layout: this file, the kit and [`run`]; `checks`, the checks; `fake_rabt`,
//! [`FakeRabt`]; `fixtures`, the tests' setup.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use rabt_core::{Agency, Outcome, ServiceName, TaskId};
use serde_json::Value;

use crate::simulator::{self, KnobsHandle};
use rabt_adapter::{Adapter, AdapterError, Answer, BoxFuture, ServiceCall};

mod checks;
mod fake_rabt;
mod fixtures;

pub use fake_rabt::{CALLBACK_DEADLINE, FakeRabt, Received};
pub use fixtures::{numbered_national_ids, round_trip, wire_fixture, without_callbacks};

/// Which credentials the adapter under test is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Those the simulator accepts.
    Valid,
    /// Credentials the simulator rejects (a wrong API key, a wrong password…).
    Wrong,
}

impl Credentials {
    /// `valid` for [`Credentials::Valid`], `wrong` for [`Credentials::Wrong`]: the key
    /// to build the adapter under test with.
    pub fn pick<T>(self, valid: T, wrong: T) -> T {
        match self {
            Credentials::Valid => valid,
            Credentials::Wrong => wrong,
        }
    }
}

/// What the sandbox answers for a case's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A final `OK` with an output valid against the service's output schema.
    Ok,
    /// A final `NOT_FOUND`.
    NotFound,
    /// A final `MISMATCH` (the agency's record contradicts the input).
    Mismatch,
    /// For agencies that answer by callback: accepted, with the agency's reference.
    Submitted,
}

/// One input for one service, and what the sandbox answers to it.
#[derive(Debug, Clone)]
pub struct Case {
    /// The service.
    pub service: ServiceName,
    /// An input valid against the service's input schema.
    pub input: Value,
    /// The expected outcome.
    pub expect: Expect,
}

type SimulatorFn = Box<dyn Fn(KnobsHandle) -> Router + Send + Sync>;
type AdapterFn = Box<dyn Fn(&str, Credentials) -> Arc<dyn Adapter> + Send + Sync>;
type ValidatorFn = Box<dyn Fn(&ServiceName, &Value) -> Result<(), String> + Send + Sync>;
type ServeFn = Box<dyn Fn(Router) -> Served + Send + Sync>;

/// A simulator being served: where it listens and the handle that stops it.
pub type Served = BoxFuture<'static, io::Result<(SocketAddr, simulator::ShutdownHandle)>>;

/// What an adapter's test supplies to the kit.
pub struct Kit {
    /// The agency the adapter claims to speak to.
    pub agency: Agency,
    /// Builds the simulator's router around the knobs handle the kit turns.
    pub simulator: SimulatorFn,
    /// Builds the adapter for a base URL (`http://127.0.0.1:PORT`, or `https://…` when
    /// the kit is [`Kit::served_by`] a TLS server).
    pub adapter: AdapterFn,
    /// Validates a service's output (`data` of a final answer that is not `null`).
    pub validate_output: ValidatorFn,
    /// The inputs to try; at least one `Ok` case is needed for the fault checks.
    pub cases: Vec<Case>,
    /// The call timeout of the checks that do not test timeouts.
    pub call_timeout: Duration,
    /// The scheme of the base URLs given to `adapter`: `http` unless
    /// [`Kit::served_by`] says otherwise.
    pub scheme: &'static str,
    /// How each check serves the simulator: [`simulator::spawn`] (plain HTTP on
    /// `127.0.0.1:0`) unless [`Kit::served_by`] says otherwise.
    pub serve: ServeFn,
}

impl fmt::Debug for Kit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kit")
            .field("agency", &self.agency)
            .field("cases", &self.cases)
            .field("call_timeout", &self.call_timeout)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Kit {
    /// A kit with no cases yet and a 10-second call timeout.
    pub fn new(
        agency: Agency,
        simulator: impl Fn(KnobsHandle) -> Router + Send + Sync + 'static,
        adapter: impl Fn(&str, Credentials) -> Arc<dyn Adapter> + Send + Sync + 'static,
        validate_output: impl Fn(&ServiceName, &Value) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            agency,
            simulator: Box::new(simulator),
            adapter: Box::new(adapter),
            validate_output: Box::new(validate_output),
            cases: Vec::new(),
            call_timeout: Duration::from_secs(10),
            scheme: "http",
            serve: Box::new(|router| Box::pin(simulator::spawn(router))),
        }
    }

    /// Serves every check's simulator with `serve` instead of plain HTTP, and gives the
    /// adapter base URLs with `scheme`: for an agency that requires (mutual) TLS, whose
    /// simulator refuses plain connections.
    pub fn served_by(
        mut self,
        scheme: &'static str,
        serve: impl Fn(Router) -> Served + Send + Sync + 'static,
    ) -> Self {
        self.scheme = scheme;
        self.serve = Box::new(serve);
        self
    }

    /// Adds a case.
    pub fn case(mut self, service: ServiceName, input: Value, expect: Expect) -> Self {
        self.cases.push(Case {
            service,
            input,
            expect,
        });
        self
    }
}

/// The checks that passed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One line per passed check.
    pub passed: Vec<String>,
}

/// Runs every check; panics listing every failed one.
pub async fn run(kit: Kit) -> Report {
    let mut report = Report::default();
    let mut failures = Vec::new();
    let mut record = |name: String, result: Result<(), String>| match result {
        Ok(()) => report.passed.push(name),
        Err(why) => failures.push(format!("{name}: {why}")),
    };

    record(
        "declares its agency and services".into(),
        checks::declared(&kit),
    );
    for case in &kit.cases {
        let name = format!("{} {:?} {}", case.service, case.expect, case.input);
        record(name, checks::expected_answer(&kit, case).await);
    }
    match kit
        .cases
        .iter()
        .find(|c| matches!(c.expect, Expect::Ok | Expect::Submitted))
    {
        Some(case) => {
            for (name, result) in checks::fault_checks(&kit, case).await {
                record(name.to_owned(), result);
            }
        }
        None => record(
            "fault checks".into(),
            Err("no Ok or Submitted case given".into()),
        ),
    }
    record(
        "unreachable agency".into(),
        checks::unreachable_agency(&kit).await,
    );
    record(
        "unsupported service".into(),
        checks::unsupported_service(&kit).await,
    );

    assert!(
        failures.is_empty(),
        "{} conformance: {} check(s) failed:\n  {}\npassed:\n  {}",
        kit.agency,
        failures.len(),
        failures.join("\n  "),
        report.passed.join("\n  ")
    );
    report
}

/// The timeout of [`call_once`]: far above what any simulator takes on a slow machine.
pub const TEST_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Calls `service` once for `task`, as a worker's first attempt: no `traceparent`,
/// [`TEST_CALL_TIMEOUT`]. What an adapter's own tests do over and over.
///
/// # Panics
///
/// If `service` is not a service name: a bug in the test.
pub async fn call_once(
    adapter: &dyn Adapter,
    service: &str,
    task: TaskId,
    input: &Value,
) -> Result<Answer, AdapterError> {
    call_traced(adapter, service, task, input, None).await
}

/// [`call_once`] as part of the trace `traceparent`, for the tests that check the
/// adapter hands it on to its agency.
///
/// # Panics
///
/// If `service` is not a service name: a bug in the test.
pub async fn call_traced(
    adapter: &dyn Adapter,
    service: &str,
    task: TaskId,
    input: &Value,
    traceparent: Option<&str>,
) -> Result<Answer, AdapterError> {
    let service = ServiceName::parse(service)
        .unwrap_or_else(|e| panic!("`{service}` is not a service name: {e}"));
    adapter
        .call(ServiceCall {
            task,
            service: &service,
            input,
            attempt: 1,
            timeout: TEST_CALL_TIMEOUT,
            traceparent,
        })
        .await
}

/// Sends `request` to a simulator's `app` without a socket and reads the whole answer:
/// its status, headers and body (at most 1 MiB).
///
/// # Panics
///
/// If the body cannot be read or is larger: a bug in the simulator under test.
pub async fn oneshot(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    use tower::ServiceExt;

    let response = match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (status, headers) = (response.status(), response.headers().clone());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_else(|e| panic!("the simulator's body could not be read: {e}"));
    (status, headers, Vec::from(body))
}

/// The output validator a [`Kit`] wants, from a catalogue this crate does not depend
/// on: `validate` looks the service up in `catalogue` (`None`: it is not there) and
/// checks the output against its schema. Reports a missing service or the schema's
/// violations as the kit's reason.
pub fn output_validator<C, E>(
    catalogue: Arc<C>,
    validate: impl Fn(&C, &ServiceName, &Value) -> Option<Result<(), E>> + Send + Sync + 'static,
) -> impl Fn(&ServiceName, &Value) -> Result<(), String> + Send + Sync + 'static
where
    C: Send + Sync + 'static,
    E: fmt::Debug,
{
    move |service, output| match validate(&catalogue, service, output) {
        None => Err(format!("{service} is not in the catalogue")),
        Some(checked) => checked.map_err(|violations| format!("{violations:?}")),
    }
}

/// Asserts that `err` is a refusal ending the task `outcome`, which no retry can fix;
/// `case` names the case in the failure message. For adapters' tests of their status
/// tables and input checks.
#[track_caller]
pub fn assert_refused(err: &AdapterError, outcome: Outcome, case: impl fmt::Display) {
    assert!(
        matches!(err, AdapterError::Refused { outcome: o, .. } if *o == outcome),
        "{case}: expected Refused({outcome}), got {err:?}"
    );
    assert!(!err.is_retryable(), "{case}: a refusal is never retried");
}

/// Asserts that `err` is a retryable [`AdapterError::Unavailable`] with this
/// `Retry-After` hint; `case` names the case in the failure message.
#[track_caller]
pub fn assert_unavailable(
    err: &AdapterError,
    retry_after: Option<Duration>,
    case: impl fmt::Display,
) {
    assert!(
        matches!(err, AdapterError::Unavailable { .. }),
        "{case}: expected Unavailable, got {err:?}"
    );
    assert!(err.is_retryable(), "{case}: Unavailable is retried");
    assert_eq!(err.retry_after(), retry_after, "{case}: Retry-After");
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    #[tokio::test]
    async fn oneshot_reads_the_whole_answer() {
        let app = Router::new().route(
            "/echo",
            post(|body: String| async move { (StatusCode::CREATED, [("x-seen", "1")], body) }),
        );
        let request = Request::post("/echo").body(Body::from("hello")).unwrap();
        let (status, headers, body) = oneshot(&app, request).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(headers["x-seen"], "1");
        assert_eq!(body, b"hello");
    }

    #[test]
    fn refusals_and_unavailability_are_recognised() {
        let panics = |check: &dyn Fn()| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).is_err()
        };
        let invalid = AdapterError::invalid_input("x");
        let unavailable = AdapterError::Unavailable {
            reason: "503".into(),
            retry_after: Some(Duration::from_secs(5)),
            source: None,
        };
        assert_refused(&invalid, Outcome::InvalidInput, "input");
        assert_unavailable(&unavailable, Some(Duration::from_secs(5)), "503");
        assert!(panics(&|| assert_refused(
            &invalid,
            Outcome::UpstreamError,
            "x"
        )));
        assert!(panics(&|| assert_refused(
            &unavailable,
            Outcome::UpstreamError,
            "x"
        )));
        assert!(panics(&|| assert_unavailable(&unavailable, None, "x")));
        assert!(panics(&|| assert_unavailable(&invalid, None, "x")));
    }

    #[test]
    fn output_validators_report_unknown_services_and_violations() {
        // A catalogue of one service whose outputs must be objects.
        let catalogue = Arc::new("post.address.verify");
        let validate = output_validator(catalogue, |known, service, output: &Value| {
            (service.as_str() == *known).then(|| {
                if output.is_object() {
                    Ok(())
                } else {
                    Err(vec!["/: not an object"])
                }
            })
        });
        let known = ServiceName::parse("post.address.verify").unwrap();
        let unknown = ServiceName::parse("post.address.other").unwrap();
        assert_eq!(validate(&known, &serde_json::json!({})), Ok(()));
        assert_eq!(
            validate(&known, &Value::Null),
            Err(r#"["/: not an object"]"#.to_owned())
        );
        assert_eq!(
            validate(&unknown, &serde_json::json!({})),
            Err("post.address.other is not in the catalogue".to_owned())
        );
    }

    #[test]
    fn credentials_pick_their_key() {
        assert_eq!(Credentials::Valid.pick("key", "wrong"), "key");
        assert_eq!(Credentials::Wrong.pick("key", "wrong"), "wrong");
    }
}
