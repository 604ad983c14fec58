//! Wiring shared by `demo` and `serve`: the database, the transport, the API and the
//! workers, and a clean shutdown on SIGTERM or Ctrl-C.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rabt_adapter::Adapter;
use rabt_catalogue::Catalogue;
use rabt_core::ServiceName;
use rabt_queue::{Settings as QueueSettings, Transport};
use rabt_store::Store;
use rabt_worker::{RestartPolicy, Supervision, Supervisor};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, redact_url};

mod process;

use process::{Process, api_settings};

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

/// Queues again the tasks a previous run left open: with the in-process transport,
/// their messages died with that process.
pub(crate) async fn requeue_open_tasks(store: &Store) -> anyhow::Result<()> {
    let requeued = store
        .requeue_open_tasks()
        .await
        .context("cannot re-queue open tasks")?;
    if requeued > 0 {
        tracing::info!(requeued, "re-queued tasks left open by the previous run");
    }
    Ok(())
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
        Some(process.spawn_worker(&catalogue, roles.adapters, handoff.clone())?)
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
