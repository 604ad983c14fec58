//! What every handler shares.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rabt_catalogue::Catalogue;
use rabt_core::{Agency, ServiceName};
use rabt_queue::Transport;
use rabt_store::{Store, StoreError};
use tokio::sync::Notify;

use crate::problem::{ApiError, ProblemKind};
use crate::wait::Waiters;

/// Settings of the API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// The longest `Prefer: wait` honoured.
    pub max_wait: Duration,
    /// Per agency, the secrets its callbacks may be signed with (several during a
    /// rotation). An agency without secrets cannot call back: there is no default.
    pub callback_secrets: BTreeMap<Agency, Vec<rabt_webhook::Secret>>,
    /// Accept `notify_url`s on loopback, private or link-local addresses, local names
    /// and plain `http` (`[notifications] allow_private_targets`: tests and the demo).
    pub allow_private_notify_targets: bool,
    /// How the listener treats clients: timeouts, header size, connections.
    pub edge: crate::edge::EdgeSettings,
    /// How deep and long the JSON of a request or callback body may be.
    pub json_limits: crate::json::JsonLimits,
    /// The health of this process's long-running tasks, for `/readyz`.
    pub supervision: rabt_metrics::Supervision,
    /// The limits of a cooperative that has none of its own (`[cooperatives]`); none
    /// by default here, so a test harness is unlimited unless it asks.
    pub default_limit: rabt_store::CooperativeLimit,
    /// This process's outbox relay, to hand it the rows of an accepted request
    /// directly (written claimed for its lease) instead of waking it to search the
    /// table. Without it, the relay is woken.
    pub outbox_handoff: Option<rabt_store::Handoff>,
    /// The deployment's key for digests of personal data (`RABT_PII_KEY`): the identity
    /// numbers and mobiles of an accepted request are kept as digests under it, and
    /// operators search by them. Without it no digest is kept (the binary refuses to
    /// serve the API without one).
    pub pii_key: Option<rabt_audit::PiiKey>,
    /// The verifier key of this deployment's checkpoint signing key, served at
    /// `/v1/audit/key` (else the key of the latest checkpoint is).
    pub audit_verifier_key: Option<rabt_audit::VerifierKey>,
    /// How long a cooperative's old keys keep working after a rotation, unless the
    /// operator gives another overlap (`api.key_rotation_overlap_seconds`).
    pub key_overlap: Duration,
    /// Each agency's settings as this deployment runs them, for operators: never a
    /// secret (built by the binary, which knows the configuration).
    pub agency_settings: BTreeMap<Agency, serde_json::Value>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            body_limit: 256 * 1024,
            max_wait: Duration::from_secs(30),
            callback_secrets: BTreeMap::new(),
            allow_private_notify_targets: false,
            edge: crate::edge::EdgeSettings::default(),
            json_limits: crate::json::JsonLimits::default(),
            supervision: rabt_metrics::Supervision::default(),
            default_limit: rabt_store::CooperativeLimit {
                rate: None,
                quota_per_day: None,
            },
            outbox_handoff: None,
            pii_key: None,
            audit_verifier_key: None,
            key_overlap: Duration::from_secs(24 * 3600),
            agency_settings: BTreeMap::new(),
        }
    }
}

/// The shared state of the API: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Store,
    group_commit: rabt_store::GroupCommit,
    catalogue: Arc<Catalogue>,
    callable: BTreeSet<ServiceName>,
    transport: Transport,
    waiters: Waiters,
    outbox_wake: Arc<Notify>,
    settings: ApiSettings,
    limit_cache: crate::limits::LimitCache,
    /// The last overview computed, shared by every caller of this process.
    overview: tokio::sync::Mutex<Option<(std::time::Instant, serde_json::Value)>>,
    /// Failed console logins per client address (this process's share of the limit).
    logins: crate::console::LoginLimiter,
}

impl AppState {
    /// The state. `callable` names the services whose adapters run in this deployment;
    /// `outbox_wake` is notified after every commit that wrote to the outbox, so the
    /// relay publishes at once instead of at its next poll.
    pub fn new(
        store: Store,
        catalogue: Arc<Catalogue>,
        callable: BTreeSet<ServiceName>,
        transport: Transport,
        outbox_wake: Arc<Notify>,
        settings: ApiSettings,
    ) -> Self {
        Self(Arc::new(Inner {
            group_commit: rabt_store::GroupCommit::new(store.clone()),
            store,
            catalogue,
            callable,
            transport,
            waiters: Waiters::default(),
            outbox_wake,
            settings,
            limit_cache: crate::limits::LimitCache::default(),
            overview: tokio::sync::Mutex::new(None),
            logins: crate::console::LoginLimiter::default(),
        }))
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The accept path's group commit over the database.
    pub fn group_commit(&self) -> &rabt_store::GroupCommit {
        &self.0.group_commit
    }

    /// The service catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.0.catalogue
    }

    /// Whether a service can be called in this deployment.
    pub fn is_callable(&self, service: &ServiceName) -> bool {
        self.0.callable.contains(service)
    }

    /// The broker transport.
    pub fn transport(&self) -> &Transport {
        &self.0.transport
    }

    /// The requests waited for by `Prefer: wait`.
    pub fn waiters(&self) -> &Waiters {
        &self.0.waiters
    }

    /// Tells the outbox relay there is something to publish, unless the store handed
    /// the rows to it already (`Store::hand_over_to`): a search would find them
    /// claimed, and rows the relay could not take wait out their lease either way.
    pub fn wake_outbox(&self) {
        if !self.0.store.hands_over() {
            self.0.outbox_wake.notify_one();
        }
    }

    /// The secrets `agency`'s callbacks may be signed with (empty: none accepted).
    pub fn callback_secrets(&self, agency: Agency) -> &[rabt_webhook::Secret] {
        self.0
            .settings
            .callback_secrets
            .get(&agency)
            .map(Vec::as_slice)
            // An agency left out of the settings has no secrets: none of its callbacks
            // verifies, and the handler answers 404 before reading one.
            .unwrap_or_default()
    }

    /// The settings.
    pub fn settings(&self) -> &ApiSettings {
        &self.0.settings
    }

    /// Cooperatives' limits as last read.
    pub(crate) fn limit_cache(&self) -> &crate::limits::LimitCache {
        &self.0.limit_cache
    }

    /// The cache of the overview.
    pub(crate) fn overview_cache(
        &self,
    ) -> &tokio::sync::Mutex<Option<(std::time::Instant, serde_json::Value)>> {
        &self.0.overview
    }

    /// The console's login limiter.
    pub(crate) fn logins(&self) -> &crate::console::LoginLimiter {
        &self.0.logins
    }
}

/// Maps a store failure to a response: an idempotency key still being stored is the
/// draft's 409; a lost race with a concurrent transaction (that retrying did not cure)
/// is `503 busy`, an unreachable database `503 unavailable`, both with `Retry-After`;
/// anything else a logged 500.
pub fn store_error(context: &str, err: StoreError) -> ApiError {
    match err {
        StoreError::KeyInFlight => ApiError::new(ProblemKind::IdempotencyConflict)
            .detail(
                "the first request with this key is still being stored; retry it in a moment",
                "الطلب الأول بهذا المفتاح ما زال قيد الحفظ؛ أعد المحاولة بعد لحظة",
            )
            .retry_after(1),
        err if err.is_conflict() => {
            tracing::info!(error = %err, "{context}: lost a race with a concurrent transaction");
            ApiError::new(ProblemKind::Busy).retry_after(1)
        }
        err if err.is_unavailable() => {
            tracing::warn!(error = %err, "{context}: database unavailable");
            ApiError::unavailable(2)
        }
        err => ApiError::internal(context, &Chain(&err)),
    }
}

/// An error with its sources (`database error: error communicating with database: …`),
/// so the log of an internal error says what the database said.
struct Chain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
