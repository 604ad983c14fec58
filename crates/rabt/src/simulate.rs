//! `rabt simulate`: every agency's simulator, standalone, for sandbox testing against
//! `rabt serve` (or a cooperative's own integration tests). They are a sandbox: a
//! credential the configuration leaves empty takes its well-known sandbox value, and
//! `--print-env` prints what `rabt serve` must be given to call them.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rabt_core::Agency;
use rabt_sandbox::simulator::KnobsHandle;
use rabt_sandbox::world::World;

use crate::agencies::{self, Setup};
use crate::config::Config;
use crate::logging::print;
use crate::runtime;

/// Serves every simulator on `base + index` until Ctrl-C or SIGTERM. Each accepts the
/// credentials `rabt serve` sends (the same configuration, or the sandbox's values where
/// it leaves them empty); municipal and health call back to `simulate.callback_url`,
/// signed with their `callback_secrets`. With `print_env` it prints the environment of
/// `rabt serve` instead, and serves nothing.
/// `rabt simulate`'s description: the agencies in the order of their ports.
pub(crate) fn about() -> String {
    format!(
        "The agency simulators, standalone, on --listen-base + 0..{} ({}), for sandbox testing",
        Agency::ALL.len() - 1,
        Agency::wire_names().join(", ")
    )
}

pub(crate) async fn run(
    config: &Config,
    listen_base: Option<u16>,
    print_env: bool,
) -> anyhow::Result<()> {
    let setups = setups(config, listen_base.unwrap_or(config.simulate_base))?;
    if print_env {
        // The chambers files must exist before a worker reads them.
        agencies::sandbox_pki(&config.simulate_pki_dir)?;
        return print_environment(config, &setups);
    }
    let shutdown = runtime::shutdown_on_signals();
    let world = Arc::new(World::generate(config.seed));
    let pki = agencies::sandbox_pki(&config.simulate_pki_dir)?;
    let mut served = Vec::new();
    for (agency, setup, address) in setups {
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
    print(
        "`rabt simulate --print-env` (with the same options) prints what `rabt serve` needs to call them.",
    )?;
    shutdown.cancelled().await;
    for handle in served {
        handle.shutdown().await;
    }
    Ok(())
}

/// Every agency's sandbox setup (what the configuration sets, else the sandbox's
/// well-known values) and its address: `base` plus the agency's index.
fn setups(config: &Config, base: u16) -> anyhow::Result<Vec<(Agency, Setup, SocketAddr)>> {
    let catalogue = runtime::catalogue(config)?;
    let mut setups = Vec::new();
    for agency in Agency::ALL {
        let settings = config
            .agencies
            .get(&agency)
            .with_context(|| format!("no [agencies.{agency}] configuration"))?;
        let calls_back = catalogue.callback_schema(agency).is_some();
        let setup = Setup::from_config(agency, settings, false)?.or_sandbox_defaults(calls_back);
        let port = base.checked_add(agency.index() as u16).ok_or_else(|| {
            anyhow::anyhow!(
                "--listen-base {base} leaves no room for {} ports",
                Agency::ALL.len()
            )
        })?;
        setups.push((agency, setup, SocketAddr::from(([127, 0, 0, 1], port))));
    }
    Ok(setups)
}

/// `--print-env`: one `export` line per variable `rabt serve` needs to call the
/// simulators at their ports with the credentials they accept.
fn print_environment(
    config: &Config,
    setups: &[(Agency, Setup, SocketAddr)],
) -> anyhow::Result<()> {
    print("# rabt simulate's sandbox: the environment of `rabt serve` (public sandbox values)")?;
    for (agency, setup, address) in setups {
        // The certificate files of the sandbox PKI, wherever the configuration does
        // not name others (`rabt simulate` creates them on its first start).
        let setup = if agencies::registered(*agency).mutual_tls() {
            setup.with_sandbox_pki_files(&config.simulate_pki_dir)
        } else {
            setup.clone()
        };
        for line in setup.exports(&agencies::url_of(*agency, *address)?)? {
            print(&line)?;
        }
    }
    Ok(())
}
