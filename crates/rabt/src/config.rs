//! Configuration: the commented defaults of `deploy/rabt.toml` (built in), then the
//! file given with `--config`, then `RABT_…` environment variables; parsed into raw
//! structs that refuse unknown keys (naming the key path), then validated into typed
//! settings before anything is built.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rabt_core::Agency;
use serde::Deserialize;
use toml::{Table, Value};

mod agencies;
mod audit;
mod cooperatives;
mod edge;
mod layers;
mod notifications;
mod worker;

pub(crate) use agencies::AgencyConfig;
pub(crate) use audit::{AuditConfig, RetentionConfig};

use layers::{apply_env, merge};

/// The shipped defaults, with their comments: `deploy/rabt.toml`.
pub(crate) const DEFAULTS: &str = include_str!("../../../deploy/rabt.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    api: RawApi,
    edge: edge::RawEdge,
    cooperatives: cooperatives::RawCooperatives,
    database: RawDatabase,
    queue: RawQueue,
    worker: RawWorker,
    outbox: RawOutbox,
    notifications: notifications::RawNotifications,
    shutdown: RawShutdown,
    log: RawLog,
    simulate: RawSimulate,
    audit: audit::RawAudit,
    privacy: audit::RawPrivacy,
    retention: audit::RawRetention,
    agencies: BTreeMap<String, agencies::RawAgency>,
    deadlines: BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: String,
    ops_listen: String,
    body_limit_bytes: usize,
    max_wait_seconds: u64,
    key_rotation_overlap_seconds: u64,
    key_cache_ttl_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    max_connections: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    amqp_url: AmqpUrls,
    delivery_limit: u32,
    quorum_size: u32,
    retry_tiers_ms: Vec<u64>,
}

/// `queue.amqp_url`: one URL, several separated by commas (as `RABT_AMQP_URL` gives
/// them), or a list: the nodes of a RabbitMQ cluster.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AmqpUrls {
    One(String),
    Many(Vec<String>),
}

impl AmqpUrls {
    fn into_list(self) -> Vec<String> {
        let text = match self {
            AmqpUrls::One(text) => text,
            AmqpUrls::Many(list) => list.join(","),
        };
        text.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorker {
    agencies: Vec<String>,
    prefetch: u16,
    call_timeout_ms: u64,
    deadline_sweep_ms: u64,
    metrics_listen: String,
    breaker: worker::RawBreaker,
    #[serde(default)]
    limits: BTreeMap<String, worker::RawLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    batch_size: u32,
    lease_ms: u64,
    poll_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShutdown {
    grace_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    filter: String,
    format: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimulate {
    listen_base: u16,
    seed: u64,
    callback_url: String,
    pki_dir: String,
    #[serde(default)]
    knobs: BTreeMap<String, toml::Value>,
}

/// A credential: never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// The secret's text, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// API listen address (`/v1/*`, `/openapi.json`, the probes).
    pub listen: SocketAddr,
    /// The operators' listener (`/console/`, `/ops/v1/*`, `/metrics`); the same as
    /// `listen` only when configured so, and then one listener serves both.
    pub ops_listen: SocketAddr,
    /// Body limit in bytes.
    pub body_limit: usize,
    /// Longest `Prefer: wait`.
    pub max_wait: Duration,
    /// The listener's timeouts, header size and connection cap (`[edge]`).
    pub edge: rabt_api::edge::EdgeSettings,
    /// How deep and long a JSON body may be (`[edge]`).
    pub json_limits: rabt_api::json::JsonLimits,
    /// The limits of a cooperative without its own (`[cooperatives]`).
    pub cooperative_default_limit: rabt_store::CooperativeLimit,
    /// How long a cooperative's old keys keep working after a rotation.
    pub key_overlap: Duration,
    /// How long a verified API key is trusted from memory (zero: never).
    pub key_cache_ttl: Duration,
    /// Database URL (may hold a password: never log it whole); `None` when none is
    /// configured (see [`Config::database`]).
    pub database_url: Option<Secret>,
    /// Connections per process.
    pub max_connections: u32,
    /// Broker URLs, separated by commas (the nodes of a cluster); `None` for the
    /// embedded transport.
    pub amqp_url: Option<Secret>,
    /// Replicas of each quorum queue (`queue.quorum_size`); `None`: the broker's default.
    pub quorum_size: Option<u32>,
    /// Deliveries before dead-lettering.
    pub delivery_limit: u32,
    /// Retry tier waits.
    pub retry_tiers: Vec<Duration>,
    /// Agencies this worker serves; empty = all with adapters.
    pub worker_agencies: Vec<Agency>,
    /// Worker prefetch per agency.
    pub prefetch: u16,
    /// Longest agency call.
    pub call_timeout: Duration,
    /// Deadline sweep period.
    pub deadline_sweep: Duration,
    /// Where a process without the API serves `/metrics` (`None`: it does not).
    pub worker_metrics_listen: Option<SocketAddr>,
    /// Each agency's circuit breaker (`[worker.breaker]`).
    pub worker_breaker: rabt_worker::BreakerSettings,
    /// Per-agency limits (`[worker.limits.<agency>]`); an agency not named has none.
    pub worker_limits: BTreeMap<Agency, rabt_worker::AgencyLimits>,
    /// Outbox batch size.
    pub outbox_batch: u32,
    /// Outbox lease.
    pub outbox_lease: Duration,
    /// Outbox poll period.
    pub outbox_poll: Duration,
    /// The notifier and the SSRF rules of notify URLs (`[notifications]`).
    pub notifications: rabt_worker::NotifierSettings,
    /// Shutdown grace.
    pub shutdown_grace: Duration,
    /// Log filter.
    pub log_filter: String,
    /// Log as JSON lines.
    pub log_json: bool,
    /// First simulator port.
    pub simulate_base: u16,
    /// Seed of the simulators' world.
    pub seed: u64,
    /// Where `rabt simulate`'s asynchronous agencies call back (Rabt's API).
    pub simulate_callback_url: url::Url,
    /// Where `rabt simulate` keeps the sandbox PKI of the chambers mutual TLS.
    pub simulate_pki_dir: std::path::PathBuf,
    /// The fault knobs each simulator starts with (the admin endpoint changes them).
    pub simulate_knobs: BTreeMap<Agency, rabt_sandbox::simulator::Knobs>,
    /// Every agency's connection.
    pub agencies: BTreeMap<Agency, AgencyConfig>,
    /// Deadline overrides: a service name or `<composite>/<check>`, and its deadline.
    pub deadlines: BTreeMap<String, Duration>,
    /// The sealed audit log (`[audit]`).
    pub audit: AuditConfig,
    /// The key of personal-data digests (`[privacy] pii_key`, `RABT_PII_KEY`).
    pub pii_key: Option<rabt_audit::PiiKey>,
    /// How long payloads are kept (`[retention]`).
    pub retention: RetentionConfig,
}

impl Config {
    /// The database URL, which every command but `demo`, `simulate` and `openapi` needs.
    pub(crate) fn database(&self) -> anyhow::Result<&str> {
        match &self.database_url {
            Some(url) => Ok(url.expose()),
            None => bail!(
                "no database configured: set RABT_DATABASE_URL (postgres://user:password@host:5432/rabt \
                 in production; sqlite://rabt.db?mode=rwc for one machine), or `database.url` in the \
                 file given with --config"
            ),
        }
    }

    /// Loads defaults, then `file`, then the environment.
    pub(crate) fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let user = match file {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the configuration file {}", path.display())
            })?),
            None => None,
        };
        Config::from_sources(user.as_deref(), &env).with_context(|| match file {
            Some(path) => format!(
                "invalid configuration (defaults + {} + RABT_* variables)",
                path.display()
            ),
            None => "invalid configuration (defaults + RABT_* variables)".to_owned(),
        })
    }

    /// Builds the configuration from the text of a user file and environment pairs.
    pub(crate) fn from_sources(
        user: Option<&str>,
        env: &[(String, String)],
    ) -> anyhow::Result<Config> {
        let mut table: Table =
            toml::from_str(DEFAULTS).context("the built-in defaults do not parse")?;
        if let Some(text) = user {
            let overlay: Table = toml::from_str(text).context("the file is not valid TOML")?;
            merge(&mut table, overlay, "")?;
        }
        apply_env(&mut table, env)?;
        let raw: Raw = serde_path_to_error::deserialize(Value::Table(table)).map_err(|err| {
            let path = err.path().to_string();
            anyhow!("at `{path}`: {}", err.inner())
        })?;
        validate(raw)
    }
}

fn ms(value: u64, key: &str) -> anyhow::Result<Duration> {
    if value == 0 {
        bail!("`{key}` must be positive");
    }
    Ok(Duration::from_millis(value))
}

/// The raw settings, each checked by the function named for it, into a [`Config`].
fn validate(raw: Raw) -> anyhow::Result<Config> {
    if raw.worker.prefetch == 0 {
        bail!("`worker.prefetch` must be positive");
    }
    let (edge, json_limits) = edge::settings(&raw.edge)?;
    Ok(Config {
        listen: address(&raw.api.listen, "api.listen", "127.0.0.1:8080")?,
        ops_listen: address(&raw.api.ops_listen, "api.ops_listen", "127.0.0.1:9091")?,
        body_limit: raw.api.body_limit_bytes,
        max_wait: Duration::from_secs(raw.api.max_wait_seconds),
        edge,
        json_limits,
        cooperative_default_limit: cooperatives::default_limit(&raw.cooperatives)?,
        key_overlap: key_overlap(raw.api.key_rotation_overlap_seconds)?,
        key_cache_ttl: key_cache_ttl(raw.api.key_cache_ttl_ms)?,
        database_url: database_url(&raw.database.url)?,
        max_connections: raw.database.max_connections.max(1),
        amqp_url: amqp_url(raw.queue.amqp_url)?,
        quorum_size: (raw.queue.quorum_size > 0).then_some(raw.queue.quorum_size),
        delivery_limit: raw.queue.delivery_limit.max(1),
        retry_tiers: retry_tiers(&raw.queue.retry_tiers_ms)?,
        worker_agencies: worker_agencies(&raw.worker.agencies)?,
        prefetch: raw.worker.prefetch,
        call_timeout: ms(raw.worker.call_timeout_ms, "worker.call_timeout_ms")?,
        deadline_sweep: ms(raw.worker.deadline_sweep_ms, "worker.deadline_sweep_ms")?,
        worker_metrics_listen: worker_metrics_listen(&raw.worker.metrics_listen)?,
        worker_breaker: worker::breaker(&raw.worker.breaker)?,
        worker_limits: worker::limits(&raw.worker.limits)?,
        outbox_batch: raw.outbox.batch_size.max(1),
        outbox_lease: ms(raw.outbox.lease_ms, "outbox.lease_ms")?,
        outbox_poll: ms(raw.outbox.poll_ms, "outbox.poll_ms")?,
        notifications: notifications::settings(&raw.notifications)?,
        shutdown_grace: Duration::from_millis(raw.shutdown.grace_ms),
        log_filter: raw.log.filter,
        log_json: log_json(&raw.log.format)?,
        simulate_base: raw.simulate.listen_base,
        seed: raw.simulate.seed,
        deadlines: deadlines(&raw.deadlines)?,
        simulate_pki_dir: raw.simulate.pki_dir.clone().into(),
        simulate_knobs: simulate_knobs(&raw.simulate.knobs)?,
        simulate_callback_url: url::Url::parse(&raw.simulate.callback_url)
            .map_err(|e| anyhow!("`simulate.callback_url`: {e}"))?,
        agencies: agencies::agencies(raw.agencies)?,
        audit: audit::audit(&raw.audit)?,
        pii_key: audit::pii_key(&raw.privacy)?,
        retention: audit::retention(&raw.retention)?,
    })
}

/// A listening address at `key`, with an example in the error.
fn address(value: &str, key: &str, example: &str) -> anyhow::Result<SocketAddr> {
    value
        .parse()
        .map_err(|_| anyhow!("`{key}` must be an address like {example}, got `{value}`"))
}

/// `database.url`: empty for none (the commands that need one say so), else SQLite or
/// PostgreSQL.
fn database_url(url: &str) -> anyhow::Result<Option<Secret>> {
    match url {
        "" => Ok(None),
        url if url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://") =>
        {
            Ok(Some(Secret(url.to_owned())))
        }
        _ => bail!("`database.url` must start with sqlite: or postgres://"),
    }
}

/// `queue.amqp_url`: the cluster's nodes joined by commas, or none for the embedded
/// transport.
fn amqp_url(urls: AmqpUrls) -> anyhow::Result<Option<Secret>> {
    let urls = urls.into_list();
    if let Some(n) = urls
        .iter()
        .position(|u| !(u.starts_with("amqp://") || u.starts_with("amqps://")))
    {
        bail!(
            "`queue.amqp_url`: URL {} must start with amqp:// or amqps:// (or the list be empty for the embedded transport)",
            n + 1
        );
    }
    Ok((!urls.is_empty()).then(|| Secret(urls.join(","))))
}

/// `queue.retry_tiers_ms`: at least one tier, none of them zero.
fn retry_tiers(tiers: &[u64]) -> anyhow::Result<Vec<Duration>> {
    let tiers = tiers
        .iter()
        .map(|t| ms(*t, "queue.retry_tiers_ms"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if tiers.is_empty() {
        bail!("`queue.retry_tiers_ms` needs at least one tier");
    }
    Ok(tiers)
}

/// `worker.agencies`: the agencies this worker serves, by wire name.
fn worker_agencies(names: &[String]) -> anyhow::Result<Vec<Agency>> {
    names
        .iter()
        .map(|a| {
            a.parse::<Agency>()
                .map_err(|e| anyhow!("`worker.agencies`: {e}"))
        })
        .collect()
}

/// `worker.metrics_listen`: empty for none.
fn worker_metrics_listen(address: &str) -> anyhow::Result<Option<SocketAddr>> {
    if address.is_empty() {
        return Ok(None);
    }
    let parsed = address.parse().map_err(|_| {
        anyhow!(
            "`worker.metrics_listen` must be empty or an address like 127.0.0.1:9464, got `{address}`"
        )
    })?;
    Ok(Some(parsed))
}

/// `log.format`: whether the logs are JSON lines.
fn log_json(format: &str) -> anyhow::Result<bool> {
    match format {
        "text" => Ok(false),
        "json" => Ok(true),
        other => bail!("`log.format` must be \"text\" or \"json\", got `{other}`"),
    }
}

/// `deadlines`: a service's deadline overrides, none of them zero.
fn deadlines(raw: &BTreeMap<String, u64>) -> anyhow::Result<BTreeMap<String, Duration>> {
    raw.iter()
        .map(|(key, ms_value)| Ok((key.clone(), ms(*ms_value, &format!("deadlines.\"{key}\""))?)))
        .collect()
}

/// `api.key_cache_ttl_ms`: short, at most five minutes (the bound of the cache is a
/// safety net; the key generation does the invalidating).
fn key_cache_ttl(ms: u64) -> anyhow::Result<Duration> {
    if ms > 300_000 {
        bail!("`api.key_cache_ttl_ms` must be at most 300000 (five minutes)");
    }
    Ok(Duration::from_millis(ms))
}

/// `api.key_rotation_overlap_seconds`: at most 30 days (the operator API's limit).
fn key_overlap(seconds: u64) -> anyhow::Result<Duration> {
    if seconds > 30 * 24 * 3600 {
        bail!("`api.key_rotation_overlap_seconds` must be at most 2592000 (30 days)");
    }
    Ok(Duration::from_secs(seconds))
}

/// `[simulate.knobs.<agency>]`: the same fields as the simulators' `/_sim/knobs`.
fn simulate_knobs(
    raw: &BTreeMap<String, toml::Value>,
) -> anyhow::Result<BTreeMap<Agency, rabt_sandbox::simulator::Knobs>> {
    raw.iter()
        .map(|(name, value)| {
            let agency: Agency = name
                .parse()
                .map_err(|e| anyhow!("`simulate.knobs.{name}`: {e}"))?;
            let json = serde_json::to_value(value)?;
            let knobs: rabt_sandbox::simulator::Knobs = serde_json::from_value(json)
                .map_err(|e| anyhow!("`simulate.knobs.{name}`: {e}"))?;
            if let Some(problem) = knobs.problem() {
                bail!("`simulate.knobs.{name}`: {problem}");
            }
            Ok((agency, knobs))
        })
        .collect()
}

/// A list of URLs separated by commas (the broker's nodes), each with its password
/// replaced by `***`, for logs.
pub(crate) fn redact_urls(urls: &str) -> String {
    urls.split(',')
        .map(|url| redact_url(url.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

/// A URL with its password replaced by `***`, for logs.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests;
