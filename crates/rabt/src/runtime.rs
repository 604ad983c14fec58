//! Wiring shared by `demo` and `serve`: the database, the transport, the API and the
//! workers, and a clean shutdown on SIGTERM or Ctrl-C.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rabt_adapter::Adapter;
use rabt_api::{ApiSettings, AppState};
use rabt_catalogue::Catalogue;
use rabt_core::ServiceName;
use rabt_queue::{Settings as QueueSettings, Transport};
use rabt_store::Store;
use rabt_worker::{
    Notifier, OutboxRelay, RelaySettings, RestartPolicy, RetentionSettings, SealerService,
    SealerSettings, Supervision, Supervisor, Worker, WorkerSettings,
};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, redact_url};

/// Connects to the database and brings its schema up to date (migrations are
/// idempotent and safe to run from several processes at once).
pub(crate) async fn open_store(url: &str, max_connections: u32) -> anyhow::Result<Store> {
    Ok(open_and_migrate(url, max_connections).await?.0)
}

/// [`open_store`], saying what the migration did.
pub(crate) async fn open_and_migrate(
    url: &str,
    max_connections: u32,
) -> anyhow::Result<(Store, rabt_store::migrate::Migrated)> {
    // Said at every start, so a process pointed at the wrong database says so.
    tracing::info!(database = %redact_url(url), "opening the database");
    let store = Store::connect(url, max_connections)
        .await
        .with_context(|| format!("cannot connect to the database {}", redact_url(url)))?;
    let migrated = store
        .migrate()
        .await
        .context("cannot migrate the database schema")?;
    Ok((store, migrated))
}

/// The service catalogue, with the configuration's deadline overrides applied.
pub(crate) fn catalogue(config: &Config) -> anyhow::Result<Arc<Catalogue>> {
    let mut catalogue =
        Catalogue::bundled().context("the built-in service catalogue is invalid")?;
    for (key, deadline) in &config.deadlines {
        catalogue
            .set_deadline(key, *deadline)
            .with_context(|| format!("`deadlines.\"{key}\"`"))?;
    }
    Ok(Arc::new(catalogue))
}

/// The queue settings of a configuration.
pub(crate) fn queue_settings(config: &Config) -> QueueSettings {
    QueueSettings {
        delivery_limit: config.delivery_limit,
        retry_tiers: config.retry_tiers.clone(),
        quorum_size: config.quorum_size,
        ..QueueSettings::default()
    }
}

/// The services the given adapters make callable.
pub(crate) fn callable(adapters: &[Arc<dyn Adapter>]) -> BTreeSet<ServiceName> {
    adapters
        .iter()
        .flat_map(|a| a.services().iter())
        .filter_map(|s| ServiceName::parse(s).ok())
        .collect()
}

/// `callable` and every composite whose checks are all callable: what a cooperative can
/// ask of this deployment.
pub(crate) fn with_composites(
    catalogue: &Catalogue,
    callable: &BTreeSet<ServiceName>,
) -> BTreeSet<ServiceName> {
    let mut all = callable.clone();
    for service in catalogue.services() {
        if let Some(spec) = service.composite()
            && spec
                .children()
                .iter()
                .all(|child| callable.contains(&child.service))
        {
            all.insert(service.name.clone());
        }
    }
    all
}

/// Warns of every agency that answers by callback (it has a callback schema in the
/// catalogue) but has no secrets to verify them: its callbacks would all be refused.
fn warn_of_missing_callback_secrets(config: &Config, catalogue: &Catalogue) {
    for agency in rabt_core::Agency::ALL {
        let secrets = config
            .agencies
            .get(&agency)
            .map(|a| a.callback_secrets.len());
        if catalogue.callback_schema(agency).is_some() && secrets.unwrap_or(0) == 0 {
            tracing::warn!(
                %agency,
                "no callback secrets: this agency's callbacks will be refused and its tasks end TIMEOUT (set RABT_AGENCY_{}_CALLBACK_SECRETS)",
                agency.env_name()
            );
        }
    }
}

/// A token cancelled on SIGTERM or Ctrl-C.
pub(crate) fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::terminate(),
            ) {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops this process");
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: no new work is taken");
        cancel.cancel();
    });
    token
}

/// What one process runs.
pub(crate) struct Roles {
    /// Serve the API on these listeners.
    pub api: Option<rabt_api::Listeners>,
    /// Run workers with these adapters.
    pub adapters: Vec<Arc<dyn Adapter>>,
    /// The services callable in this deployment (for the API).
    pub callable: BTreeSet<ServiceName>,
}

/// Runs the API and/or workers, with the outbox relay, until `shutdown`; then gives
/// work in flight the configured grace period.
pub(crate) async fn run(
    config: &Config,
    store: Store,
    transport: Transport,
    roles: Roles,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let catalogue = catalogue(config)?;
    // Every long-running task is restarted if it dies, and /readyz says so meanwhile; one
    // that keeps dying stops the process (exit status 1) for its supervisor to restart.
    let supervision = Supervision::default();
    let mut process = Process {
        config,
        store,
        transport,
        wake: Arc::new(Notify::new()),
        supervisor: Supervisor::new(supervision.clone(), RestartPolicy::default()),
        shutdown,
        tasks: JoinSet::new(),
    };
    let role = match (roles.api.is_some(), roles.adapters.is_empty()) {
        (true, true) => "api",
        (false, _) => "worker",
        (true, false) => "all",
    };
    let handoff = process.spawn_relay();
    process.spawn_sealer();
    let worker = if roles.adapters.is_empty() {
        None
    } else {
        Some(process.spawn_worker(&catalogue, roles.adapters)?)
    };
    process.spawn_heartbeat(role, worker);
    if roles.api.is_none()
        && let Some(address) = config.worker_metrics_listen
    {
        process.serve_worker_metrics(address).await?;
    }
    if let Some(listeners) = roles.api {
        warn_of_missing_callback_secrets(config, &catalogue);
        let settings = api_settings(config, supervision.clone(), handoff);
        process.spawn_api(listeners, catalogue, roles.callable, settings);
    }
    process.stop(&supervision).await
}

/// One process's long-running tasks and what they share.
struct Process<'a> {
    config: &'a Config,
    store: Store,
    transport: Transport,
    /// Wakes the outbox relay when rows were written.
    wake: Arc<Notify>,
    supervisor: Supervisor,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Process<'_> {
    /// Runs the task `start` makes (given the shutdown token) as `name`, under the
    /// supervisor: started again each time it dies before the shutdown.
    fn supervise<F, Fut>(&mut self, name: &'static str, mut start: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (supervisor, stop) = (self.supervisor.clone(), self.shutdown.clone());
        self.tasks.spawn(async move {
            let token = stop.clone();
            supervisor
                .run(name.to_owned(), stop, move || start(token.clone()))
                .await;
        });
    }

    /// The outbox relay; returns the handoff through which the API gives it the rows it
    /// has just written.
    fn spawn_relay(&mut self) -> rabt_store::Handoff {
        let settings = RelaySettings {
            batch_size: self.config.outbox_batch,
            lease: self.config.outbox_lease,
            poll_interval: self.config.outbox_poll,
        };
        let (store, transport, wake) = (
            self.store.clone(),
            self.transport.clone(),
            self.wake.clone(),
        );
        let mut relay = OutboxRelay::new(
            store.clone(),
            transport.clone(),
            wake.clone(),
            settings.clone(),
        );
        let handoff = relay.handoff();
        // The first relay takes the API's handoff; one started after it died finds the
        // rows in the table instead (the API wakes it when the handoff is gone).
        let mut first = Some(relay);
        self.supervise("outbox-relay", move |stop| {
            let relay = first.take().unwrap_or_else(|| {
                OutboxRelay::new(
                    store.clone(),
                    transport.clone(),
                    wake.clone(),
                    settings.clone(),
                )
            });
            relay.run(stop)
        });
        handoff
    }

    /// Runs the audit log's sealer when this process holds the signing key (any number
    /// of processes may: one at a time seals).
    fn spawn_sealer(&mut self) {
        let Some(key) = &self.config.audit.signing_key else {
            tracing::warn!(
                "no audit signing key (RABT_AUDIT_SIGNING_KEY): this process does not seal the audit log"
            );
            return;
        };
        let settings = SealerSettings {
            interval: self.config.audit.seal_interval,
            origin: self.config.audit.origin.clone(),
            key: key.clone(),
            batch: SEAL_BATCH,
        };
        let store = self.store.clone();
        self.supervise("audit-sealer", move |stop| {
            SealerService::new(&store, settings.clone()).run(stop)
        });
    }

    /// The worker of `adapters`' agencies, with what runs beside it: the retention
    /// sweeper (when payloads are kept under a key), the notifier and the dead-letter
    /// drain.
    fn spawn_worker(
        &mut self,
        catalogue: &Arc<Catalogue>,
        adapters: Vec<Arc<dyn Adapter>>,
    ) -> anyhow::Result<Worker> {
        let config = self.config;
        if let Some(key) = &config.pii_key {
            let settings = RetentionSettings {
                payloads: config.retention.payloads,
                interval: config.retention.sweep_interval,
                key: key.clone(),
            };
            let store = self.store.clone();
            self.supervise("retention", move |stop| {
                rabt_worker::retention::run(store.clone(), settings.clone(), stop)
            });
        }
        let worker = Worker::new(
            self.store.clone(),
            self.transport.clone(),
            catalogue.clone(),
            adapters,
            self.wake.clone(),
            WorkerSettings {
                prefetch: config.prefetch,
                call_timeout: config.call_timeout,
                deadline_sweep: config.deadline_sweep,
                breaker: config.worker_breaker.clone(),
                limits: config.worker_limits.clone(),
                pause_poll: Duration::from_secs(1),
            },
        )
        .supervised_by(self.supervisor.clone());
        tracing::info!(agencies = ?worker.agencies(), "worker started");
        // Workers also send the cooperatives' notifications (any number of them may:
        // notifications are claimed with a lease).
        let notifier = Notifier::new(self.store.clone(), config.notifications.clone())
            .context("cannot start the notifier")?;
        self.supervise("notifier", move |stop| notifier.clone().run(stop));
        // Dead letters of the same agencies go to the database, where operators see them.
        self.tasks
            .spawn(worker.dead_letter_drain().run(self.shutdown.clone()));
        self.tasks.spawn(worker.clone().run(self.shutdown.clone()));
        Ok(worker)
    }

    /// The process's heartbeat. The operators' overview counts a process by it: one
    /// that died would show the process gone while it serves.
    fn spawn_heartbeat(&mut self, role: &'static str, worker: Option<Worker>) {
        let store = self.store.clone();
        self.supervise("heartbeat", move |stop| {
            crate::heartbeat::run(store.clone(), role, worker.clone(), stop)
        });
    }

    /// `/metrics` of a worker-only process, on `worker.metrics_listen`.
    async fn serve_worker_metrics(&mut self, address: std::net::SocketAddr) -> anyhow::Result<()> {
        let listener = bind(address).await?;
        tracing::info!(%address, "serving /metrics");
        let served =
            rabt_api::metrics::serve(listener, self.transport.clone(), self.shutdown.clone());
        self.tasks.spawn(async move {
            if let Err(err) = served.await {
                tracing::error!(%err, "the metrics server failed");
            }
        });
        Ok(())
    }

    /// The API on its listeners. They cannot be had again: an API server that ends
    /// while the process runs ends the process.
    fn spawn_api(
        &mut self,
        listeners: rabt_api::Listeners,
        catalogue: Arc<Catalogue>,
        callable: BTreeSet<ServiceName>,
        settings: ApiSettings,
    ) {
        let state = AppState::new(
            self.store.clone(),
            catalogue,
            callable,
            self.transport.clone(),
            self.wake.clone(),
            settings,
        );
        let (api_shutdown, fatal) = (self.shutdown.clone(), self.supervisor.fatal());
        self.tasks.spawn(async move {
            match rabt_api::serve(listeners, state, api_shutdown.clone()).await {
                Err(err) => tracing::error!(%err, "the API server failed"),
                Ok(()) if !api_shutdown.is_cancelled() => {
                    tracing::error!("the API server stopped");
                }
                Ok(()) => return,
            }
            fatal.cancel();
        });
    }

    /// Waits for the shutdown (or a task that cannot be kept running), then gives work
    /// in flight the grace period and closes the transport.
    async fn stop(mut self, supervision: &Supervision) -> anyhow::Result<()> {
        let fatal = self.supervisor.fatal();
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            () = fatal.cancelled() => {
                tracing::error!(down = ?supervision.down(), "stopping: a long-running task cannot be kept running");
                self.shutdown.cancel();
            }
        }
        let grace = self.config.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "grace period over; abandoning work in flight (it will be redelivered)"
            );
            self.tasks.abort_all();
        }
        self.transport.close().await;
        if fatal.is_cancelled() {
            anyhow::bail!(
                "a long-running task kept dying (see the log); exiting so that the process is restarted"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The API's settings from the configuration.
fn api_settings(
    config: &Config,
    supervision: Supervision,
    handoff: rabt_store::Handoff,
) -> ApiSettings {
    ApiSettings {
        body_limit: config.body_limit,
        max_wait: config.max_wait,
        callback_secrets: config
            .agencies
            .iter()
            .filter(|(_, a)| !a.callback_secrets.is_empty())
            .map(|(agency, a)| (*agency, a.callback_secrets.clone()))
            .collect(),
        allow_private_notify_targets: config.notifications.allow_private_targets,
        edge: config.edge,
        json_limits: config.json_limits,
        supervision,
        default_limit: config.cooperative_default_limit,
        outbox_handoff: Some(handoff),
        pii_key: config.pii_key.clone(),
        audit_verifier_key: config.audit.signing_key.as_ref().map(|k| k.verifier()),
        key_overlap: config.key_overlap,
        agency_settings: crate::agency_cmd::settings_views(config),
    }
}

/// Entries sealed per database round: a round stays short (one transaction of a few
/// hundred milliseconds at most) while a backlog drains in consecutive rounds.
const SEAL_BATCH: u32 = 2000;

/// Binds the API's listeners: `api.listen`, and `api.ops_listen` unless it is the
/// same address (then one listener serves both).
pub(crate) async fn bind_api(
    listen: std::net::SocketAddr,
    ops_listen: std::net::SocketAddr,
) -> anyhow::Result<rabt_api::Listeners> {
    let api = bind(listen).await?;
    // Port 0 twice means two free ports, not one shared listener.
    let ops = if ops_listen == listen && listen.port() != 0 {
        None
    } else {
        Some(bind(ops_listen).await?)
    };
    tracing::info!(address = %api.local_addr()?, "API listening");
    match &ops {
        Some(ops) => {
            tracing::info!(address = %ops.local_addr()?, "operators' listener (console, /ops/v1, /metrics)")
        }
        None => tracing::info!(
            "the operators' surfaces share the API's listener (api.ops_listen = api.listen)"
        ),
    }
    Ok(rabt_api::Listeners { api, ops })
}

/// Binds a listener, with a clear error.
pub(crate) async fn bind(address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// How long to wait for a broker at start-up before giving up.
pub(crate) const BROKER_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
