//! What travels on the broker. Messages carry ids only, never personal data: the
//! database is the source of truth, and a worker reads the task it is given.
//!
//! Each message is a versioned enum (`{"v": 1, ...}`). A variant is never removed or
//! changed while messages of it may still sit in a queue; a new shape is a new version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::agency::Agency;
use crate::ids::{CallbackId, CooperativeId, RequestId, TaskId};
use crate::outcome::Verdict;
use crate::service::ServiceName;

// The exchanges every message goes through. Named here, below both the store (whose
// outbox rows name the exchange to publish to) and the queue (which declares them), so
// that the two cannot disagree.

/// Direct exchange for tasks ([`TaskMessage`]); the routing key is the agency's wire
/// name.
pub const TASKS_EXCHANGE: &str = "rabt.tasks";
/// Topic exchange for events ([`Event`]; routing key [`Event::routing_key`]).
pub const EVENTS_EXCHANGE: &str = "rabt.events";
/// Direct exchange for dead letters; the routing key is the agency's wire name.
pub const DEAD_EXCHANGE: &str = "rabt.dead";

/// The header (on a broker message and on an HTTP request alike) that carries the W3C
/// trace context (<https://www.w3.org/TR/trace-context/>). Named here, below the store
/// (outbox rows), the trace crate (spans) and the adapters (calls to an agency), so
/// that the one trace of a request cannot break on a misspelt header.
pub const TRACEPARENT: &str = "traceparent";

/// A unit of work for the worker of one agency, published to `rabt.tasks` with the
/// agency as routing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "v")]
pub enum TaskMessage {
    /// Version 1.
    #[serde(rename = "1")]
    V1 {
        /// The task to run.
        task: TaskId,
        /// Its request.
        request: RequestId,
        /// The agency whose queue carries it.
        agency: Agency,
        /// The service to call.
        service: ServiceName,
        /// The task's deadline, so that the worker's gate can bound its wait (and an
        /// open circuit) before the task is read or started. Absent in messages written
        /// before it was added: the worker then reads the task for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_at: Option<DateTime<Utc>>,
    },
    /// A callback the agency sent, verified and stored by the API, for the agency's
    /// worker to read with its adapter and apply.
    #[serde(rename = "callback-1")]
    CallbackV1 {
        /// The stored callback.
        callback: CallbackId,
        /// The agency whose queue carries it.
        agency: Agency,
    },
}

impl TaskMessage {
    /// The task to run, for a task message.
    pub fn task_id(&self) -> Option<TaskId> {
        match self {
            TaskMessage::V1 { task, .. } => Some(*task),
            TaskMessage::CallbackV1 { .. } => None,
        }
    }

    /// The agency whose queue carries it.
    pub fn agency(&self) -> Agency {
        match self {
            TaskMessage::V1 { agency, .. } | TaskMessage::CallbackV1 { agency, .. } => *agency,
        }
    }

    /// What it is about, for logs: `task_…` or `cb_…`.
    pub fn subject(&self) -> String {
        match self {
            TaskMessage::V1 { task, .. } => task.to_string(),
            TaskMessage::CallbackV1 { callback, .. } => callback.to_string(),
        }
    }
}

/// Something that happened, published to the `rabt.events` topic exchange. Listeners
/// (`Prefer: wait`, the dashboard, the webhook notifier) treat events as hints and read
/// the database for the truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "v")]
pub enum Event {
    /// Version 1.
    #[serde(rename = "1")]
    V1(EventV1),
}

/// The events of version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventV1 {
    /// Every task of a request ended and the request has its verdict.
    RequestCompleted {
        /// The request.
        request: RequestId,
        /// Whose request it is.
        cooperative: CooperativeId,
        /// Its verdict.
        verdict: Verdict,
    },
}

impl Event {
    /// The routing key on `rabt.events`: `request.completed.<cooperative id>`.
    pub fn routing_key(&self) -> String {
        match self {
            Event::V1(EventV1::RequestCompleted { cooperative, .. }) => {
                format!("request.completed.{cooperative}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_message_wire_form_is_versioned() {
        let task = TaskId::new();
        let request = RequestId::new();
        let msg = TaskMessage::V1 {
            task,
            request,
            agency: Agency::SaudiPost,
            service: ServiceName::parse("post.address.verify").unwrap(),
            deadline_at: None,
        };
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["v"], "1");
        assert!(
            json.get("deadline_at").is_none(),
            "absent, as older messages are"
        );
        assert_eq!(json["agency"], "saudi-post");
        assert_eq!(json["task"], task.to_string());
        assert_eq!(serde_json::from_value::<TaskMessage>(json).unwrap(), msg);
    }

    #[test]
    fn task_message_carries_its_deadline_when_known() {
        let deadline = DateTime::parse_from_rfc3339("2026-12-07T10:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let msg = TaskMessage::V1 {
            task: TaskId::new(),
            request: RequestId::new(),
            agency: Agency::Interior,
            service: ServiceName::parse("interior.identity.verify").unwrap(),
            deadline_at: Some(deadline),
        };
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["deadline_at"], "2026-12-07T10:00:00.250Z");
        assert_eq!(serde_json::from_value::<TaskMessage>(json).unwrap(), msg);
    }

    #[test]
    fn callback_messages_have_their_own_version_tag() {
        let callback = CallbackId::new();
        let msg = TaskMessage::CallbackV1 {
            callback,
            agency: Agency::Municipal,
        };
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["v"], "callback-1");
        assert_eq!(json["callback"], callback.to_string());
        assert_eq!(msg.task_id(), None);
        assert_eq!(serde_json::from_value::<TaskMessage>(json).unwrap(), msg);
    }

    #[test]
    fn unknown_versions_do_not_decode() {
        let json = r#"{"v":"9","task":"task_0193b3c1e6f87c2a9d4e5f60718293a4"}"#;
        assert!(serde_json::from_str::<TaskMessage>(json).is_err());
    }

    #[test]
    fn events_route_by_cooperative() {
        let cooperative = CooperativeId::new();
        let event = Event::V1(EventV1::RequestCompleted {
            request: RequestId::new(),
            cooperative,
            verdict: Verdict::Pass,
        });
        assert_eq!(
            event.routing_key(),
            format!("request.completed.{cooperative}")
        );
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains(r#""type":"request_completed""#), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }
}
