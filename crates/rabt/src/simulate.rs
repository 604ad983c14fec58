//! `rabt simulate`: the six agency simulators, standalone, for sandbox testing against
//! `rabt serve` (or a cooperative's own integration tests).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rabt_adapter::sandbox::World;
use rabt_adapter::simulator::KnobsHandle;
use rabt_core::Agency;

use crate::agencies::{self, Setup};
use crate::config::Config;
use crate::logging::print;
use crate::runtime;

/// Serves every simulator on `base + index` until Ctrl-C or SIGTERM. Each accepts the
/// credentials `rabt serve` sends (the same configuration); municipal and health call
/// back to `simulate.callback_url`, signed with their `callback_secrets`.
pub(crate) async fn run(config: &Config, listen_base: Option<u16>) -> anyhow::Result<()> {
    let base = listen_base.unwrap_or(config.simulate_base);
    let shutdown = runtime::shutdown_on_signals();
    let world = Arc::new(World::generate(config.seed));
    let pki = agencies::sandbox_pki(&config.simulate_pki_dir)?;
    let mut served = Vec::new();
    for agency in Agency::ALL {
        let settings = config
            .agencies
            .get(&agency)
            .with_context(|| format!("no [agencies.{agency}] configuration"))?;
        let setup = Setup::from_config(agency, settings, false)?;
        let port = base
            .checked_add(agency.index() as u16)
            .ok_or_else(|| anyhow::anyhow!("--listen-base {base} leaves no room for six ports"))?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let knobs = KnobsHandle::with_seed(config.seed);
        if let Some(initial) = config.simulate_knobs.get(&agency) {
            knobs.set(*initial);
        }
        let (bound, handle) = agencies::simulator(
            agency,
            world.clone(),
            &setup,
            knobs,
            address,
            &config.simulate_callback_url,
            &pki,
        )
        .await
        .with_context(|| format!("the {agency} simulator"))?;
        tracing::info!(%agency, address = %bound, "simulator listening (fault knobs at /_sim/knobs)");
        print(&format!(
            "{agency:<11} {}",
            agencies::url_of(agency, bound)?
        ))?;
        served.push(handle);
    }
    shutdown.cancelled().await;
    for handle in served {
        handle.shutdown().await;
    }
    Ok(())
}
