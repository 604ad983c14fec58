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
//! ```no_run
//! # use std::sync::Arc;
//! # use rabt_adapter::conformance::{run, Credentials, Expect, Kit};
//! # async fn example(kit: Kit) {
//! let report = run(kit).await; // panics if any check fails
//! assert!(report.passed.len() > 10);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use rabt_core::{Agency, Outcome, ServiceName, TaskId};
use serde_json::Value;

use crate::simulator::{self, Fault, Knobs, KnobsHandle};
use crate::{Adapter, AdapterError, Answer, BoxFuture, ServiceCall};

/// Which credentials the adapter under test is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Those the simulator accepts.
    Valid,
    /// Credentials the simulator rejects (a wrong API key, a wrong password…).
    Wrong,
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

/// A hang is detected if a timed-out call takes longer than this: far above any call
/// timeout the kit uses, far below the simulator's hour-long hang, so noisy machines
/// do not fail it.
const HANG_DETECTED: Duration = Duration::from_secs(60);

/// The short call timeout of the timeout checks.
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

/// A `traceparent` the kit sends with every call.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Runs every check; panics listing every failed one.
pub async fn run(kit: Kit) -> Report {
    let mut report = Report::default();
    let mut failures = Vec::new();
    let mut record = |name: String, result: Result<(), String>| match result {
        Ok(()) => report.passed.push(name),
        Err(why) => failures.push(format!("{name}: {why}")),
    };

    record("declares its agency and services".into(), declared(&kit));
    for case in &kit.cases {
        let name = format!("{} {:?} {}", case.service, case.expect, case.input);
        record(name, expected_answer(&kit, case).await);
    }
    match kit
        .cases
        .iter()
        .find(|c| matches!(c.expect, Expect::Ok | Expect::Submitted))
    {
        Some(case) => {
            for (name, result) in fault_checks(&kit, case).await {
                record(name.to_owned(), result);
            }
        }
        None => record(
            "fault checks".into(),
            Err("no Ok or Submitted case given".into()),
        ),
    }
    record("unreachable agency".into(), unreachable_agency(&kit).await);
    record(
        "unsupported service".into(),
        unsupported_service(&kit).await,
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

/// A simulator started for one check, with its knobs and an adapter pointing at it.
struct Stage {
    knobs: KnobsHandle,
    adapter: Arc<dyn Adapter>,
    _server: simulator::ShutdownHandle,
}

async fn stage(kit: &Kit, credentials: Credentials, knobs: Knobs) -> Result<Stage, String> {
    let handle = KnobsHandle::new();
    handle.set(knobs);
    let (addr, server) = (kit.serve)((kit.simulator)(handle.clone()))
        .await
        .map_err(|e| format!("simulator did not start: {e}"))?;
    Ok(Stage {
        knobs: handle,
        adapter: (kit.adapter)(&format!("{}://{addr}", kit.scheme), credentials),
        _server: server,
    })
}

async fn call(
    adapter: &dyn Adapter,
    case: &Case,
    task: TaskId,
    timeout: Duration,
) -> Result<Answer, AdapterError> {
    adapter
        .call(ServiceCall {
            task,
            service: &case.service,
            input: &case.input,
            attempt: 1,
            timeout,
            traceparent: Some(TRACEPARENT),
        })
        .await
}

fn declared(kit: &Kit) -> Result<(), String> {
    let adapter = (kit.adapter)(&format!("{}://127.0.0.1:9", kit.scheme), Credentials::Valid);
    if adapter.agency() != kit.agency {
        return Err(format!(
            "agency() is {}, expected {}",
            adapter.agency(),
            kit.agency
        ));
    }
    for case in &kit.cases {
        if !adapter.services().contains(&case.service.as_str()) {
            return Err(format!("services() lacks {}", case.service));
        }
    }
    Ok(())
}

async fn expected_answer(kit: &Kit, case: &Case) -> Result<(), String> {
    let stage = stage(kit, Credentials::Valid, Knobs::default()).await?;
    let task = TaskId::new();
    let answer = call(&*stage.adapter, case, task, kit.call_timeout)
        .await
        .map_err(|e| format!("expected an answer, got error {e:?}"))?;
    let expected = match (case.expect, &answer) {
        (Expect::Submitted, Answer::Submitted { upstream_ref }) if !upstream_ref.is_empty() => {
            return request_ids_carried(&stage.knobs, task);
        }
        (Expect::Submitted, _) => {
            return Err(format!(
                "expected Submitted with a reference, got {answer:?}"
            ));
        }
        (Expect::Ok, _) => Outcome::Ok,
        (Expect::NotFound, _) => Outcome::NotFound,
        (Expect::Mismatch, _) => Outcome::Mismatch,
    };
    let Answer::Final { outcome, data, .. } = answer else {
        return Err(format!("expected a final answer, got {answer:?}"));
    };
    if outcome != expected {
        return Err(format!(
            "outcome {outcome}, expected {expected}; data {data}"
        ));
    }
    if !data.is_null() {
        (kit.validate_output)(&case.service, &data)
            .map_err(|why| format!("output {data} is invalid: {why}"))?;
    } else if expected == Outcome::Ok {
        return Err("an OK answer carries no data".into());
    }
    request_ids_carried(&stage.knobs, task)
}

/// Every call the adapter made for the task carried the task id as `X-Request-Id`.
fn request_ids_carried(knobs: &KnobsHandle, task: TaskId) -> Result<(), String> {
    let stats = knobs.stats();
    if stats.calls == 0 {
        return Err("the simulator saw no call".into());
    }
    if stats.calls_without_request_id > 0 || stats.distinct_request_ids != 1 {
        return Err(format!(
            "calls without the task id as X-Request-Id: {stats:?}"
        ));
    }
    if !knobs.saw_request_id(&task.to_string()) {
        return Err(format!("X-Request-Id is not the task id {task}"));
    }
    Ok(())
}

type Check = (&'static str, Result<(), String>);

/// A check that one call under some knobs fails with the expected, retryable error.
struct ErrorCheck {
    name: &'static str,
    knobs: Knobs,
    timeout: Duration,
    expected: fn(&AdapterError) -> bool,
}

fn error_checks(call_timeout: Duration) -> [ErrorCheck; 5] {
    let fault = |fault| Knobs {
        fault,
        ..Knobs::default()
    };
    [
        ErrorCheck {
            name: "server error is retryable Unavailable",
            knobs: fault(Fault::ServerError),
            timeout: call_timeout,
            expected: |e| matches!(e, AdapterError::Unavailable { .. }),
        },
        ErrorCheck {
            name: "error_rate 1.0 is retryable Unavailable",
            knobs: Knobs {
                error_rate: 1.0,
                ..Knobs::default()
            },
            timeout: call_timeout,
            expected: |e| matches!(e, AdapterError::Unavailable { .. }),
        },
        ErrorCheck {
            name: "a malformed answer is retryable Malformed",
            knobs: fault(Fault::Malformed),
            timeout: call_timeout,
            expected: |e| matches!(e, AdapterError::Malformed(_)),
        },
        ErrorCheck {
            name: "a rate limit is Unavailable with Retry-After",
            knobs: fault(Fault::RateLimit { retry_after: 7 }),
            timeout: call_timeout,
            expected: |e| {
                matches!(e, AdapterError::Unavailable { .. })
                    && e.retry_after() == Some(Duration::from_secs(7))
            },
        },
        ErrorCheck {
            name: "latency beyond the call timeout is a Timeout",
            knobs: Knobs {
                latency: Duration::from_secs(5),
                ..Knobs::default()
            },
            timeout: SHORT_TIMEOUT,
            expected: |e| matches!(e, AdapterError::Timeout(_)),
        },
    ]
}

async fn fault_checks(kit: &Kit, case: &Case) -> Vec<Check> {
    let mut checks = Vec::new();
    for check in error_checks(kit.call_timeout) {
        let result = expect_error(kit, case, check.knobs, check.timeout, check.expected).await;
        checks.push((check.name, result));
    }
    checks.push((
        "a hanging agency is a retryable Timeout",
        timeout_check(kit, case).await,
    ));
    checks.push((
        "wrong credentials are Refused, not retryable",
        wrong_credentials(kit, case).await,
    ));
    checks.push(("latency is respected", latency_check(kit, case).await));
    checks
}

/// Calls once under `knobs` and checks the error with `expected`, which must also be
/// retryable.
async fn expect_error(
    kit: &Kit,
    case: &Case,
    knobs: Knobs,
    timeout: Duration,
    expected: fn(&AdapterError) -> bool,
) -> Result<(), String> {
    let stage = stage(kit, Credentials::Valid, knobs).await?;
    let task = TaskId::new();
    let result = timed(call(&*stage.adapter, case, task, timeout)).await?;
    match result {
        Err(err) if expected(&err) && err.is_retryable() => Ok(()),
        other => Err(format!("unexpected result {other:?}")),
    }
}

/// Runs `call`, failing if it takes longer than [`HANG_DETECTED`].
async fn timed<T>(call: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(HANG_DETECTED, call)
        .await
        .map_err(|_| format!("no result within {HANG_DETECTED:?}: the adapter hangs"))
}

async fn timeout_check(kit: &Kit, case: &Case) -> Result<(), String> {
    let knobs = Knobs {
        fault: Fault::Timeout,
        ..Knobs::default()
    };
    let stage = stage(kit, Credentials::Valid, knobs).await?;
    let result = timed(call(&*stage.adapter, case, TaskId::new(), SHORT_TIMEOUT)).await?;
    match result {
        Err(AdapterError::Timeout(after)) if after <= SHORT_TIMEOUT => Ok(()),
        other => Err(format!(
            "expected Timeout within {SHORT_TIMEOUT:?}, got {other:?}"
        )),
    }
}

async fn wrong_credentials(kit: &Kit, case: &Case) -> Result<(), String> {
    let stage = stage(kit, Credentials::Wrong, Knobs::default()).await?;
    let result = timed(call(&*stage.adapter, case, TaskId::new(), kit.call_timeout)).await?;
    match result {
        Err(
            ref err @ AdapterError::Refused {
                outcome: Outcome::UpstreamError,
                ..
            },
        ) if !err.is_retryable() => Ok(()),
        other => Err(format!("expected Refused(UPSTREAM_ERROR), got {other:?}")),
    }
}

async fn latency_check(kit: &Kit, case: &Case) -> Result<(), String> {
    let latency = Duration::from_millis(300);
    let knobs = Knobs {
        latency,
        ..Knobs::default()
    };
    let stage = stage(kit, Credentials::Valid, knobs).await?;
    let started = Instant::now();
    let result = timed(call(&*stage.adapter, case, TaskId::new(), kit.call_timeout)).await?;
    let elapsed = started.elapsed();
    match result {
        // A lower bound only: it holds however slow the machine is.
        Ok(Answer::Final {
            outcome: Outcome::Ok,
            ..
        }) if elapsed >= latency => Ok(()),
        // The fault checks run on the first `Ok` or `Submitted` case: an agency that
        // answers by callback accepts, just as late.
        Ok(Answer::Submitted { .. }) if case.expect == Expect::Submitted && elapsed >= latency => {
            Ok(())
        }
        other => Err(format!(
            "got {other:?} after {elapsed:?} (latency {latency:?})"
        )),
    }
}

async fn unreachable_agency(kit: &Kit) -> Result<(), String> {
    let Some(case) = kit.cases.first() else {
        return Err("no case given".into());
    };
    // Bind, then close: nothing listens on that port any more.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("could not find a free port: {e}"))?;
    let adapter = (kit.adapter)(&format!("{}://{addr}", kit.scheme), Credentials::Valid);
    let result = timed(call(&*adapter, case, TaskId::new(), kit.call_timeout)).await?;
    match result {
        Err(err @ AdapterError::Unavailable { .. }) if err.is_retryable() => Ok(()),
        other => Err(format!("expected retryable Unavailable, got {other:?}")),
    }
}

async fn unsupported_service(kit: &Kit) -> Result<(), String> {
    let Some(case) = kit.cases.first() else {
        return Err("no case given".into());
    };
    let adapter = (kit.adapter)(&format!("{}://127.0.0.1:9", kit.scheme), Credentials::Valid);
    let service =
        ServiceName::parse("conformance.never.served").map_err(|e| format!("kit bug: {e}"))?;
    let other = Case {
        service,
        ..case.clone()
    };
    match call(&*adapter, &other, TaskId::new(), kit.call_timeout).await {
        Err(err @ AdapterError::UnsupportedService(_)) if !err.is_retryable() => Ok(()),
        other => Err(format!("expected UnsupportedService, got {other:?}")),
    }
}
