//! One process's long-running tasks: each started under the supervisor, and stopped
//! together with a grace period for the work in flight.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rabt_adapter::Adapter;
use rabt_api::{ApiSettings, AppState};
use rabt_catalogue::Catalogue;
use rabt_core::ServiceName;
use rabt_queue::Transport;
use rabt_store::{Handoff, Store};
use rabt_worker::{
    Notifier, OutboxRelay, RelaySettings, RetentionSettings, SealerService, SealerSettings,
    Supervision, Supervisor, Worker, WorkerSettings,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::bind;
use crate::config::Config;

/// One process's long-running tasks and what they share.
pub(super) struct Process<'a> {
    pub(super) config: &'a Config,
    pub(super) store: Store,
    pub(super) transport: Transport,
    /// Wakes the outbox relay when rows were written.
    pub(super) wake: Arc<Notify>,
    pub(super) supervisor: Supervisor,
    pub(super) shutdown: CancellationToken,
    pub(super) tasks: JoinSet<()>,
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
    pub(super) fn spawn_relay(&mut self) -> rabt_store::Handoff {
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
    pub(super) fn spawn_sealer(&mut self) {
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
    /// drain. The worker's transactions (verdicts' events, released checks) hand their
    /// outbox rows to this process's relay through `handoff`, as the API's accepts do.
    pub(super) fn spawn_worker(
        &mut self,
        catalogue: &Arc<Catalogue>,
        adapters: Vec<Arc<dyn Adapter>>,
        handoff: Handoff,
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
            self.store.clone().hand_over_to(handoff),
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
    pub(super) fn spawn_heartbeat(&mut self, role: &'static str, worker: Option<Worker>) {
        let store = self.store.clone();
        self.supervise("heartbeat", move |stop| {
            crate::heartbeat::run(store.clone(), role, worker.clone(), stop)
        });
    }

    /// `/metrics` of a worker-only process, on `worker.metrics_listen`.
    pub(super) async fn serve_worker_metrics(
        &mut self,
        address: std::net::SocketAddr,
    ) -> anyhow::Result<()> {
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
    pub(super) fn spawn_api(
        &mut self,
        listeners: rabt_api::Listeners,
        catalogue: Arc<Catalogue>,
        callable: BTreeSet<ServiceName>,
        settings: ApiSettings,
    ) {
        // The API's own write transactions (a verified callback's message, an
        // operator's replay) hand their outbox rows to this process's relay too.
        let store = match &settings.outbox_handoff {
            Some(handoff) => self.store.clone().hand_over_to(handoff.clone()),
            None => self.store.clone(),
        };
        let state = AppState::new(
            store,
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
    pub(super) async fn stop(mut self, supervision: &Supervision) -> anyhow::Result<()> {
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
pub(super) fn api_settings(
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
