//! The one place that knows the agencies of this build: their services, how their
//! adapters are built from configuration, how their simulators are served. Adding an
//! agency is adding its arms here (docs/adding-an-agency.md).

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, bail};
use rabt_adapter::Adapter;
use rabt_adapter::http::{ClientIdentity, Secret, SecretBytes};
use rabt_adapter_chambers as chambers;
use rabt_adapter_health as health;
use rabt_adapter_interior as interior;
use rabt_adapter_labor as labor;
use rabt_adapter_municipal as municipal;
use rabt_adapter_saudi_post as saudi_post;
use rabt_core::{Agency, ServiceName, UnifiedNumber};

use crate::config::Config;

mod setup;
mod simulators;

pub(crate) use setup::Setup;
pub(crate) use simulators::{sandbox_pki, simulator, url_of};

/// The services of an agency's adapter.
pub(crate) fn services_of(agency: Agency) -> &'static [&'static str] {
    match agency {
        Agency::Interior => interior::SERVICES,
        Agency::Health => health::SERVICES,
        Agency::Labor => labor::SERVICES,
        Agency::Municipal => municipal::SERVICES,
        Agency::Chambers => chambers::SERVICES,
        Agency::SaudiPost => saudi_post::SERVICES,
    }
}

/// Every service callable in this build.
pub(crate) fn callable_services() -> BTreeSet<ServiceName> {
    Agency::ALL
        .into_iter()
        .flat_map(services_of)
        .filter_map(|s| ServiceName::parse(s).ok())
        .collect()
}

/// The adapter of `agency`, from its setup.
pub(crate) fn adapter(agency: Agency, setup: &Setup) -> anyhow::Result<Arc<dyn Adapter>> {
    let built: Arc<dyn Adapter> = match agency {
        Agency::SaudiPost => Arc::new(saudi_post::SaudiPostAdapter::new(
            saudi_post::SaudiPostConfig {
                base_url: setup.url.clone(),
                api_key: setup.api_key()?,
                timeout: setup.timeout,
            },
        )?),
        Agency::Municipal => Arc::new(municipal::MunicipalAdapter::new(
            municipal::MunicipalConfig {
                base_url: setup.url.clone(),
                api_key: setup.api_key()?,
                timeout: setup.timeout,
            },
        )?),
        Agency::Health => Arc::new(health::HealthAdapter::new(health::HealthConfig {
            base_url: setup.url.clone(),
            api_key: setup.api_key()?,
            timeout: setup.timeout,
        })?),
        Agency::Labor => Arc::new(labor::LaborAdapter::new(labor::LaborConfig {
            base_url: setup.url.clone(),
            client_id: setup.credential("client_id")?,
            client_secret: Secret::new(setup.credential("client_secret")?),
            timeout: setup.timeout,
        })?),
        Agency::Interior => Arc::new(interior::InteriorAdapter::new(interior::InteriorConfig {
            base_url: setup.url.clone(),
            lite_base_url: setup.optional_url("lite_url")?,
            yakeen: yakeen(setup)?,
            lite: yakeen_lite(setup)?,
            timeout: setup.timeout,
        })?),
        Agency::Chambers => {
            let tls = setup.tls()?;
            Arc::new(chambers::ChambersAdapter::new(chambers::ChambersConfig {
                base_url: setup.url.clone(),
                token: setup.api_key()?,
                client_identity: ClientIdentity {
                    cert_pem: tls.client_cert_pem.clone(),
                    key_pem: SecretBytes(tls.client_key_pem.0.clone()),
                },
                server_ca_pem: vec![tls.server_ca_pem.clone()],
                timeout: setup.timeout,
            })?)
        }
    };
    Ok(built)
}

fn yakeen(setup: &Setup) -> anyhow::Result<interior::YakeenCredentials> {
    Ok(interior::YakeenCredentials {
        user_name: setup.credential("user_name")?,
        password: Secret::new(setup.credential("password")?),
        charge_code: Secret::new(setup.credential("charge_code")?),
    })
}

fn yakeen_lite(setup: &Setup) -> anyhow::Result<interior::YakeenLiteCredentials> {
    let organization = setup.credential("organization_number")?;
    Ok(interior::YakeenLiteCredentials {
        app_id: setup.credential("app_id")?,
        app_key: Secret::new(setup.credential("app_key")?),
        service_key: Secret::new(setup.credential("service_key")?),
        organization_number: UnifiedNumber::parse(&organization)
            .context("`agencies.interior.credentials.organization_number`")?,
    })
}

/// The adapters for a worker: the agencies listed (every agency when empty), each with
/// its configured URL and credentials.
pub(crate) fn build_adapters(
    config: &Config,
    only: &[Agency],
) -> anyhow::Result<Vec<Arc<dyn Adapter>>> {
    let wanted: Vec<Agency> = if only.is_empty() {
        Agency::ALL.to_vec()
    } else {
        only.to_vec()
    };
    let mut adapters = Vec::new();
    for agency in wanted {
        let Some(settings) = config.agencies.get(&agency) else {
            bail!("no [agencies.{agency}] configuration");
        };
        let setup = Setup::from_config(agency, settings, true)?;
        adapters.push(
            adapter(agency, &setup)
                .with_context(|| format!("cannot build the {agency} adapter"))?,
        );
    }
    Ok(adapters)
}
