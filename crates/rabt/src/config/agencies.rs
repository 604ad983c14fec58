//! `agencies.<name>`: how Rabt reaches each agency.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::anyhow;
use rabt_core::Agency;
use serde::Deserialize;

use super::{Secret, ms};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgency {
    url: String,
    api_key: String,
    timeout_ms: u64,
    callback_secrets: Vec<String>,
    #[serde(default)]
    credentials: BTreeMap<String, String>,
}

/// One agency's connection.
#[derive(Debug, Clone)]
pub(crate) struct AgencyConfig {
    /// Its base URL.
    pub url: url::Url,
    /// The credential Rabt sends (and `rabt simulate` accepts).
    pub api_key: Secret,
    /// The HTTP timeout of one call.
    pub timeout: Duration,
    /// The secrets the agency's callbacks are signed with (empty: it cannot call back).
    pub callback_secrets: Vec<rabt_webhook::Secret>,
    /// Agency-specific credentials and settings (docs/operations.md lists them).
    pub credentials: BTreeMap<String, Secret>,
}

/// Every configured agency, by its wire name.
pub(super) fn agencies(
    raw: BTreeMap<String, RawAgency>,
) -> anyhow::Result<BTreeMap<Agency, AgencyConfig>> {
    raw.into_iter()
        .map(|(name, agency)| {
            let key = name
                .parse::<Agency>()
                .map_err(|e| anyhow!("`agencies.{name}`: {e}"))?;
            Ok((key, agency_config(&name, agency)?))
        })
        .collect()
}

/// One agency's connection: a URL, a positive timeout and well-formed callback secrets.
fn agency_config(name: &str, agency: RawAgency) -> anyhow::Result<AgencyConfig> {
    let url = url::Url::parse(&agency.url).map_err(|e| anyhow!("`agencies.{name}.url`: {e}"))?;
    let timeout = ms(agency.timeout_ms, &format!("agencies.{name}.timeout_ms"))?;
    let callback_secrets = agency
        .callback_secrets
        .iter()
        .map(|s| {
            rabt_webhook::Secret::parse(s)
                .map_err(|e| anyhow!("`agencies.{name}.callback_secrets`: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(AgencyConfig {
        url,
        api_key: Secret(agency.api_key),
        timeout,
        callback_secrets,
        credentials: agency
            .credentials
            .into_iter()
            .map(|(k, v)| (k, Secret(v)))
            .collect(),
    })
}
