//! `rabt serve`: production mode.

use anyhow::{Context, bail};
use rabt_queue::Transport;
use rabt_store::Store;

use crate::Role;
use crate::agencies;
use crate::config::{Config, redact_urls};
use crate::runtime::{self, BROKER_CONNECT_TIMEOUT, Roles};

/// Runs the given role until SIGTERM.
pub(crate) async fn run(config: &Config, role: Role) -> anyhow::Result<()> {
    if config.pii_key.is_none() {
        bail!(
            "no personal-data key: set RABT_PII_KEY (at least 32 characters; `rabt audit pii-keygen` makes one). \
             Identity numbers and mobiles are kept as digests under it, and it must stay the same for the life of the log"
        );
    }
    let shutdown = runtime::shutdown_on_signals();
    let store = runtime::open_store(config.database()?, config.max_connections)
        .await?
        .cache_api_keys(config.key_cache_ttl);
    let transport = transport(config, role, &store).await?;
    let adapters = if role == Role::Api {
        Vec::new()
    } else {
        agencies::build_adapters(config, &config.worker_agencies)?
    };
    let api = if role == Role::Worker {
        None
    } else {
        Some(runtime::bind_api(config.listen, config.ops_listen).await?)
    };
    let roles = Roles {
        api,
        adapters,
        callable: agencies::callable_services(),
    };
    runtime::run(config, store, transport, roles, shutdown).await
}

/// RabbitMQ when `queue.amqp_url` names it, waited for up to
/// [`BROKER_CONNECT_TIMEOUT`]; else the in-process transport, which only one process
/// (`--role all`) can use, with the tasks a previous run left open queued again.
async fn transport(config: &Config, role: Role, store: &Store) -> anyhow::Result<Transport> {
    let Some(url) = &config.amqp_url else {
        if role != Role::All {
            bail!(
                "the embedded transport (queue.amqp_url empty) only works in one process: use --role all, or set RABT_AMQP_URL"
            );
        }
        let transport = Transport::embedded(runtime::queue_settings(config));
        runtime::requeue_open_tasks(store).await?;
        return Ok(transport);
    };
    tracing::info!(broker = %redact_urls(url.expose()), "connecting to RabbitMQ");
    tokio::time::timeout(
        BROKER_CONNECT_TIMEOUT,
        Transport::amqp(url.expose(), runtime::queue_settings(config)),
    )
    .await
    .with_context(|| {
        format!(
            "no broker within {BROKER_CONNECT_TIMEOUT:?} at {}",
            redact_urls(url.expose())
        )
    })?
    .with_context(|| {
        format!(
            "cannot connect to RabbitMQ at {}",
            redact_urls(url.expose())
        )
    })
}
