//! A deployment in miniature: a store, a transport, a cooperative, a scripted adapter
//! for every agency, and the relays and workers the test starts. Requests go in through
//! [`Store::accept_request`] exactly as the API sends them; results are read back through
//! the store (requests, tasks, audit log, outbox claims) and the transport (queue depth,
//! dead letters, events), never from the worker's insides.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rabt_catalogue::Catalogue;
use rabt_core::{Agency, CooperativeId, RequestId, RequestStatus, TaskId, UnifiedNumber};
use rabt_queue::Transport;
use rabt_store::{
    Accepted, AuditEntry, AuditQuery, Handoff, IdempotencyRecord, NewCooperative, NewRequest,
    NewTask, OutboxRow, RequestRecord, Store, TaskView,
};
use rabt_test_support::must::{eventually, within};
use rabt_test_support::{Backend, DEADLINE, TempAnyDatabase, TempVhost};
use rabt_worker::{BreakerSettings, OutboxRelay, RelaySettings, Worker, WorkerSettings};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agency::{Reply, ScriptedAgency};
use crate::fixtures::{SERVICE, address_input};
use crate::services;

/// A service of an agency the test worker has no adapter for.
pub(crate) const OTHER_AGENCY_SERVICE: &str = "interior.identity.verify";

/// The trace context every test request arrives with.
pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Which database runs with which transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pairing {
    /// The embedded mode (`rabt demo`).
    SqliteEmbedded,
    /// Production (`rabt serve`).
    PostgresRabbitmq,
}

/// Runs the test function `name(pairing: Pairing)` on both pairings, as the tests
/// `name::sqlite_embedded` and `name::postgres_rabbitmq`.
macro_rules! pairing_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_embedded() {
                super::$name($crate::rig::Pairing::SqliteEmbedded).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_rabbitmq() {
                super::$name($crate::rig::Pairing::PostgresRabbitmq).await
            }
        }
    };
}
pub(crate) use pairing_test;

/// The worker's settings in these tests. The deadline sweeper is effectively off
/// (its first round is an hour away), so a timeout is the worker's own doing unless a
/// test turns the sweeper on. The circuit breakers open as in production, but stay
/// open a fifth of a second (at most a second), so a test whose agency fails again and
/// again is slowed, not stalled; no agency has limits.
pub(crate) fn worker_settings() -> WorkerSettings {
    WorkerSettings {
        prefetch: 8,
        call_timeout: Duration::from_secs(10),
        deadline_sweep: Duration::from_secs(3600),
        breaker: BreakerSettings {
            cooldown: Duration::from_millis(200),
            max_cooldown: Duration::from_secs(1),
            ..BreakerSettings::default()
        },
        limits: BTreeMap::new(),
        pause_poll: Duration::from_millis(100),
    }
}

/// The tests' worker settings with one delivery at a time, in queue order: once a
/// later request completed, a duplicate published before it has been settled.
pub(crate) fn one_at_a_time() -> WorkerSettings {
    WorkerSettings {
        prefetch: 1,
        ..worker_settings()
    }
}

/// The relay's settings in these tests. A zero lease keeps every row the relay has not
/// deleted yet claimable, so [`Rig::outbox_drained`] sees a row a relay claimed and never
/// deleted, instead of missing it for the length of a lease.
pub(crate) fn relay_settings() -> RelaySettings {
    RelaySettings {
        batch_size: 64,
        lease: Duration::ZERO,
        poll_interval: Duration::from_millis(100),
    }
}

/// How often [`Rig::completed`] looks at a request.
const POLL: Duration = Duration::from_millis(25);

/// A request and its one task, as accepted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Submitted {
    pub(crate) request: RequestId,
    pub(crate) task: TaskId,
}

struct Running {
    what: &'static str,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

/// One test's deployment. Call [`Rig::finish`] at the end of a test; a test that
/// panics earlier still has its database and vhost removed.
pub(crate) struct Rig {
    pub(crate) store: Store,
    pub(crate) transport: Transport,
    /// Saudi Post, the agency of the single-service tests.
    pub(crate) agency: Arc<ScriptedAgency>,
    /// Every agency, Saudi Post included.
    agencies: BTreeMap<Agency, Arc<ScriptedAgency>>,
    /// What the workers started from now on run with; a test may replace it first.
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) cooperative: CooperativeId,
    wake: Arc<Notify>,
    running: Vec<Running>,
    // Last, so they outlive the handles above: dropping them removes the database and
    // the vhost.
    _database: TempAnyDatabase,
    _vhost: Option<TempVhost>,
}

impl Rig {
    /// A fresh database and broker with one cooperative; nothing running yet.
    pub(crate) async fn new(pairing: Pairing) -> Rig {
        let ((store, database), (transport, vhost)) = match pairing {
            Pairing::SqliteEmbedded => (
                services::database(Backend::Sqlite).await,
                (services::embedded(), None),
            ),
            Pairing::PostgresRabbitmq => {
                let (transport, vhost) = services::rabbitmq().await;
                let database = services::database(Backend::Postgres).await;
                (database, (transport, Some(vhost)))
            }
        };
        let catalogue = Catalogue::bundled().unwrap();
        let cooperative = onboard(&store, &catalogue).await;
        let agencies: BTreeMap<Agency, Arc<ScriptedAgency>> = Agency::ALL
            .iter()
            .map(|a| (*a, Arc::new(ScriptedAgency::new(*a))))
            .collect();
        Rig {
            store,
            transport,
            agency: agencies[&Agency::SaudiPost].clone(),
            agencies,
            catalogue: Arc::new(catalogue),
            cooperative,
            wake: Arc::new(Notify::new()),
            running: Vec::new(),
            _database: database,
            _vhost: vhost,
        }
    }

    /// A fresh rig with the relay and one worker (every agency, the tests' settings)
    /// running: what most tests start from.
    pub(crate) async fn running(pairing: Pairing) -> Rig {
        let mut rig = Rig::new(pairing).await;
        rig.start_relay();
        rig.start_worker(worker_settings());
        rig
    }

    /// Submits a `post.address.verify` request whose one call the Saudi Post adapter
    /// answers with `replies`, one a call.
    pub(crate) async fn submit_scripted(
        &self,
        replies: impl IntoIterator<Item = Reply>,
    ) -> Submitted {
        let new = self.new_request(address_input());
        self.agency.script(new.tasks[0].id, replies);
        self.submit(&new).await
    }

    /// Submits a scripted request (as [`Rig::submit_scripted`]) and waits for its
    /// verdict: the skeleton of a test of one call's answers.
    pub(crate) async fn answered(
        &self,
        replies: impl IntoIterator<Item = Reply>,
    ) -> (Submitted, RequestRecord) {
        let sent = self.submit_scripted(replies).await;
        let record = self.completed(sent.request).await;
        (sent, record)
    }

    /// The scripted adapter of `agency`.
    pub(crate) fn scripted(&self, agency: Agency) -> &ScriptedAgency {
        &self.agencies[&agency]
    }

    /// A worker for Saudi Post, as `rabt serve` builds it.
    pub(crate) fn worker(&self, settings: WorkerSettings) -> Worker {
        self.worker_for(&[Agency::SaudiPost], settings)
    }

    /// A worker serving `agencies` through their scripted adapters.
    pub(crate) fn worker_for(&self, agencies: &[Agency], settings: WorkerSettings) -> Worker {
        let adapters = agencies
            .iter()
            .map(|a| self.agencies[a].clone() as Arc<dyn rabt_adapter::Adapter>)
            .collect();
        Worker::new(
            self.store.clone(),
            self.transport.clone(),
            self.catalogue.clone(),
            adapters,
            self.wake.clone(),
            settings,
        )
    }

    /// Runs a worker for Saudi Post until the rig finishes; returns a clone of it, whose
    /// [`Worker::gates`] are the running worker's.
    pub(crate) fn start_worker(&mut self, settings: WorkerSettings) -> Worker {
        self.start_worker_for(&[Agency::SaudiPost], settings)
    }

    /// Runs a worker for `agencies` until the rig finishes; returns a clone of it.
    pub(crate) fn start_worker_for(
        &mut self,
        agencies: &[Agency],
        settings: WorkerSettings,
    ) -> Worker {
        let worker = self.worker_for(agencies, settings);
        let stop = CancellationToken::new();
        let handle = tokio::spawn(worker.clone().run(stop.clone()));
        self.running.push(Running {
            what: "worker",
            stop,
            handle,
        });
        worker
    }

    /// Runs a dead-letter drain for Saudi Post until the rig finishes.
    pub(crate) fn start_drain(&mut self) {
        let drain = self
            .worker_for(&[Agency::SaudiPost], worker_settings())
            .dead_letter_drain();
        let stop = CancellationToken::new();
        let handle = tokio::spawn(drain.run(stop.clone()));
        self.running.push(Running {
            what: "dead-letter drain",
            stop,
            handle,
        });
    }

    /// Runs an outbox relay until the rig finishes.
    pub(crate) fn start_relay(&mut self) {
        let relay = OutboxRelay::new(
            self.store.clone(),
            self.transport.clone(),
            self.wake.clone(),
            relay_settings(),
        );
        self.run_relay(relay);
    }

    /// Runs an outbox relay that takes rows handed over, with this lease, until the rig
    /// finishes; returns its handoff.
    pub(crate) fn start_relay_with_handoff(&mut self, lease: Duration) -> Handoff {
        let mut relay = OutboxRelay::new(
            self.store.clone(),
            self.transport.clone(),
            self.wake.clone(),
            RelaySettings {
                lease,
                ..relay_settings()
            },
        );
        let handoff = relay.handoff();
        self.run_relay(relay);
        handoff
    }

    fn run_relay(&mut self, relay: OutboxRelay) {
        let stop = CancellationToken::new();
        let handle = tokio::spawn(relay.run(stop.clone()));
        self.running.push(Running {
            what: "relay",
            stop,
            handle,
        });
    }

    /// Stops what runs, closes the transport; the database and vhost go on drop.
    pub(crate) async fn finish(mut self) {
        stop_all(std::mem::take(&mut self.running)).await;
        within("closing the transport", self.transport.close()).await;
    }

    /// A request for `post.address.verify` with `input`, built as the API builds it.
    pub(crate) fn new_request(&self, input: Value) -> NewRequest {
        self.request_for(SERVICE, input)
    }

    /// A request for `service` with `input`, built as the API builds it: the input
    /// checked against the service's schema, the service's deadline, one required task
    /// for its agency, an idempotency record and the caller's trace context.
    pub(crate) fn request_for(&self, service: &str, input: Value) -> NewRequest {
        self.request_with(service, input, |service, input, _, deadline_at| {
            vec![NewTask {
                id: TaskId::new(),
                agency: service.agency().unwrap(),
                service: service.name.clone(),
                input: input.clone(),
                required: true,
                deadline_at,
                child: None,
                blocked: false,
            }]
        })
    }

    /// A request for `service` with `input` and the tasks `fan_out` gives it (from the
    /// service, the input, the time of acceptance and the request's deadline).
    pub(crate) fn request_with(
        &self,
        service: &str,
        input: Value,
        fan_out: impl FnOnce(
            &rabt_catalogue::Service,
            &Value,
            DateTime<Utc>,
            DateTime<Utc>,
        ) -> Vec<NewTask>,
    ) -> NewRequest {
        let service = self.catalogue.service(service).unwrap();
        service
            .validate_input(&input)
            .unwrap_or_else(|v| panic!("a test input the API would refuse: {v:?}"));
        let now = Utc::now();
        let deadline_at = now + chrono::Duration::from_std(service.deadline).unwrap();
        let id = RequestId::new();
        NewRequest {
            id,
            cooperative: self.cooperative,
            service: service.name.clone(),
            tasks: fan_out(service, &input, now, deadline_at),
            input,
            reference: Some("worker-test".to_owned()),
            notify_url: None,
            created_at: now,
            deadline_at,
            idempotency: IdempotencyRecord {
                key: format!("key-{id}"),
                body_hash: format!("digest-of-{id}"),
                response_status: 202,
                response_body: json!({"id": id.to_string(), "status": "ACCEPTED"}).to_string(),
            },
            traceparent: Some(TRACEPARENT.to_owned()),
            subjects: Vec::new(),
        }
    }

    /// Wakes the relay, as the API does after committing outbox rows.
    pub(crate) fn wake_relay(&self) {
        self.wake.notify_one();
    }

    /// Accepts `new` and wakes the relay, as the API does after committing.
    pub(crate) async fn submit(&self, new: &NewRequest) -> Submitted {
        let accepted = self.store.accept_request(new).await.unwrap();
        assert_eq!(accepted, Accepted::Created);
        self.wake.notify_one();
        Submitted {
            request: new.id,
            task: new.tasks[0].id,
        }
    }

    /// A request as its cooperative reads it.
    pub(crate) async fn record(&self, request: RequestId) -> RequestRecord {
        self.store
            .get_request(self.cooperative, request)
            .await
            .unwrap()
            .expect("the request exists")
    }

    /// One task of a request, as its cooperative reads it.
    pub(crate) async fn task(&self, request: RequestId, task: TaskId) -> TaskView {
        let record = self.record(request).await;
        record
            .tasks
            .into_iter()
            .find(|t| t.id == task)
            .expect("the task is the request's")
    }

    /// Waits until `task` of `request` is in `state`.
    pub(crate) async fn task_in_state(
        &self,
        request: RequestId,
        task: TaskId,
        state: rabt_core::TaskState,
    ) -> TaskView {
        eventually(&format!("task {task} {state:?}"), || async {
            let view = self.task(request, task).await;
            (view.state == state).then_some(view)
        })
        .await
    }

    /// Waits for the request's verdict.
    pub(crate) async fn completed(&self, request: RequestId) -> RequestRecord {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let record = self.record(request).await;
            if record.status == RequestStatus::Completed {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "request not completed within {DEADLINE:?}; last seen: {record:#?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every audit entry about the request, oldest first.
    pub(crate) async fn audit(&self, request: RequestId) -> Vec<AuditEntry> {
        let query = AuditQuery {
            request: Some(request),
            limit: 1000,
            ..AuditQuery::default()
        };
        self.store.audit_log(&query).await.unwrap()
    }

    /// Claims what a relay could claim now, with a zero lease so that it stays
    /// claimable: a look at the outbox through the store's own interface.
    pub(crate) async fn claimable_outbox(&self) -> Vec<OutboxRow> {
        self.store.claim_outbox(1000, Duration::ZERO).await.unwrap()
    }

    /// Waits until the relay published and deleted every outbox row.
    ///
    /// On PostgreSQL a claim skips rows another claim holds locked at that moment, so
    /// one empty look while a relay runs proves little. Once a look is empty, the
    /// relays are stopped (each finishes its round) and the outbox is looked at again
    /// with nobody else claiming, then they start again. The relays' zero lease keeps
    /// a row they claimed but did not delete visible to that look.
    pub(crate) async fn outbox_drained(&mut self) {
        eventually("the outbox drained", || async {
            self.claimable_outbox().await.is_empty().then_some(())
        })
        .await;
        let relays = self.stop("relay").await;
        let left = self.claimable_outbox().await;
        assert!(left.is_empty(), "rows left in the outbox: {left:#?}");
        for _ in 0..relays {
            self.start_relay();
        }
    }

    /// Stops everything of one kind that runs; returns how many there were.
    async fn stop(&mut self, what: &str) -> usize {
        let (stopping, running): (Vec<Running>, Vec<Running>) =
            self.running.drain(..).partition(|r| r.what == what);
        self.running = running;
        let count = stopping.len();
        stop_all(stopping).await;
        count
    }
}

/// Cancels, then waits for each (a relay ends after its current round, a worker after
/// its calls in flight).
async fn stop_all(running: Vec<Running>) {
    for r in &running {
        r.stop.cancel();
    }
    for r in running {
        within(&format!("stopping the {}", r.what), r.handle)
            .await
            .unwrap();
    }
}

/// How many entries have `action`.
pub(crate) fn count(entries: &[AuditEntry], action: &str) -> usize {
    entries.iter().filter(|e| e.action == action).count()
}

/// The actions of `entries`, in their order.
pub(crate) fn actions(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.action.as_str()).collect()
}

/// The one `task.completed` entry of `entries`, which must say `outcome`.
pub(crate) fn the_completion<'a>(entries: &'a [AuditEntry], outcome: &str) -> &'a AuditEntry {
    let completed = self::entries(entries, "task.completed");
    let [completion] = completed.as_slice() else {
        panic!("one task.completed entry: {entries:#?}");
    };
    assert_eq!(
        completion.outcome.as_deref(),
        Some(outcome),
        "{completion:#?}"
    );
    completion
}

/// The entries with `action`.
pub(crate) fn entries<'a>(entries: &'a [AuditEntry], action: &str) -> Vec<&'a AuditEntry> {
    entries.iter().filter(|e| e.action == action).collect()
}

/// A cooperative allowed to call every service of the catalogue.
async fn onboard(store: &Store, catalogue: &Catalogue) -> CooperativeId {
    let digits = rand::random::<u64>() % 1_000_000_000;
    let new = NewCooperative {
        id: CooperativeId::new(),
        name: "جمعية اختبار العامل التعاونية".to_owned(),
        unified_number: UnifiedNumber::parse(&format!("7{digits:09}")).unwrap(),
        services: catalogue.services().map(|s| s.name.clone()).collect(),
    };
    store.create_cooperative(&new).await.unwrap().id
}
