//! Rabt's worker: consumes the tasks of some agencies, calls each agency through its
//! adapter, records outcomes and verdicts, and acknowledges a message only after its
//! outcome is committed. Also home of the outbox relay (run by api and worker
//! processes alike), of the deadline sweeper, and of the notifier that sends
//! cooperatives their signed completion notifications.
//!
//! It depends on the store, the queue, the catalogue and the adapter contract; it
//! never names an agency's wire protocol (adapters do) or HTTP routes (the API does).
//!
//! Layout:
//! - [`Worker`]: one consumer per agency, a task per delivery, bounded by prefetch.
//! - `process`: one delivery, from message to ack; `retry`: a task back through a
//!   retry tier.
//! - `compose`: releasing or skipping the checks of composite requests.
//! - `callback`: applying an agency's callback through its adapter.
//! - [`dead_letters`]: the drain that records dead letters in the database.
//! - [`breaker`]: the circuit breaker of one agency, a pure state machine.
//! - [`limits`]: per-agency concurrency and rate limits, shared by every worker
//!   through the database.
//! - `pause`: the agencies operators paused (maintenance), read from the database.
//! - `gate`: the way to an agency call — slot, breaker, token — and the deferral of
//!   tasks while an agency's circuit is open.
//! - [`relay`]: the transactional outbox relay.
//! - [`notify`]: signed notifications to cooperatives, retried for hours, behind the
//!   SSRF guard.
//! - [`seal`]: the audit log's sealer (one process at a time), run by every process
//!   that holds the signing key.
//! - [`retention`]: the sweeper that replaces expired payloads by their digests.
//! - [`supervise`]: restarts a long-running task that died, and reports it.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rabt_adapter::Adapter;
use rabt_catalogue::Catalogue;
use rabt_core::Agency;
use rabt_queue::Transport;
use rabt_store::Store;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub mod breaker;
mod callback;
mod compose;
pub mod dead_letters;
mod gate;
pub mod limits;
pub mod notify;
mod pause;
mod process;
pub mod relay;
pub mod retention;
mod retry;
pub mod seal;
pub mod supervise;
mod turned_away;

pub use breaker::{BreakerSettings, BreakerSnapshot, CircuitState};
pub use dead_letters::DeadLetterDrain;
pub use gate::{DEFERRED_HEADER, GateSnapshot};
pub use limits::{AgencyLimits, Rate, SettingsError};
pub use notify::{Notifier, NotifierSettings, RetrySchedule};
pub use rabt_metrics::{Supervision, TaskHealth};
pub use relay::{OutboxRelay, RelaySettings};
pub use retention::RetentionSettings;
pub use seal::{SealerService, SealerSettings};
pub use supervise::{RestartPolicy, Supervisor};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Unacknowledged deliveries per agency, and so tasks in flight per agency. Quorum
    /// queues do poorly with a prefetch under ~10 (RabbitMQ's flow-control guide).
    pub prefetch: u16,
    /// The longest one agency call may take (a task's remaining time may cut it shorter).
    pub call_timeout: Duration,
    /// How often to look for tasks past their deadline.
    pub deadline_sweep: Duration,
    /// When an agency's circuit breaker opens, and for how long (one per agency).
    pub breaker: BreakerSettings,
    /// Per-agency concurrency and rate limits; an agency not named has none.
    pub limits: BTreeMap<Agency, AgencyLimits>,
    /// How often the operators' agency pauses are read from the database.
    pub pause_poll: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            prefetch: 32,
            call_timeout: Duration::from_secs(10),
            deadline_sweep: Duration::from_secs(1),
            breaker: BreakerSettings::default(),
            limits: BTreeMap::new(),
            pause_poll: Duration::from_secs(1),
        }
    }
}

/// A worker for the agencies it has adapters for.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    /// Answers recorded through group commit: those that arrive together share a
    /// transaction.
    completions: rabt_store::CompletionGroup,
    /// Tasks started through group commit, likewise.
    starts: rabt_store::StartGroup,
    transport: Transport,
    catalogue: Arc<Catalogue>,
    /// Decides a composite's waiting checks; the store applies its decisions in the
    /// transaction that completes the check they waited for.
    decider: Arc<compose::CatalogueDecider>,
    adapters: Arc<BTreeMap<Agency, Arc<dyn Adapter>>>,
    outbox_wake: Arc<Notify>,
    settings: WorkerSettings,
    /// Each agency's circuit breaker and limits, shared by every clone.
    gates: Arc<gate::Gates>,
    /// The agencies operators paused, read every `pause_poll`.
    pauses: pause::PauseBoard,
    /// Cancelled when the worker stops; waits on the database give up then.
    stop: CancellationToken,
    /// Restarts a consumer, the sweeper or a drain that died.
    supervisor: Supervisor,
}

impl Worker {
    /// A worker serving the agencies of `adapters`.
    pub fn new(
        store: Store,
        transport: Transport,
        catalogue: Arc<Catalogue>,
        adapters: Vec<Arc<dyn Adapter>>,
        outbox_wake: Arc<Notify>,
        settings: WorkerSettings,
    ) -> Self {
        let adapters = adapters.into_iter().map(|a| (a.agency(), a)).collect();
        let shared = gate::SharedBy {
            store: store.clone(),
            holder: format!("worker-{:016x}", rand::random::<u64>()),
            call_timeout: settings.call_timeout,
        };
        let gates = Arc::new(gate::Gates::new(
            &settings.breaker,
            &settings.limits,
            &shared,
        ));
        let decider = Arc::new(compose::CatalogueDecider::new(catalogue.clone()));
        let store = store.deciding_with(decider.clone());
        Self {
            completions: rabt_store::CompletionGroup::new(store.clone()),
            starts: rabt_store::StartGroup::new(store.clone()),
            store,
            transport,
            catalogue,
            decider,
            adapters: Arc::new(adapters),
            outbox_wake,
            settings,
            gates,
            pauses: pause::PauseBoard::default(),
            stop: CancellationToken::new(),
            supervisor: Supervisor::default(),
        }
    }

    /// This worker with its long-running tasks (a consumer per agency, the deadline
    /// sweeper, the dead-letter drains) supervised by `supervisor`, which reports them
    /// to the process (by default, a supervisor of its own).
    pub fn supervised_by(self, supervisor: Supervisor) -> Worker {
        Worker { supervisor, ..self }
    }

    /// Tells the relay that a transaction wrote outbox rows, unless the store handed
    /// them to it already ([`Store::hand_over_to`]): a search would find them claimed.
    pub(crate) fn wake_relay(&self) {
        if !self.store.hands_over() {
            self.outbox_wake.notify_one();
        }
    }

    /// A request got its verdict: logged, and the relay woken for its event.
    pub(crate) fn request_completed(&self, done: rabt_store::RequestCompleted) {
        tracing::info!(request = %done.request, verdict = %done.verdict, "request completed");
        self.wake_relay();
    }

    /// How the group commits of starts and of answers have batched so far.
    pub fn batches(&self) -> (rabt_store::GroupStats, rabt_store::GroupStats) {
        (self.starts.stats(), self.completions.stats())
    }

    /// The agencies this worker serves.
    pub fn agencies(&self) -> Vec<Agency> {
        self.adapters.keys().copied().collect()
    }

    /// Each served agency's circuit breaker and calls, as of now (for metrics and the
    /// dashboard). Clones of a worker share them, so a clone kept before [`Worker::run`]
    /// sees the running worker's.
    pub fn gates(&self) -> BTreeMap<Agency, GateSnapshot> {
        self.gates.snapshots(&self.agencies())
    }

    /// Whether this worker holds `agency` paused, as of its last read of the pauses.
    pub fn holds_paused(&self, agency: Agency) -> bool {
        self.pauses.is_paused(agency)
    }

    /// Consumes until `shutdown`, then stops taking work and lets in-flight tasks finish
    /// (bounded by the call timeout). Deliveries never started go back to the broker
    /// when the connection closes.
    pub async fn run(self, shutdown: CancellationToken) {
        let worker = Worker {
            stop: shutdown.clone(),
            ..self
        };
        let mut loops = JoinSet::new();
        // Know the pauses before the first delivery.
        worker.pauses.refresh(&worker.store).await;
        loops.spawn(worker.pauses.clone().follow(
            worker.store.clone(),
            worker.settings.pause_poll,
            shutdown.clone(),
        ));
        for agency in worker.agencies() {
            let (this, stop) = (worker.clone(), shutdown.clone());
            let supervisor = worker.supervisor.clone();
            loops.spawn(async move {
                supervisor
                    .run(format!("consumer:{agency}"), stop.clone(), move || {
                        this.clone().consume(agency, stop.clone())
                    })
                    .await;
            });
        }
        let (this, stop) = (worker.clone(), shutdown.clone());
        let supervisor = worker.supervisor.clone();
        loops.spawn(async move {
            supervisor
                .run("deadline-sweeper".to_owned(), stop.clone(), move || {
                    this.clone().sweep_deadlines(stop.clone())
                })
                .await;
        });
        while loops.join_next().await.is_some() {}
    }

    async fn consume(self, agency: Agency, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        let mut consumer = loop {
            match self.transport.consume(agency, self.settings.prefetch).await {
                Ok(consumer) => break consumer,
                Err(err) => {
                    tracing::warn!(%agency, error = %err, "cannot consume; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        tracing::info!(%agency, prefetch = self.settings.prefetch, "consuming tasks");
        let mut in_flight = JoinSet::new();
        loop {
            let delivery = tokio::select! {
                () = shutdown.cancelled() => break,
                delivery = consumer.next() => delivery,
            };
            let Some(delivery) = delivery else { break };
            let worker = self.clone();
            in_flight.spawn(async move { worker.handle(delivery).await });
            while in_flight.try_join_next().is_some() {}
        }
        while in_flight.try_join_next().is_some() {}
        tracing::info!(%agency, in_flight = in_flight.len(), "stopped consuming; finishing tasks in flight");
        while in_flight.join_next().await.is_some() {}
    }

    async fn settle_composites(&self) {
        match self.store.requests_with_blocked_tasks(1000).await {
            Ok(requests) => {
                for request in requests {
                    if let Err(err) = self.compose(request).await {
                        tracing::warn!(%request, error = %err, "cannot settle a composite's checks");
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot look for composites to settle"),
        }
    }

    /// Ends tasks whose deadline passed without an answer (`TIMEOUT`), so a request
    /// whose agency never answers still gets its verdict.
    async fn sweep_deadlines(self, shutdown: CancellationToken) {
        // Every this many sweeps (and once at start), settle composites whose blocked
        // checks could be released: a process that ended a check may have died before
        // releasing the checks waiting for it.
        const SETTLE_EVERY: u32 = 30;
        let mut sweeps = 0u32;
        loop {
            if sweeps.is_multiple_of(SETTLE_EVERY) {
                self.settle_composites().await;
            }
            sweeps = sweeps.wrapping_add(1);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.settings.deadline_sweep) => {}
            }
            match self
                .store
                .expire_overdue_tasks(chrono::Utc::now(), 500)
                .await
            {
                Ok(expired) => {
                    if !expired.completed.is_empty() {
                        tracing::info!(
                            requests = expired.completed.len(),
                            "deadlines passed; requests completed with TIMEOUT checks"
                        );
                        self.wake_relay();
                    }
                    // Checks that waited for a timed-out check are skipped now.
                    for request in expired.requests {
                        if let Err(err) = self.compose(request).await {
                            tracing::warn!(%request, error = %err, "cannot settle a composite's checks after a timeout");
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "deadline sweep failed"),
            }
        }
    }
}
