//! The one place that knows which agencies have an adapter and a simulator in this
//! build. Adding an agency is adding its arms here (docs/adding-an-agency.md).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rabt_adapter::Adapter;
use rabt_adapter::http::Secret;
use rabt_adapter::sandbox::World;
use rabt_adapter::simulator::{KnobsHandle, ShutdownHandle, spawn_at};
use rabt_adapter_saudi_post as saudi_post;
use rabt_core::{Agency, ServiceName};

use crate::config::Config;

/// How to reach one agency.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    /// Base URL.
    pub url: url::Url,
    /// Credential.
    pub api_key: String,
    /// HTTP timeout.
    pub timeout: Duration,
}

/// The services of an agency's adapter, or `None` if this build has no adapter for it.
pub(crate) fn services_of(agency: Agency) -> Option<&'static [&'static str]> {
    match agency {
        Agency::SaudiPost => Some(saudi_post::SERVICES),
        Agency::Interior
        | Agency::Health
        | Agency::Labor
        | Agency::Municipal
        | Agency::Chambers => None,
    }
}

/// Every service callable in this build.
pub(crate) fn callable_services() -> BTreeSet<ServiceName> {
    Agency::ALL
        .into_iter()
        .filter_map(services_of)
        .flatten()
        .filter_map(|s| ServiceName::parse(s).ok())
        .collect()
}

/// The adapter of `agency`, or `None` if this build has none.
pub(crate) fn adapter(
    agency: Agency,
    connection: &Connection,
) -> anyhow::Result<Option<Arc<dyn Adapter>>> {
    Ok(match agency {
        Agency::SaudiPost => Some(Arc::new(
            saudi_post::SaudiPostAdapter::new(saudi_post::SaudiPostConfig {
                base_url: connection.url.clone(),
                api_key: Secret::new(connection.api_key.clone()),
                timeout: connection.timeout,
            })
            .context("cannot build the saudi-post adapter")?,
        )),
        Agency::Interior
        | Agency::Health
        | Agency::Labor
        | Agency::Municipal
        | Agency::Chambers => None,
    })
}

/// Serves the simulator of `agency` on `address`, or `None` if this build has none.
pub(crate) async fn simulator(
    agency: Agency,
    world: Arc<World>,
    api_key: &str,
    knobs: KnobsHandle,
    address: SocketAddr,
) -> anyhow::Result<Option<(SocketAddr, ShutdownHandle)>> {
    let router = match agency {
        Agency::SaudiPost => {
            saudi_post::simulator::router(world, Secret::new(api_key.to_owned()), knobs)
        }
        Agency::Interior
        | Agency::Health
        | Agency::Labor
        | Agency::Municipal
        | Agency::Chambers => return Ok(None),
    };
    let served = spawn_at(address, router)
        .await
        .with_context(|| format!("cannot serve the {agency} simulator on {address}"))?;
    Ok(Some(served))
}

/// The adapters for a worker: the agencies listed (all with adapters when empty), each
/// with its configured URL and credential.
pub(crate) fn build_adapters(
    config: &Config,
    only: &[Agency],
) -> anyhow::Result<Vec<Arc<dyn Adapter>>> {
    let wanted: Vec<Agency> = if only.is_empty() {
        Agency::ALL
            .into_iter()
            .filter(|a| services_of(*a).is_some())
            .collect()
    } else {
        only.to_vec()
    };
    let mut adapters = Vec::new();
    for agency in wanted {
        let Some(settings) = config.agencies.get(&agency) else {
            bail!("no [agencies.{agency}] configuration");
        };
        if services_of(agency).is_none() {
            bail!("worker.agencies names {agency}, which has no adapter in this build yet");
        }
        if settings.api_key.is_empty() {
            bail!(
                "agencies.{agency}.api_key is empty: set RABT_AGENCY_{}_API_KEY (the credential the agency gave you)",
                agency.env_name()
            );
        }
        let connection = Connection {
            url: settings.url.clone(),
            api_key: settings.api_key.expose().to_owned(),
            timeout: settings.timeout,
        };
        if let Some(adapter) = self::adapter(agency, &connection)? {
            adapters.push(adapter);
        }
    }
    Ok(adapters)
}
