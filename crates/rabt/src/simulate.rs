//! `rabt simulate`: the agency simulators, standalone, for sandbox testing against
//! `rabt serve` (or a cooperative's own integration tests).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::bail;
use rabt_adapter::sandbox::World;
use rabt_adapter::simulator::KnobsHandle;
use rabt_core::Agency;

use crate::agencies;
use crate::config::Config;
use crate::runtime;

/// Serves every simulator of this build on `base + index` until Ctrl-C or SIGTERM.
pub(crate) async fn run(config: &Config, listen_base: Option<u16>) -> anyhow::Result<()> {
    let base = listen_base.unwrap_or(config.simulate_base);
    let shutdown = runtime::shutdown_on_signals();
    let world = Arc::new(World::generate(config.seed));
    let mut served = Vec::new();
    for agency in Agency::ALL {
        let Some(settings) = config.agencies.get(&agency) else {
            continue;
        };
        if agencies::services_of(agency).is_none() {
            tracing::info!(%agency, "no simulator for this agency in this build yet");
            continue;
        }
        if settings.api_key.is_empty() {
            bail!(
                "agencies.{agency}.api_key is empty: the simulator accepts the key `rabt serve` sends; set RABT_AGENCY_{}_API_KEY for both",
                agency.env_name()
            );
        }
        let port = base
            .checked_add(agency.index() as u16)
            .ok_or_else(|| anyhow::anyhow!("--listen-base {base} leaves no room for six ports"))?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let knobs = KnobsHandle::with_seed(config.seed);
        if let Some((bound, handle)) = agencies::simulator(
            agency,
            world.clone(),
            settings.api_key.expose(),
            knobs,
            address,
        )
        .await?
        {
            tracing::info!(%agency, address = %bound, "simulator listening (fault knobs at /_sim/knobs)");
            println!("{agency:<11} http://{bound}");
            served.push(handle);
        }
    }
    shutdown.cancelled().await;
    for handle in served {
        handle.shutdown().await;
    }
    Ok(())
}
