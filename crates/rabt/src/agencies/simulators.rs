//! Serving the agencies' simulators: `rabt demo` (every simulator on a free port) and
//! `rabt simulate` (on fixed ports, for a sandbox). The asynchronous agencies call back
//! to Rabt's API, signed with their callback secrets; an agency reached over mutual TLS
//! (chambers) is served over TLS with a sandbox PKI.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rabt_adapter::http::SecretBytes;
use rabt_core::Agency;
use rabt_sandbox::SimulatorParts;
use rabt_sandbox::callback::{CallbackSender, CallbackTarget};
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle, spawn_at};
use rabt_sandbox::tls::{CertifiedPem, SandboxPki, spawn_tls};
use rabt_sandbox::world::World;

use super::registered;
use super::setup::Setup;

/// Serves the simulator of `agency` on `address`; returns where it listens. Its callbacks
/// (municipal, health) go to `callback_base` signed with the setup's callback secrets.
pub(crate) async fn simulator(
    agency: Agency,
    world: Arc<World>,
    setup: &Setup,
    knobs: KnobsHandle,
    address: SocketAddr,
    callback_base: &url::Url,
    pki: &SandboxPki,
) -> anyhow::Result<(SocketAddr, ShutdownHandle)> {
    let callbacks = CallbackSender::new(
        agency,
        CallbackTarget {
            base_url: callback_base.clone(),
            secrets: setup.callback_secrets.clone(),
        },
        knobs.clone(),
    );
    let registration = registered(agency);
    let router = registration.simulator(SimulatorParts {
        world,
        settings: setup,
        knobs,
        callbacks,
    })?;
    let cannot = || format!("cannot serve the {agency} simulator on {address}");
    if registration.mutual_tls() {
        return spawn_tls(address, router, &pki.server_tls())
            .await
            .with_context(cannot);
    }
    spawn_at(address, router).await.with_context(cannot)
}

/// The base URL a simulator listening on `address` is reached at.
pub(crate) fn url_of(agency: Agency, address: SocketAddr) -> anyhow::Result<url::Url> {
    let scheme = if registered(agency).mutual_tls() {
        "https"
    } else {
        "http"
    };
    Ok(url::Url::parse(&format!("{scheme}://{address}/"))?)
}

const PKI_FILES: [&str; 6] = [
    "server-ca.pem",
    "server.pem",
    "server-key.pem",
    "client-ca.pem",
    "client.pem",
    "client-key.pem",
];

/// The sandbox PKI kept in `dir`, generated (keys written 0600) the first time, so that
/// `rabt serve` can point `agencies.chambers.credentials` at the client certificate,
/// its key and the server CA there.
pub(crate) fn sandbox_pki(dir: &Path) -> anyhow::Result<SandboxPki> {
    let read = |name: &str| std::fs::read(dir.join(name));
    if PKI_FILES.iter().all(|f| dir.join(f).exists()) {
        return Ok(SandboxPki {
            server_ca_pem: read("server-ca.pem")?,
            server: CertifiedPem {
                cert_pem: read("server.pem")?,
                key_pem: SecretBytes(read("server-key.pem")?),
            },
            client_ca_pem: read("client-ca.pem")?,
            client: CertifiedPem {
                cert_pem: read("client.pem")?,
                key_pem: SecretBytes(read("client-key.pem")?),
            },
        });
    }
    let pki = SandboxPki::generate().context("cannot generate the sandbox PKI")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files: [(&str, &[u8], bool); 6] = [
        ("server-ca.pem", &pki.server_ca_pem, false),
        ("server.pem", &pki.server.cert_pem, false),
        ("server-key.pem", &pki.server.key_pem.0, true),
        ("client-ca.pem", &pki.client_ca_pem, false),
        ("client.pem", &pki.client.cert_pem, false),
        ("client-key.pem", &pki.client.key_pem.0, true),
    ];
    for (name, contents, private) in files {
        write(&dir.join(name), contents, private)?;
    }
    tracing::info!(dir = %dir.display(), "generated the sandbox PKI for the chambers mutual TLS");
    Ok(pki)
}

fn write(path: &Path, contents: &[u8], private: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}
