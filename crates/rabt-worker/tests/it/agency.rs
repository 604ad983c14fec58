//! The agency side of the tests: one scripted adapter per agency, each serving that
//! agency's services of the catalogue and scripted per task.
//!
//! They are real [`Adapter`]s behind the worker, so everything the worker does around a
//! call (schema checks, retries, timeouts, recording, callbacks) runs as in production.
//! Each task gets a script of replies; the last reply repeats, and an unscripted task
//! is answered `OK` at once with the service's example output, whatever the agency's
//! mode (the worker does not care how an agency answers). Every call, and every
//! callback body read, is recorded, with when each call came and how many were in
//! flight at once. An agency can also go down: every call gets one reply, whatever
//! the task's script, until it recovers.
//!
//! Municipal callbacks are read as Balady's are shaped (`schemas/callbacks/
//! municipal.json`): an `ACTIVE` licence is `OK`, any other status `MISMATCH`, none
//! `NOT_FOUND`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use rabt_adapter::{Adapter, AdapterError, Answer, BoxFuture, CallbackAnswer, ServiceCall};
use rabt_core::{Agency, Outcome, ServiceName, TaskId};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fixtures::{ok_output, schema_breaking_answer};

/// How the agency answers one call.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// `OK` with the service's example output (Saudi Post: the golden address).
    Found,
    /// Nothing there: `NOT_FOUND` with `{"found": false}` (for the services whose
    /// output says `found`).
    NotFound,
    /// A definite answer of the test's choosing.
    Answer(Outcome, Value),
    /// Accepted: the agency answers later by a callback quoting this reference.
    Submitted(String),
    /// The agency never answers; only the worker's timeout ends the call.
    Silent,
    /// 503 without `Retry-After`: retryable.
    Unavailable,
    /// The agency rejects the input: not retryable.
    InvalidInput,
    /// An answer that breaks the service's output schema.
    BreaksSchema,
    /// A slow call: answers `Found` only once `token` is cancelled.
    FoundAfter(CancellationToken),
    /// An agency that takes this long to answer `Found`.
    FoundIn(std::time::Duration),
}

/// A call an agency received.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) task: TaskId,
    pub(crate) attempt: u32,
    pub(crate) service: ServiceName,
    pub(crate) input: Value,
    pub(crate) traceparent: Option<String>,
}

/// One agency, as scripted by the test.
#[derive(Debug)]
pub(crate) struct ScriptedAgency {
    agency: Agency,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    scripts: HashMap<TaskId, VecDeque<Reply>>,
    calls: Vec<Call>,
    callbacks_read: Vec<Value>,
    /// References whose callbacks this adapter cannot read.
    unreadable: HashSet<String>,
    /// While set, every call gets this reply.
    outage: Option<Reply>,
    /// When each call came, oldest first.
    call_times: Vec<Instant>,
    /// Calls not answered yet, and the most there were at once.
    in_flight: usize,
    most_in_flight: usize,
}

impl ScriptedAgency {
    /// The agency, answering every call `OK` until scripted otherwise.
    pub(crate) fn new(agency: Agency) -> ScriptedAgency {
        ScriptedAgency {
            agency,
            state: Mutex::default(),
        }
    }

    /// How the agency answers `task`'s calls, in order; the last reply repeats.
    pub(crate) fn script(&self, task: TaskId, replies: impl IntoIterator<Item = Reply>) {
        let replies: VecDeque<Reply> = replies.into_iter().collect();
        assert!(!replies.is_empty(), "a script needs at least one reply");
        self.state.lock().unwrap().scripts.insert(task, replies);
    }

    /// Makes the adapter fail to read the callbacks quoting `reference`, as an adapter
    /// meeting a body it does not understand.
    pub(crate) fn cannot_read_callbacks_for(&self, reference: &str) {
        let mut state = self.state.lock().unwrap();
        state.unreadable.insert(reference.to_owned());
    }

    /// The calls made for `task`, oldest first.
    pub(crate) fn calls(&self, task: TaskId) -> Vec<Call> {
        let state = self.state.lock().unwrap();
        state
            .calls
            .iter()
            .filter(|c| c.task == task)
            .cloned()
            .collect()
    }

    /// Every call made, for any task.
    pub(crate) fn total_calls(&self) -> usize {
        self.state.lock().unwrap().calls.len()
    }

    /// The callback bodies the worker asked this adapter to read, oldest first.
    pub(crate) fn callbacks_read(&self) -> Vec<Value> {
        self.state.lock().unwrap().callbacks_read.clone()
    }

    /// The agency goes down: every call gets `reply`, whatever the task's script (which
    /// is left as it was), until [`ScriptedAgency::recover`].
    pub(crate) fn go_down(&self, reply: Reply) {
        self.state.lock().unwrap().outage = Some(reply);
    }

    /// The agency is back: calls follow their scripts again.
    pub(crate) fn recover(&self) {
        self.state.lock().unwrap().outage = None;
    }

    /// When each call came, oldest first.
    pub(crate) fn call_times(&self) -> Vec<Instant> {
        self.state.lock().unwrap().call_times.clone()
    }

    /// Calls not answered yet.
    pub(crate) fn calls_in_flight(&self) -> usize {
        self.state.lock().unwrap().in_flight
    }

    /// The most calls there were in flight at once.
    pub(crate) fn most_calls_at_once(&self) -> usize {
        self.state.lock().unwrap().most_in_flight
    }

    /// Records the call and picks its reply.
    fn receive(&self, call: &ServiceCall<'_>) -> Reply {
        let mut state = self.state.lock().unwrap();
        state.calls.push(Call {
            task: call.task,
            attempt: call.attempt,
            service: call.service.clone(),
            input: call.input.clone(),
            traceparent: call.traceparent.map(str::to_owned),
        });
        state.call_times.push(Instant::now());
        state.in_flight += 1;
        state.most_in_flight = state.most_in_flight.max(state.in_flight);
        if let Some(reply) = &state.outage {
            return reply.clone();
        }
        match state.scripts.get_mut(&call.task) {
            Some(script) if script.len() > 1 => script.pop_front().unwrap(),
            Some(script) => script.front().cloned().unwrap(),
            None => Reply::Found,
        }
    }
}

impl Adapter for ScriptedAgency {
    fn agency(&self) -> Agency {
        self.agency
    }

    fn services(&self) -> &'static [&'static str] {
        services_of(self.agency)
    }

    fn callback(&self, body: &Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        let mut state = self.state.lock().unwrap();
        state.callbacks_read.push(body.clone());
        let reference = body["reference"].as_str().unwrap_or_default();
        if state.unreadable.contains(reference) {
            return Err(AdapterError::BadCallback(format!(
                "the scripted agency cannot read the callback for {reference}"
            )));
        }
        match self.agency {
            Agency::Municipal => read_municipal_callback(body),
            other => Err(AdapterError::BadCallback(format!(
                "the scripted {other} agency never calls back"
            ))),
        }
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        let reply = self.receive(&call);
        let service = call.service.clone();
        let served = self.services().contains(&service.as_str());
        // Until the answer is given, or the worker drops the call.
        let _in_flight = InFlight(&self.state);
        Box::pin(async move {
            let _in_flight = _in_flight;
            if !served {
                return Err(AdapterError::UnsupportedService(service));
            }
            answer(reply, service.as_str()).await
        })
    }
}

/// One call in flight, counted down when dropped.
struct InFlight<'a>(&'a Mutex<State>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

/// The catalogue's services of each agency.
fn services_of(agency: Agency) -> &'static [&'static str] {
    match agency {
        Agency::Interior => &["interior.identity.verify", "interior.mobile.verify"],
        Agency::Health => &["health.certificates.verify"],
        Agency::Labor => &[
            "labor.establishment.compliance",
            "labor.cooperative.registration",
        ],
        Agency::Municipal => &["municipal.license.verify"],
        Agency::Chambers => &["chambers.membership.verify"],
        Agency::SaudiPost => &["post.address.verify"],
    }
}

async fn answer(reply: Reply, service: &str) -> Result<Answer, AdapterError> {
    let final_answer = |outcome, data| {
        Ok(Answer::Final {
            outcome,
            data,
            upstream_ref: Some("SPL-REF-1".to_owned()),
        })
    };
    match reply {
        Reply::Found => final_answer(Outcome::Ok, ok_output(service)),
        Reply::NotFound => final_answer(Outcome::NotFound, json!({"found": false})),
        Reply::Answer(outcome, data) => final_answer(outcome, data),
        Reply::Submitted(upstream_ref) => Ok(Answer::Submitted { upstream_ref }),
        Reply::Silent => std::future::pending().await,
        Reply::Unavailable => Err(AdapterError::Unavailable {
            reason: "503 Service Unavailable".to_owned(),
            retry_after: None,
            source: None,
        }),
        Reply::InvalidInput => Err(AdapterError::Refused {
            outcome: Outcome::InvalidInput,
            reason: "the short address is not a valid National Address".to_owned(),
        }),
        Reply::BreaksSchema => final_answer(Outcome::Ok, schema_breaking_answer()),
        Reply::FoundAfter(token) => {
            token.cancelled().await;
            final_answer(Outcome::Ok, ok_output(service))
        }
        Reply::FoundIn(latency) => {
            tokio::time::sleep(latency).await;
            final_answer(Outcome::Ok, ok_output(service))
        }
    }
}

/// A municipal callback as `municipal.license.verify` answers.
pub(crate) fn read_municipal_callback(body: &Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
    let bad = |what: &str| AdapterError::BadCallback(format!("no {what} in the callback"));
    let reference = body["reference"].as_str().ok_or_else(|| bad("reference"))?;
    let (outcome, data) = match body["result"].as_str() {
        Some("NOT_FOUND") => (Outcome::NotFound, json!({"found": false})),
        Some("FOUND") => {
            let licence = &body["license"];
            let status = licence["status"].as_str().ok_or_else(|| bad("status"))?;
            let activities: Vec<Value> = licence["activities"]
                .as_array()
                .ok_or_else(|| bad("activities"))?
                .iter()
                .map(|a| {
                    json!({
                        "code": a["activityCode"],
                        "name": { "ar": a["activityNameAr"], "en": a["activityNameEn"] }
                    })
                })
                .collect();
            let data = json!({
                "found": true,
                "licenseNumber": licence["licenseNumber"],
                "licenseType": licence["licenseType"],
                "status": status,
                "activities": activities,
                "issuedAt": {
                    "gregorian": licence["issueDateGregorian"],
                    "hijri": licence["issueDateHijri"]
                },
                "expiresAt": {
                    "gregorian": licence["expiryDateGregorian"],
                    "hijri": licence["expiryDateHijri"]
                }
            });
            let outcome = if status == "ACTIVE" {
                Outcome::Ok
            } else {
                Outcome::Mismatch
            };
            (outcome, data)
        }
        _ => return Err(bad("result")),
    };
    Ok(vec![CallbackAnswer {
        upstream_ref: reference.to_owned(),
        outcome,
        data,
    }])
}
