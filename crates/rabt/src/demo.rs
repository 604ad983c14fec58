//! `rabt demo`: the whole gateway in one process with nothing to install — SQLite in
//! the state directory, the in-process transport, every agency simulator of this build
//! on a free local port, and a demo cooperative with access to every callable service.
//! Its credentials go to `<state-dir>/demo-credentials.json`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rabt_adapter::Adapter;
use rabt_api::auth::{API_KEY_PREFIX, OPERATOR_TOKEN_PREFIX, generate_secret, hash_secret};
use rabt_audit::{PiiKey, SigningKey};
use rabt_core::{Agency, CooperativeId, ServiceName, UnifiedNumber};
use rabt_queue::Transport;
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle};
use rabt_sandbox::tls::SandboxPki;
use rabt_sandbox::world::World;
use rabt_store::{OperatorRole, Store};
use serde_json::json;

use crate::agencies::{self, Setup};
use crate::config::Config;
use crate::logging;
use crate::runtime::{self, Roles};

/// The demo cooperative's (fictional) unified number.
const DEMO_UNIFIED_NUMBER: &str = "7000000100";

/// The demo's admin operator: the name audit entries show for what is done with
/// `operator_token` (never a piece of the token).
const DEMO_OPERATOR: &str = "demo-admin";

/// Runs the demo until Ctrl-C: the API on `listen`, the console, operator API and
/// metrics on `ops_listen`.
pub(crate) async fn run(
    listen: SocketAddr,
    ops_listen: SocketAddr,
    state_dir: PathBuf,
) -> anyhow::Result<()> {
    let mut config = Config::from_sources(None, &[])?;
    // The demo's cooperative tries notifications on its own machine (loopback, http).
    config.notifications.allow_private_targets = true;
    logging::init(&config.log_filter, false);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
    let state_dir = state_dir.canonicalize()?;
    let shutdown = runtime::shutdown_on_signals();
    demo_keys(&mut config, &state_dir)?;
    let store = demo_store(&config, &state_dir).await?;
    let transport = Transport::embedded(runtime::queue_settings(&config));

    // The API's address first: the asynchronous agencies' simulators call back to it.
    let listeners = runtime::bind_api(listen, ops_listen).await?;
    let base_url = format!("http://{}", listeners.api.local_addr()?);
    let ops_base_url = match &listeners.ops {
        Some(ops) => format!("http://{}", ops.local_addr()?),
        None => base_url.clone(),
    };
    let catalogue = rabt_catalogue::Catalogue::bundled()?;
    let (adapters, simulators) =
        start_simulators(&mut config, &catalogue, &url::Url::parse(&base_url)?).await?;
    let callable = runtime::callable(&adapters);
    let shown = runtime::with_composites(&catalogue, &callable);

    // Access to the whole catalogue: services without an adapter still validate their
    // inputs, then answer `service-not-available`.
    let everything = catalogue.services().map(|s| s.name.clone()).collect();
    let (cooperative, api_key, webhook_secret) = demo_cooperative(&store, everything).await?;
    let operator_token = demo_operator(&store).await?;
    let credentials = state_dir.join("demo-credentials.json");
    write_credentials(
        &credentials,
        &Credentials {
            base_url: &base_url,
            ops_base_url: &ops_base_url,
            api_key: &api_key,
            webhook_secret: &webhook_secret,
            operator_token: &operator_token,
            cooperative,
            services: &shown,
        },
    )?;
    print_banner(&base_url, &ops_base_url, &credentials, &shown);

    let roles = Roles {
        api: Some(listeners),
        adapters,
        callable,
    };
    let result = runtime::run(&config, store, transport, roles, shutdown).await;
    for handle in simulators {
        handle.shutdown().await;
    }
    result
}

/// The demo's audit signing key and personal-data key, made on its first run and kept
/// beside its database: both must stay the same for the log's life.
fn demo_keys(config: &mut Config, state_dir: &Path) -> anyhow::Result<()> {
    let origin = config.audit.origin.clone();
    let signing_key = demo_key(&state_dir.join("audit-signing.key"), || {
        Ok(SigningKey::from_seed(&origin, rand::random())?.to_secret_text())
    })?;
    config.audit.signing_key = Some(Arc::new(SigningKey::parse(&signing_key)?));
    let pii_key = demo_key(
        &state_dir.join("pii.key"),
        || Ok(crate::audit::pii_keygen()),
    )?;
    config.pii_key = Some(PiiKey::new(&pii_key)?);
    Ok(())
}

/// The demo's SQLite database in the state directory, with the tasks a previous run
/// left open queued again (the demo's queue is in-process).
async fn demo_store(config: &Config, state_dir: &Path) -> anyhow::Result<Store> {
    // The database holds the demo's secrets (webhook secret, key digests) and requests'
    // inputs: readable by this user only, like the credentials file.
    let database_file = state_dir.join("rabt.db");
    private_file(&database_file)?;
    let database = format!("sqlite://{}?mode=rwc", database_file.display());
    let store = runtime::open_store(&database, 4)
        .await?
        .cache_api_keys(config.key_cache_ttl);
    runtime::requeue_open_tasks(&store).await?;
    Ok(store)
}

/// Every agency's simulator on a free local port and an adapter pointed at it. Each
/// simulator gets fresh random credentials, known only to this process; chambers speaks
/// mutual TLS with certificates of a throwaway PKI made in memory. The agencies that
/// answer by callback (those the catalogue has a callback schema for) get their
/// callback secrets into `config`.
async fn start_simulators(
    config: &mut Config,
    catalogue: &rabt_catalogue::Catalogue,
    callback_base: &url::Url,
) -> anyhow::Result<(Vec<Arc<dyn Adapter>>, Vec<ShutdownHandle>)> {
    let world = Arc::new(World::generate(config.seed));
    let pki = SandboxPki::generate().context("cannot generate the sandbox PKI")?;
    let mut adapters = Vec::new();
    let mut simulators = Vec::new();
    for agency in Agency::ALL {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let timeout = config
            .agencies
            .get(&agency)
            .map(|a| a.timeout)
            .unwrap_or(config.call_timeout);
        let setup = Setup::sandbox(agency, callback_base.clone(), timeout, &pki);
        let knobs = KnobsHandle::with_seed(config.seed);
        let (address, handle) = agencies::simulator(
            agency,
            world.clone(),
            &setup,
            knobs,
            any_port,
            callback_base,
            &pki,
        )
        .await?;
        let setup = setup.at(agencies::url_of(agency, address)?);
        adapters.push(agencies::adapter(agency, &setup)?);
        if catalogue.callback_schema(agency).is_some()
            && let Some(agency_config) = config.agencies.get_mut(&agency)
        {
            agency_config.callback_secrets = setup.callback_secrets.clone();
        }
        tracing::info!(%agency, %address, "simulator listening");
        simulators.push(handle);
    }
    Ok((adapters, simulators))
}

/// The demo's admin operator with a fresh token, which is returned (only its digest is
/// stored).
async fn demo_operator(store: &Store) -> anyhow::Result<String> {
    let operator_token = generate_secret(OPERATOR_TOKEN_PREFIX);
    store
        .put_operator(
            DEMO_OPERATOR,
            OperatorRole::Admin,
            &hash_secret(&operator_token),
        )
        .await
        .context("cannot create the demo operator")?;
    Ok(operator_token)
}

/// The demo cooperative (created on the first run), a fresh API key for it, and its
/// webhook secret (kept across runs, so a receiver set up once keeps verifying).
async fn demo_cooperative(
    store: &Store,
    services: Vec<ServiceName>,
) -> anyhow::Result<(CooperativeId, String, String)> {
    let unified = UnifiedNumber::parse(DEMO_UNIFIED_NUMBER)?;
    let existing = store
        .list_cooperatives()
        .await?
        .into_iter()
        .find(|c| c.unified_number == unified);
    match existing {
        Some(coop) => {
            let key = generate_secret(API_KEY_PREFIX);
            store
                .add_api_key(coop.id, &hash_secret(&key), "rabt demo")
                .await?;
            let secret = match store.webhook_secret(coop.id).await? {
                Some(secret) => secret,
                None => {
                    crate::webhook_secret::issue(store, coop.id, rabt_store::Actor::System).await?
                }
            };
            Ok((coop.id, key, secret))
        }
        None => {
            crate::coop::onboard(
                store,
                "Rabt Demo Cooperative / جمعية ربط التجريبية",
                unified,
                services,
                &rabt_store::Actor::System,
            )
            .await
        }
    }
}

/// The key kept in `path`, made by `make` (and written, readable by its owner only) on
/// the first run.
fn demo_key(path: &Path, make: impl FnOnce() -> anyhow::Result<String>) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text.trim().to_owned());
    }
    let key = make()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(key.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(key)
}

/// What `demo-credentials.json` holds.
struct Credentials<'a> {
    base_url: &'a str,
    ops_base_url: &'a str,
    api_key: &'a str,
    webhook_secret: &'a str,
    operator_token: &'a str,
    cooperative: CooperativeId,
    services: &'a std::collections::BTreeSet<ServiceName>,
}

fn write_credentials(path: &Path, c: &Credentials<'_>) -> anyhow::Result<()> {
    let body = json!({
        "base_url": c.base_url,
        "ops_base_url": c.ops_base_url,
        "console_url": format!("{}/console/", c.ops_base_url),
        "api_key": c.api_key,
        "webhook_secret": c.webhook_secret,
        "operator_token": c.operator_token,
        "operator": DEMO_OPERATOR,
        "cooperative_id": c.cooperative.to_string(),
        "services": c.services.iter().map(ServiceName::as_str).collect::<Vec<_>>(),
    });
    let mut file = open_private(path, true)?;
    file.write_all(serde_json::to_string_pretty(&body)?.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

/// Opens `path` for writing with mode 0600 (created so, and narrowed to it if it
/// existed with wider rights); `truncate` empties it.
fn open_private(path: &Path, truncate: bool) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {} to its owner", path.display()))?;
    }
    Ok(file)
}

/// Makes sure `path` exists with mode 0600 without touching its content (SQLite gives
/// its -wal and -shm files the database file's mode).
fn private_file(path: &Path) -> anyhow::Result<()> {
    open_private(path, false).map(drop)
}

fn print_banner(
    base_url: &str,
    ops_base_url: &str,
    credentials: &Path,
    services: &std::collections::BTreeSet<ServiceName>,
) {
    let services: Vec<&str> = services.iter().map(ServiceName::as_str).collect();
    let credentials = credentials.display();
    let banner = format!(
        r#"
Rabt demo is running at {base_url}
Operators' console: {ops_base_url}/console/ (log in with operator_token)
Credentials: {credentials}
Callable services: {services}

Try it (a short address the Saudi Post simulator knows):

  KEY=$(python3 -c 'import json;print(json.load(open("{credentials}"))["api_key"])')
  curl -s -X POST {base_url}/v1/requests \
    -H "Authorization: Bearer $KEY" -H "Idempotency-Key: $(date +%s%N)" \
    -H 'Prefer: wait=5' -H 'Content-Type: application/json' \
    -d '{{"service":"post.address.verify","input":{{"shortAddress":"RRRD2929"}}}}'

Stop with Ctrl-C."#,
        services = services.join(", ")
    );
    // The banner is a courtesy: a closed stdout must not stop the demo.
    let _ = crate::logging::print(&banner);
}
