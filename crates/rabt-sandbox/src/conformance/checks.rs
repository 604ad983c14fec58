//! The checks [`run`](super::run) goes through, each against a fresh simulator.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rabt_core::{Outcome, ServiceName, TaskId};

use super::{Case, Credentials, Expect, Kit};
use crate::simulator::{self, Fault, Knobs, KnobsHandle};
use rabt_adapter::{Adapter, AdapterError, Answer, ServiceCall};

/// A hang is detected if a timed-out call takes longer than this: far above any call
/// timeout the kit uses, far below the simulator's hour-long hang, so noisy machines
/// do not fail it.
const HANG_DETECTED: Duration = Duration::from_secs(60);

/// The short call timeout of the timeout checks.
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

/// A `traceparent` the kit sends with every call.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

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

pub(super) fn declared(kit: &Kit) -> Result<(), String> {
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

pub(super) async fn expected_answer(kit: &Kit, case: &Case) -> Result<(), String> {
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

pub(super) type Check = (&'static str, Result<(), String>);

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

pub(super) async fn fault_checks(kit: &Kit, case: &Case) -> Vec<Check> {
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

pub(super) async fn unreachable_agency(kit: &Kit) -> Result<(), String> {
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

pub(super) async fn unsupported_service(kit: &Kit) -> Result<(), String> {
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
