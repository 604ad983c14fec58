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
    let wake = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    // Every long-running task is restarted if it dies, and /readyz says so meanwhile; one
    // that keeps dying stops the process (exit status 1) for its supervisor to restart.
    let supervision = Supervision::default();
    let supervisor = Supervisor::new(supervision.clone(), RestartPolicy::default());
    let role = match (roles.api.is_some(), roles.adapters.is_empty()) {
        (true, true) => "api",
        (false, _) => "worker",
        (true, false) => "all",
    };
    let mut heartbeat_worker = None;

    let relay_settings = RelaySettings {
        batch_size: config.outbox_batch,
        lease: config.outbox_lease,
        poll_interval: config.outbox_poll,
    };
    let mut relay = OutboxRelay::new(
        store.clone(),
        transport.clone(),
        wake.clone(),
        relay_settings.clone(),
    );
    let handoff = relay.handoff();
    {
        // The first relay takes the API's handoff; one started after it died finds the
        // rows in the table instead (the API wakes it when the handoff is gone).
        let mut first = Some(relay);
        let (store, transport, wake) = (store.clone(), transport.clone(), wake.clone());
        let (supervisor, stop) = (supervisor.clone(), shutdown.clone());
        tasks.spawn(async move {
            supervisor
                .run("outbox-relay".to_owned(), stop.clone(), move || {
                    let relay = first.take().unwrap_or_else(|| {
                        OutboxRelay::new(
                            store.clone(),
                            transport.clone(),
                            wake.clone(),
                            relay_settings.clone(),
                        )
                    });
                    relay.run(stop.clone())
                })
                .await;
        });
    }

    spawn_sealer(config, &store, &supervisor, &shutdown, &mut tasks);

    if !roles.adapters.is_empty() {
        if let Some(key) = &config.pii_key {
            let settings = RetentionSettings {
                payloads: config.retention.payloads,
                interval: config.retention.sweep_interval,
                key: key.clone(),
            };
            let (store, supervisor, stop) = (store.clone(), supervisor.clone(), shutdown.clone());
            tasks.spawn(async move {
                supervisor
                    .run("retention".to_owned(), stop.clone(), move || {
                        rabt_worker::retention::run(store.clone(), settings.clone(), stop.clone())
                    })
                    .await;
            });
        }
        // The worker's transactions (verdicts' events, released checks) hand their
        // outbox rows to this process's relay, as the API's accepts do.
        let worker = Worker::new(
            store.clone().hand_over_to(handoff.clone()),
            transport.clone(),
            catalogue.clone(),
            roles.adapters,
            wake.clone(),
            WorkerSettings {
                prefetch: config.prefetch,
                call_timeout: config.call_timeout,
                deadline_sweep: config.deadline_sweep,
                breaker: config.worker_breaker.clone(),
                limits: config.worker_limits.clone(),
                pause_poll: Duration::from_secs(1),
            },
        )
        .supervised_by(supervisor.clone());
        tracing::info!(agencies = ?worker.agencies(), "worker started");
        heartbeat_worker = Some(worker.clone());
        // Workers also send the cooperatives' notifications (any number of them may:
        // notifications are claimed with a lease).
        let notifier = Notifier::new(store.clone(), config.notifications.clone())
            .context("cannot start the notifier")?;
        let (notifying, stop) = (supervisor.clone(), shutdown.clone());
        tasks.spawn(async move {
            notifying
                .run("notifier".to_owned(), stop.clone(), move || {
                    notifier.clone().run(stop.clone())
                })
                .await;
        });
        // Dead letters of the same agencies go to the database, where operators see them.
        tasks.spawn(worker.dead_letter_drain().run(shutdown.clone()));
        tasks.spawn(worker.run(shutdown.clone()));
    }

    {
        // The operators' overview counts a process by its heartbeat: one that died
        // would show the process gone while it serves.
        let (store, supervisor, stop) = (store.clone(), supervisor.clone(), shutdown.clone());
        tasks.spawn(async move {
            supervisor
                .run("heartbeat".to_owned(), stop.clone(), move || {
                    crate::heartbeat::run(
                        store.clone(),
                        role,
                        heartbeat_worker.clone(),
                        stop.clone(),
                    )
                })
                .await;
        });
    }

    if roles.api.is_none()
        && let Some(address) = config.worker_metrics_listen
    {
        let listener = bind(address).await?;
        tracing::info!(%address, "serving /metrics");
        let served = rabt_api::metrics::serve(listener, transport.clone(), shutdown.clone());
        tasks.spawn(async move {
            if let Err(err) = served.await {
                tracing::error!(%err, "the metrics server failed");
            }
        });
    }

    if let Some(listeners) = roles.api {
        warn_of_missing_callback_secrets(config, &catalogue);
        let state = AppState::new(
            store,
            catalogue,
            roles.callable,
            transport.clone(),
            wake,
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
                supervision: supervision.clone(),
                default_limit: config.cooperative_default_limit,
                outbox_handoff: Some(handoff),
                pii_key: config.pii_key.clone(),
                audit_verifier_key: config.audit.signing_key.as_ref().map(|k| k.verifier()),
                key_overlap: config.key_overlap,
                agency_settings: crate::agency_cmd::settings_views(config),
            },
        );
        let (api_shutdown, fatal) = (shutdown.clone(), supervisor.fatal());
        tasks.spawn(async move {
            // The listeners cannot be had again: an API server that ends while the
            // process runs ends the process.
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

    let fatal = supervisor.fatal();
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = fatal.cancelled() => {
            tracing::error!(down = ?supervision.down(), "stopping: a long-running task cannot be kept running");
            shutdown.cancel();
        }
    }
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            grace_ms = config.shutdown_grace.as_millis() as u64,
            "grace period over; abandoning work in flight (it will be redelivered)"
        );
        tasks.abort_all();
    }
    transport.close().await;
    if fatal.is_cancelled() {
        anyhow::bail!(
            "a long-running task kept dying (see the log); exiting so that the process is restarted"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// Runs the audit log's sealer when this process holds the signing key (any number of
/// processes may: one at a time seals).
fn spawn_sealer(
    config: &Config,
    store: &Store,
    supervisor: &Supervisor,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    let Some(key) = &config.audit.signing_key else {
        tracing::warn!(
            "no audit signing key (RABT_AUDIT_SIGNING_KEY): this process does not seal the audit log"
        );
        return;
    };
    let settings = SealerSettings {
        interval: config.audit.seal_interval,
        origin: config.audit.origin.clone(),
        key: key.clone(),
        batch: SEAL_BATCH,
    };
    let (store, supervisor, stop) = (store.clone(), supervisor.clone(), shutdown.clone());
    tasks.spawn(async move {
        supervisor
            .run("audit-sealer".to_owned(), stop.clone(), move || {
                SealerService::new(&store, settings.clone()).run(stop.clone())
            })
            .await;
    });
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
