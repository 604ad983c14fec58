//! The one place that knows the agencies of this build: [`registered`] lists each
//! agency's crate, whose registration says what its adapter serves, which credentials
//! it takes, how its adapter and its simulator are built. Adding an agency is adding
//! its line there (docs/adding-an-agency.md); `setup` reads an agency's configuration
//! into what the crates ask for, `simulators` serves them.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Context, bail};
use rabt_adapter::Adapter;
use rabt_adapter_chambers as chambers;
use rabt_adapter_health as health;
use rabt_adapter_interior as interior;
use rabt_adapter_labor as labor;
use rabt_adapter_municipal as municipal;
use rabt_adapter_saudi_post as saudi_post;
use rabt_core::{Agency, ServiceName};
use rabt_sandbox::Simulated;

use crate::config::Config;

mod setup;
mod simulators;

pub(crate) use setup::Setup;
pub(crate) use simulators::{sandbox_pki, simulator, url_of};

/// The crate of each agency: its registration, adapter and simulator alike.
pub(crate) fn registered(agency: Agency) -> &'static dyn Simulated {
    match agency {
        Agency::Interior => &interior::Interior,
        Agency::Health => &health::Health,
        Agency::Labor => &labor::Labor,
        Agency::Municipal => &municipal::Municipal,
        Agency::Chambers => &chambers::Chambers,
        Agency::SaudiPost => &saudi_post::SaudiPost,
    }
}

/// Every service callable in this build.
pub(crate) fn callable_services() -> BTreeSet<ServiceName> {
    Agency::ALL
        .into_iter()
        .flat_map(|agency| registered(agency).services())
        .filter_map(|s| ServiceName::parse(s).ok())
        .collect()
}

/// The adapter of `agency`, from its setup.
pub(crate) fn adapter(agency: Agency, setup: &Setup) -> anyhow::Result<Arc<dyn Adapter>> {
    Ok(registered(agency).adapter(setup)?)
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
