//! The notifier against real receivers: axum servers on loopback addresses that record
//! what they get and answer as scripted, a store on SQLite and on PostgreSQL (the
//! notifier needs no broker), requests completed through the store as workers
//! complete them. Each test drives the notifier round by round with
//! [`Notifier::notify_due`], so nothing waits on a poll interval.

mod delivery;
mod ssrf;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rabt_core::{Agency, CooperativeId, Outcome, RequestId, ServiceName, TaskId, UnifiedNumber};
use rabt_store::{
    Actor, IdempotencyRecord, NewCooperative, NewRequest, NewTask, NotificationRecord, Store,
    TaskCompletion,
};
use rabt_test_support::{Backend, TempAnyDatabase};
use rabt_webhook::{Secret, SignedHeaders};
use rabt_worker::notify::TargetGuard;
use rabt_worker::{Notifier, NotifierSettings, RetrySchedule};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Runs `name(backend)` on SQLite and PostgreSQL, as `name::sqlite` and
/// `name::postgres`.
macro_rules! backend_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(rabt_test_support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(rabt_test_support::Backend::Postgres).await
            }
        }
    };
}
pub(crate) use backend_test;

/// A migrated store of its own and a cooperative with a webhook secret.
pub(crate) struct Setup {
    pub(crate) store: Store,
    pub(crate) cooperative: CooperativeId,
    pub(crate) secret: Secret,
    _database: TempAnyDatabase,
}

impl Setup {
    pub(crate) async fn new(backend: Backend) -> Setup {
        let setup = Setup::without_secret(backend).await;
        setup
            .store
            .set_webhook_secret(setup.cooperative, &setup.secret.expose(), Actor::System)
            .await
            .unwrap();
        setup
    }

    /// As [`Setup::new`], but the cooperative has no webhook secret.
    pub(crate) async fn without_secret(backend: Backend) -> Setup {
        let database = TempAnyDatabase::create(backend, "rabt_notify_")
            .await
            .unwrap();
        let store = Store::connect(database.url(), 4).await.unwrap();
        store.migrate().await.unwrap();
        let digits = rand::random::<u64>() % 1_000_000_000;
        let cooperative = CooperativeId::new();
        store
            .create_cooperative(&NewCooperative {
                id: cooperative,
                name: "جمعية الإشعارات التعاونية".to_owned(),
                unified_number: UnifiedNumber::parse(&format!("7{digits:09}")).unwrap(),
                services: vec![ServiceName::parse("post.address.verify").unwrap()],
            })
            .await
            .unwrap();
        Setup {
            store,
            cooperative,
            secret: Secret::generate(),
            _database: database,
        }
    }

    /// A request for `notify_url`, accepted and completed `OK`: its notification is due.
    pub(crate) async fn completed(&self, notify_url: &str) -> RequestId {
        let now = Utc::now();
        let request = RequestId::new();
        let task = TaskId::new();
        let service = ServiceName::parse("post.address.verify").unwrap();
        let input = json!({"shortAddress": "RRRD2929"});
        self.store
            .accept_request(&NewRequest {
                id: request,
                cooperative: self.cooperative,
                service: service.clone(),
                input: input.clone(),
                reference: Some("hq-address".to_owned()),
                notify_url: Some(notify_url.to_owned()),
                created_at: now,
                deadline_at: now + chrono::Duration::seconds(60),
                idempotency: IdempotencyRecord {
                    key: request.to_string(),
                    body_hash: "digest".to_owned(),
                    response_status: 202,
                    response_body: "{}".to_owned(),
                },
                tasks: vec![NewTask {
                    id: task,
                    agency: Agency::SaudiPost,
                    service,
                    input,
                    required: true,
                    deadline_at: now + chrono::Duration::seconds(60),
                    child: None,
                    blocked: false,
                }],
                traceparent: None,
                subjects: Vec::new(),
            })
            .await
            .unwrap();
        self.store.start_task(task, Utc::now()).await.unwrap();
        self.store
            .complete_task(&TaskCompletion {
                task,
                outcome: Outcome::Ok,
                data: Some(json!({"found": true})),
                upstream_ref: None,
                error: None,
                latency_ms: Some(5),
                completed_at: Utc::now(),
            })
            .await
            .unwrap();
        request
    }

    /// The request's one notification.
    pub(crate) async fn notification(&self, request: RequestId) -> NotificationRecord {
        let mut all = self.store.notifications_of(request).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    /// A notifier with `schedule`, guarded by `guard`.
    pub(crate) fn notifier(&self, guard: TargetGuard, schedule: Vec<Duration>) -> Notifier {
        let settings = NotifierSettings {
            allow_private_targets: guard.allows_private_targets(),
            timeout: Duration::from_secs(10),
            schedule: RetrySchedule::new(schedule),
            poll_interval: Duration::from_millis(20),
            batch_size: 16,
        };
        Notifier::with_guard(self.store.clone(), guard, settings).unwrap()
    }
}

/// What a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: SignedHeaders,
    pub(crate) body: Bytes,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver on a loopback address that records every POST and answers with the next
/// scripted answer (204 once the script is used up).
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) address: SocketAddr,
    state: Arc<ReceiverState>,
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Response>>,
}

impl Receiver {
    /// A receiver on `ip` (e.g. `127.0.0.1`, or `127.0.0.2` for "another host").
    pub(crate) async fn start(ip: &str, script: Vec<Response>) -> Receiver {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState {
            received: Mutex::new(Vec::new()),
            script: Mutex::new(script.into()),
        });
        let app = Router::new().fallback(record).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { address, state }
    }

    /// `http://<address><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Everything received so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

async fn record(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.received.lock().unwrap().push(Received {
        headers: SignedHeaders {
            id: text(rabt_webhook::ID_HEADER),
            timestamp: text(rabt_webhook::TIMESTAMP_HEADER),
            signature: text(rabt_webhook::SIGNATURE_HEADER),
        },
        body,
    });
    let next = state.script.lock().unwrap().pop_front();
    next.unwrap_or_else(|| StatusCode::NO_CONTENT.into_response())
}

/// A redirect to `location`.
pub(crate) fn redirect(location: &str) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [("location", location.to_owned())],
    )
        .into_response()
}

/// Checks a received notification's signature as a cooperative would.
pub(crate) fn verify(secret: &Secret, received: &Received) {
    rabt_webhook::verify(
        std::slice::from_ref(secret),
        &received.headers,
        &received.body,
        Utc::now().timestamp(),
        rabt_webhook::DEFAULT_TOLERANCE,
    )
    .unwrap_or_else(|e| panic!("the signature does not verify: {e}"));
}
