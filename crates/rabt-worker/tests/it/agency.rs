//! The agency side of the tests: Saudi Post's `post.address.verify`, scripted per task.
//!
//! It is a real [`Adapter`] behind the worker, so everything the worker does around a
//! call (schema checks, retries, timeouts, recording) runs as in production. Each task
//! gets a script of replies; the last reply repeats, and an unscripted task is answered
//! with the golden address. Every call is recorded, to count calls per task.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rabt_adapter::{Adapter, AdapterError, Answer, BoxFuture, CallbackAnswer, ServiceCall};
use rabt_core::{Agency, Outcome, ServiceName, TaskId};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The one service these tests call.
pub(crate) const SERVICE: &str = "post.address.verify";

/// How the agency answers one call.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// The address exists: `OK` with the full address.
    Found,
    /// No such address: `NOT_FOUND` with `{"found": false}`.
    NotFound,
    /// 503 without `Retry-After`: retryable.
    Unavailable,
    /// The agency rejects the input: not retryable.
    InvalidInput,
    /// An answer that breaks the service's output schema.
    BreaksSchema,
    /// A slow call: answers `Found` only once `token` is cancelled.
    FoundAfter(CancellationToken),
}

/// A call the agency received.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) task: TaskId,
    pub(crate) attempt: u32,
    pub(crate) service: ServiceName,
    pub(crate) input: Value,
    pub(crate) traceparent: Option<String>,
}

/// Saudi Post, as scripted by the test.
#[derive(Debug, Default)]
pub(crate) struct ScriptedAgency {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    scripts: HashMap<TaskId, VecDeque<Reply>>,
    calls: Vec<Call>,
}

impl ScriptedAgency {
    /// How the agency answers `task`'s calls, in order; the last reply repeats.
    pub(crate) fn script(&self, task: TaskId, replies: impl IntoIterator<Item = Reply>) {
        let replies: VecDeque<Reply> = replies.into_iter().collect();
        assert!(!replies.is_empty(), "a script needs at least one reply");
        self.state.lock().unwrap().scripts.insert(task, replies);
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
        match state.scripts.get_mut(&call.task) {
            Some(script) if script.len() > 1 => script.pop_front().unwrap(),
            Some(script) => script.front().cloned().unwrap(),
            None => Reply::Found,
        }
    }
}

impl Adapter for ScriptedAgency {
    fn agency(&self) -> Agency {
        Agency::SaudiPost
    }

    fn services(&self) -> &'static [&'static str] {
        &[SERVICE]
    }

    fn callback(&self, _body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        Err(AdapterError::BadCallback(
            "the scripted agency answers synchronously and never calls back".to_owned(),
        ))
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        let reply = self.receive(&call);
        let service = call.service.clone();
        Box::pin(async move {
            if service.as_str() != SERVICE {
                return Err(AdapterError::UnsupportedService(service));
            }
            answer(reply).await
        })
    }
}

async fn answer(reply: Reply) -> Result<Answer, AdapterError> {
    let final_answer = |outcome, data| {
        Ok(Answer::Final {
            outcome,
            data,
            upstream_ref: Some("SPL-REF-1".to_owned()),
        })
    };
    match reply {
        Reply::Found => final_answer(Outcome::Ok, found_address()),
        Reply::NotFound => final_answer(Outcome::NotFound, json!({"found": false})),
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
            final_answer(Outcome::Ok, found_address())
        }
    }
}

/// The golden address of the sandbox world, as the service's output.
pub(crate) fn found_address() -> Value {
    json!({
        "found": true,
        "shortAddress": "RRRD2929",
        "buildingNumber": "2929",
        "additionalNumber": "7788",
        "postalCode": "12211",
        "street": { "ar": "طريق الملك فهد", "en": "King Fahd Road" },
        "district": { "ar": "العليا", "en": "Al Olaya" },
        "city": { "ar": "الرياض", "en": "Riyadh" },
        "region": { "ar": "منطقة الرياض", "en": "Riyadh Region" },
        "location": { "lat": 24.7136, "lng": 46.6753 }
    })
}

/// `found` must be a boolean and nothing outside the schema's properties may appear.
pub(crate) fn schema_breaking_answer() -> Value {
    json!({"found": "yes", "owner": "someone"})
}

/// The input every test request carries.
pub(crate) fn address_input() -> Value {
    json!({"shortAddress": "RRRD2929"})
}

#[test]
fn the_fixtures_are_what_the_output_schema_says() {
    let catalogue = rabt_catalogue::Catalogue::bundled().unwrap();
    let service = catalogue.service(SERVICE).unwrap();
    service.validate_input(&address_input()).unwrap();
    service.validate_output(&found_address()).unwrap();
    service.validate_output(&json!({"found": false})).unwrap();
    assert!(service.validate_output(&schema_breaking_answer()).is_err());
}
