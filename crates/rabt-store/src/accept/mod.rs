//! The accept path: a cooperative's request, its tasks, their outbox messages and the
//! audit entries are written in one transaction, guarded by the idempotency key. The
//! transaction may hold several requests (group commit: [`batch`], [`group`]); a single
//! request is a batch of one.

mod batch;
pub mod group;
mod write;

pub use batch::{AcceptAnswer, Pending};

use std::time::Duration;

use chrono::{DateTime, Utc};
use rabt_core::{Agency, CooperativeId, RequestId, ServiceName, TaskId, TaskMessage};
use serde_json::json;

use crate::audit::{Actor, NewAuditEntry};
use crate::connect::Store;
use crate::error::StoreError;
use crate::outbox::OutboxRow;
use sha2::{Digest, Sha256};

/// A request the API has validated, with the tasks it fans out to.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    /// Its id.
    pub id: RequestId,
    /// Whose request it is.
    pub cooperative: CooperativeId,
    /// The service asked for.
    pub service: ServiceName,
    /// The validated input (personal data: stored here and in task inputs only).
    pub input: serde_json::Value,
    /// The cooperative's own reference.
    pub reference: Option<String>,
    /// Where to notify the cooperative of the result.
    pub notify_url: Option<String>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it must have its verdict.
    pub deadline_at: DateTime<Utc>,
    /// The idempotency key and the response to replay for it.
    pub idempotency: IdempotencyRecord,
    /// Its tasks, in display order; at least one.
    pub tasks: Vec<NewTask>,
    /// The W3C trace context of the HTTP request, carried on to the queue.
    pub traceparent: Option<String>,
    /// Keyed digests (HMAC-SHA256 under the deployment's personal-data key) of the
    /// identity numbers and mobiles in the input: kept in the `request.accepted` audit
    /// entry and indexed for `rabt audit search`, so the log names people without
    /// holding their numbers.
    pub subjects: Vec<String>,
}

/// What is remembered for an idempotency key: the body it came with and the response
/// that was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The `Idempotency-Key` header.
    pub key: String,
    /// A digest of the request body, to tell a replay from a reused key.
    pub body_hash: String,
    /// The HTTP status answered.
    pub response_status: u16,
    /// The response body answered.
    pub response_body: String,
}

/// One call to one agency service, to be queued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Its id.
    pub id: TaskId,
    /// The agency to call.
    pub agency: Agency,
    /// The agency service to call.
    pub service: ServiceName,
    /// The task's input.
    pub input: serde_json::Value,
    /// Whether its outcome counts in the verdict.
    pub required: bool,
    /// When it times out.
    pub deadline_at: DateTime<Utc>,
    /// For a check of a composite request: the catalogue's child id and, for a child
    /// run once per element of an input array, the element's index.
    pub child: Option<(String, Option<u32>)>,
    /// A check that waits for the checks it depends on (status BLOCKED, no message
    /// queued, its input set when it is released).
    pub blocked: bool,
}

impl NewTask {
    /// A task queued at once, outside any composite.
    pub fn queued(
        agency: Agency,
        service: ServiceName,
        input: serde_json::Value,
        deadline_at: DateTime<Utc>,
    ) -> NewTask {
        NewTask {
            id: TaskId::new(),
            agency,
            service,
            input,
            required: true,
            deadline_at,
            child: None,
            blocked: false,
        }
    }
}

/// The result of [`Store::accept_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The request was stored and its tasks queued.
    Created,
    /// The key was used before by this cooperative; nothing was written. The API
    /// replays the stored response if the body hashes match, else answers 422.
    Existing {
        /// The request the key created.
        request: RequestId,
        /// The digest of the body it came with.
        body_hash: String,
        /// The status answered then.
        response_status: u16,
        /// The body answered then.
        response_body: String,
    },
}

impl Store {
    /// Stores a request in one transaction: its idempotency key, the request
    /// (ACCEPTED), its tasks (QUEUED, or BLOCKED for composite checks that wait for
    /// others), one outbox message per queued task and the audit entries. If the cooperative already used the key, writes nothing and returns
    /// [`Accepted::Existing`]. Concurrent calls with one key: exactly one creates.
    pub async fn accept_request(&self, new: &NewRequest) -> Result<Accepted, StoreError> {
        self.accept_request_leased(new, None)
            .await
            .map(|(accepted, _)| accepted)
    }

    /// As [`Store::accept_request`]; with a `lease`, the outbox rows are written claimed
    /// for it and come back, for this process's relay to publish at once (a
    /// [`crate::Handoff`]) instead of finding them in the table.
    pub async fn accept_request_leased(
        &self,
        new: &NewRequest,
        lease: Option<Duration>,
    ) -> Result<(Accepted, Vec<OutboxRow>), StoreError> {
        self.accept_request_within(new, lease, None).await
    }

    /// As [`Store::accept_request_leased`], counting the request against its
    /// cooperative's daily quota of `quota_per_day` accepted requests (UTC days) in the
    /// same transaction: past the quota, [`StoreError::QuotaExceeded`] and nothing is
    /// written. A replayed key does not count.
    pub async fn accept_request_within(
        &self,
        new: &NewRequest,
        lease: Option<Duration>,
        quota_per_day: Option<u64>,
    ) -> Result<(Accepted, Vec<OutboxRow>), StoreError> {
        let pending = Pending {
            new,
            lease,
            quota_per_day,
        };
        let mut answers = self.accept_batch(std::slice::from_ref(&pending)).await;
        // accept_batch answers each request it is given, in order: one here.
        answers.pop().expect("one answer for one request")
    }
}

/// Until when the outbox rows written at `at` are claimed for this process's relay: no
/// lease (or one too long to add) leaves them claimable at once.
pub(crate) fn lease_until(at: DateTime<Utc>, lease: Option<Duration>) -> DateTime<Utc> {
    lease
        .and_then(|lease| chrono::Duration::from_std(lease).ok())
        .and_then(|lease| at.checked_add_signed(lease))
        .unwrap_or(at)
}

/// The message that queues `task` of `new`.
pub(crate) fn task_message(new: &NewRequest, task: &NewTask) -> TaskMessage {
    TaskMessage::V1 {
        task: task.id,
        request: new.id,
        agency: task.agency,
        service: task.service.clone(),
        deadline_at: Some(task.deadline_at),
    }
}

/// The audit entries of an accepted request: `request.accepted` by its cooperative
/// (with the digests of the people it concerns), then one `task.queued` or
/// `task.blocked` per task.
pub(crate) fn accepted_audit(new: &NewRequest) -> Vec<NewAuditEntry> {
    let mut request_audit =
        NewAuditEntry::new(Actor::Cooperative(new.cooperative), "request.accepted");
    request_audit.request = Some(new.id);
    request_audit.detail = json!({
        "service": new.service.as_str(),
        "tasks": new.tasks.len(),
    });
    if !new.subjects.is_empty() {
        request_audit.detail["subjects"] = json!(new.subjects);
    }
    let mut audit = Vec::with_capacity(1 + new.tasks.len());
    audit.push(request_audit);
    for task in &new.tasks {
        let action = if task.blocked {
            "task.blocked"
        } else {
            "task.queued"
        };
        let mut queued = NewAuditEntry::new(Actor::System, action);
        queued.request = Some(new.id);
        queued.task = Some(task.id);
        queued.detail = json!({
            "agency": task.agency.as_str(),
            "service": task.service.as_str(),
        });
        audit.push(queued);
    }
    audit
}

/// The PostgreSQL advisory lock that an accept transaction holds on its cooperative's
/// idempotency key: the first 8 bytes of SHA-256 over both, so that a second
/// transaction with the same key, in any process, sees the first one in flight.
pub fn key_lock(cooperative: CooperativeId, key: &str) -> i64 {
    let digest = Sha256::digest(format!("rabt-idempotency\0{cooperative}\0{key}").as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(head)
}

/// A (cooperative, key) pair being accepted in this process (SQLite); released on drop.
struct KeyInFlight {
    store: Store,
    pair: (String, String),
}

impl KeyInFlight {
    fn take(store: &Store, new: &NewRequest) -> Result<KeyInFlight, StoreError> {
        let pair = (new.cooperative.to_string(), new.idempotency.key.clone());
        let mut keys = store
            .keys_in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !keys.insert(pair.clone()) {
            return Err(StoreError::KeyInFlight);
        }
        Ok(KeyInFlight {
            store: store.clone(),
            pair,
        })
    }
}

impl Drop for KeyInFlight {
    fn drop(&mut self) {
        self.store
            .keys_in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.pair);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;
    use crate::cooperatives::NewCooperative;

    /// On SQLite a second accept with a key whose first accept waits for the writer lock
    /// is told it is in flight at once; the first then completes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_waiting_for_the_writer_is_in_flight_on_sqlite() {
        let store = Store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let coop = store
            .create_cooperative(&NewCooperative {
                id: CooperativeId::new(),
                name: "test".to_owned(),
                unified_number: rabt_core::UnifiedNumber::parse("7000000001").unwrap(),
                services: Vec::new(),
            })
            .await
            .unwrap();
        let new = |id| NewRequest {
            id,
            cooperative: coop.id,
            service: ServiceName::parse("post.address.verify").unwrap(),
            input: json!({}),
            reference: None,
            notify_url: None,
            created_at: Utc::now(),
            deadline_at: Utc::now(),
            idempotency: IdempotencyRecord {
                key: "k".to_owned(),
                body_hash: "h".to_owned(),
                response_status: 202,
                response_body: "{}".to_owned(),
            },
            tasks: vec![NewTask::queued(
                Agency::SaudiPost,
                ServiceName::parse("post.address.verify").unwrap(),
                json!({}),
                Utc::now(),
            )],
            traceparent: None,
            subjects: Vec::new(),
        };
        let writer = store.begin_write().await.unwrap();
        let first = new(RequestId::new());
        let waiting = tokio::spawn({
            let store = store.clone();
            let first = first.clone();
            async move { store.accept_request(&first).await }
        });
        // Until the first has registered its key, a second accept would wait behind it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.keys_in_flight.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the first never started"
            );
            tokio::task::yield_now().await;
        }
        let second = store.accept_request(&new(RequestId::new())).await;
        assert!(matches!(second, Err(StoreError::KeyInFlight)), "{second:?}");
        writer.rollback().await.unwrap();
        assert_eq!(waiting.await.unwrap().unwrap(), Accepted::Created);
        assert!(store.keys_in_flight.lock().unwrap().is_empty(), "released");
    }
}
