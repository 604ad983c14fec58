//! A production-shaped deployment for tests: `rabt simulate`, then `rabt serve` api and
//! worker processes sharing a fresh PostgreSQL database and a fresh RabbitMQ vhost,
//! both removed when the deployment is dropped, after its processes are killed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use rabt_test_support::{TempDatabase, TempVhost, unique};

use crate::{Client, Rabt, free_port, run_rabt};

/// Where a deployment's processes find each other.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// Where logs go.
    pub dir: PathBuf,
    /// The database of this deployment.
    pub database_url: String,
    /// The vhost URL of this deployment.
    pub amqp_url: String,
    /// The simulators' first port.
    pub simulate_base: u16,
    /// The API's port.
    pub api_port: u16,
    /// The operators' port (console, `/ops/v1`, `/metrics`) of the first api process.
    pub ops_port: u16,
    /// Every agency credential and callback secret, shared by `rabt simulate` (which
    /// accepts them) and `rabt serve` (which sends them).
    secrets: Vec<(&'static str, String)>,
    /// A configuration file laid over the defaults, if the test needs one.
    config: Option<PathBuf>,
    /// More variables for every process (e.g. OTEL_EXPORTER_OTLP_ENDPOINT).
    extra: Vec<(String, String)>,
}

/// The agencies in the order of their simulator ports, with their env names.
const AGENCIES: [(&str, &str); 6] = [
    ("interior", "INTERIOR"),
    ("health", "HEALTH"),
    ("labor", "LABOR"),
    ("municipal", "MUNICIPAL"),
    ("chambers", "CHAMBERS"),
    ("saudi-post", "SAUDI_POST"),
];

/// Fresh credentials for every agency, as a deployment's environment.
fn agency_secrets() -> Vec<(&'static str, String)> {
    let mut secrets = vec![
        ("RABT_AGENCY_INTERIOR_USER_NAME", "rabt".to_owned()),
        ("RABT_AGENCY_INTERIOR_PASSWORD", unique("pw-")),
        ("RABT_AGENCY_INTERIOR_CHARGE_CODE", unique("charge-")),
        ("RABT_AGENCY_INTERIOR_APP_ID", "rabt-e2e".to_owned()),
        ("RABT_AGENCY_INTERIOR_APP_KEY", unique("app-")),
        ("RABT_AGENCY_INTERIOR_SERVICE_KEY", unique("svc-")),
        (
            "RABT_AGENCY_INTERIOR_ORGANIZATION_NUMBER",
            "7000000100".to_owned(),
        ),
        ("RABT_AGENCY_LABOR_CLIENT_ID", "rabt-e2e".to_owned()),
        ("RABT_AGENCY_LABOR_CLIENT_SECRET", unique("client-")),
        (
            "RABT_AGENCY_MUNICIPAL_CALLBACK_SECRETS",
            rabt_webhook::Secret::generate().expose(),
        ),
        (
            "RABT_AGENCY_HEALTH_CALLBACK_SECRETS",
            rabt_webhook::Secret::generate().expose(),
        ),
    ];
    secrets.extend(audit_keys());
    for name in [
        "RABT_AGENCY_HEALTH_API_KEY",
        "RABT_AGENCY_MUNICIPAL_API_KEY",
        "RABT_AGENCY_CHAMBERS_API_KEY",
        "RABT_AGENCY_SAUDI_POST_API_KEY",
    ] {
        secrets.push((name, unique("key-")));
    }
    secrets
}

/// A fresh checkpoint signing key and personal-data key, as a deployment's environment
/// (every process may seal; one at a time does).
pub fn audit_keys() -> Vec<(&'static str, String)> {
    let seed = |hex: String| -> [u8; 16] {
        let bytes: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect();
        bytes.try_into().unwrap_or([7; 16])
    };
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&seed(unique("")));
    bytes[16..].copy_from_slice(&seed(unique("")));
    let key = rabt_audit::SigningKey::from_seed(AUDIT_ORIGIN, bytes)
        .map(|k| k.to_secret_text())
        .unwrap_or_default();
    vec![
        ("RABT_AUDIT_SIGNING_KEY", key),
        ("RABT_AUDIT_ORIGIN", AUDIT_ORIGIN.to_owned()),
        ("RABT_PII_KEY", unique("pii-key-of-the-e2e-deployment-")),
    ]
}

/// The origin of every test deployment's audit log.
pub const AUDIT_ORIGIN: &str = "rabt.e2e.test/audit";

impl Wiring {
    /// The environment every `rabt` process of this deployment gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let pki = self.dir.join("pki");
        let fixed = [
            ("RABT_DATABASE_URL", self.database_url.clone()),
            ("RABT_AMQP_URL", self.amqp_url.clone()),
            ("RABT_LISTEN", format!("127.0.0.1:{}", self.api_port)),
            ("RABT_OPS_LISTEN", format!("127.0.0.1:{}", self.ops_port)),
            (
                "RABT_SIMULATE_CALLBACK_URL",
                format!("http://127.0.0.1:{}", self.api_port),
            ),
            ("RABT_SIMULATE_PKI_DIR", pki.display().to_string()),
            (
                "RABT_AGENCY_CHAMBERS_CLIENT_CERT_FILE",
                pki.join("client.pem").display().to_string(),
            ),
            (
                "RABT_AGENCY_CHAMBERS_CLIENT_KEY_FILE",
                pki.join("client-key.pem").display().to_string(),
            ),
            (
                "RABT_AGENCY_CHAMBERS_SERVER_CA_FILE",
                pki.join("server-ca.pem").display().to_string(),
            ),
        ];
        let urls = AGENCIES.iter().map(|(agency, env_name)| {
            (
                format!("RABT_AGENCY_{env_name}_URL"),
                self.agency_url(agency),
            )
        });
        fixed
            .into_iter()
            .chain(self.secrets.iter().cloned())
            .map(|(k, v)| (k.to_owned(), v))
            .chain(urls)
            .chain(self.extra.iter().cloned())
            .collect()
    }

    /// The arguments of every command: the configuration file, if any, then `args`.
    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = Vec::new();
        if let Some(config) = &self.config {
            all.push("--config");
            all.push(config.to_str().unwrap_or_default());
        }
        all.extend_from_slice(args);
        all
    }

    /// Starts `rabt <args>` with this deployment's environment.
    pub fn spawn(&self, name: &str, args: &[&str]) -> anyhow::Result<Rabt> {
        self.spawn_with(name, args, &[])
    }

    /// Starts `rabt <args>` with this deployment's environment and some variables
    /// overridden (e.g. a second API on another `RABT_LISTEN`).
    pub fn spawn_with(
        &self,
        name: &str,
        args: &[&str],
        overrides: &[(&str, String)],
    ) -> anyhow::Result<Rabt> {
        let mut env = self.env();
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), value.clone()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Rabt::spawn(name, &self.args(args), &env, &self.dir)
    }

    /// Runs `rabt <args>` to completion with this deployment's environment.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_rabt(&self.args(args), &env)
    }

    /// An agency simulator's base URL (`chambers` speaks mutual TLS).
    pub fn agency_url(&self, agency: &str) -> String {
        let index = AGENCIES
            .iter()
            .position(|(a, _)| *a == agency)
            .unwrap_or_else(|| panic!("no simulator for agency `{agency}`"))
            as u16;
        let scheme = if agency == "chambers" {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.simulate_base + index)
    }

    /// The first api process's operators' base URL (`/ops/v1`, `/metrics`, `/console/`).
    pub fn ops_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ops_port)
    }

    /// The Saudi Post simulator's base URL.
    pub fn saudi_post_url(&self) -> String {
        self.agency_url("saudi-post")
    }
}

/// The running processes and how to reach them.
#[derive(Debug)]
pub struct Deployment {
    /// How the processes are wired.
    pub wiring: Wiring,
    /// The cooperative's client.
    pub client: Client,
    /// `rabt simulate`.
    pub simulators: Rabt,
    /// `rabt serve --role api`.
    pub api: Rabt,
    /// `rabt serve --role worker` processes.
    pub workers: Vec<Rabt>,
    // Dropped after `Drop::drop` killed the processes above.
    _database: Option<TempDatabase>,
    _vhost: TempVhost,
}

/// The database a deployment's processes share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedDatabase {
    /// A fresh PostgreSQL database (production).
    Postgres,
    /// One SQLite file in the deployment's folder, written by every process.
    Sqlite,
}

impl Deployment {
    /// Starts simulators, one api and `workers` worker processes, and onboards a
    /// cooperative with access to `services`.
    pub async fn start(workers: usize, services: &str) -> anyhow::Result<Deployment> {
        Deployment::start_with(workers, services, None).await
    }

    /// As [`Deployment::start`], every process also reading `config` (TOML laid over the
    /// defaults, e.g. shorter deadlines).
    pub async fn start_with(
        workers: usize,
        services: &str,
        config: Option<&str>,
    ) -> anyhow::Result<Deployment> {
        Deployment::start_with_env(workers, services, config, &[]).await
    }

    /// As [`Deployment::start_with`], every process also getting the variables `env`.
    /// The api process is `OTEL_SERVICE_NAME=rabt-api`, workers `rabt-worker`.
    pub async fn start_with_env(
        workers: usize,
        services: &str,
        config: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Deployment> {
        Deployment::start_on(SharedDatabase::Postgres, workers, services, config, env).await
    }

    /// As [`Deployment::start_with_env`], on the database given.
    pub async fn start_on(
        shared: SharedDatabase,
        workers: usize,
        services: &str,
        config: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Deployment> {
        let dir = std::env::temp_dir().join(unique("rabt-e2e-"));
        std::fs::create_dir_all(&dir)?;
        // On an early return below, dropping these removes them again.
        let (database, database_url) = match shared {
            SharedDatabase::Postgres => {
                let database = TempDatabase::create("rabt_e2e_").await?;
                let url = database.url.clone();
                (Some(database), url)
            }
            SharedDatabase::Sqlite => (
                None,
                format!("sqlite://{}?mode=rwc", dir.join("rabt.db").display()),
            ),
        };
        let vhost = TempVhost::create("rabt-e2e-").await?;
        let wiring = Wiring {
            dir,
            database_url,
            amqp_url: cluster_urls(&vhost.amqp_url),
            simulate_base: free_base_port(),
            api_port: free_port(),
            ops_port: free_port(),
            secrets: agency_secrets(),
            config: None,
            extra: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let wiring = match config {
            Some(text) => {
                let path = wiring.dir.join("rabt.toml");
                std::fs::write(&path, text)?;
                Wiring {
                    config: Some(path),
                    ..wiring
                }
            }
            None => wiring,
        };
        let mut simulators = wiring.spawn(
            "simulate",
            &[
                "simulate",
                "--listen-base",
                &wiring.simulate_base.to_string(),
            ],
        )?;
        // The simulators write the sandbox PKI the chambers client certificate comes from:
        // wait for them before starting processes that read it.
        simulators_ready(&wiring, &mut simulators).await?;
        wiring.run(&["migrate"])?;
        let out = wiring.run(&[
            "coop",
            "add",
            "--name",
            "Test Cooperative",
            "--unified-number",
            "7000000001",
            "--services",
            services,
        ])?;
        let key = out
            .lines()
            .find_map(|l| l.strip_prefix("api key:"))
            .map(str::trim)
            .ok_or_else(|| anyhow!("no api key in `rabt coop add` output: {out}"))?
            .to_owned();
        let cooperative = out
            .lines()
            .find_map(|l| l.strip_prefix("cooperative:"))
            .map(str::trim)
            .ok_or_else(|| anyhow!("no cooperative id in `rabt coop add` output: {out}"))?
            .to_owned();
        // The test cooperative sends the tests' volume (a thousand requests at once in
        // the kill drill): a limit of its own above it, as an operator would give a
        // cooperative with a large batch. The limits themselves have tests of their own.
        wiring.run(&[
            "coop",
            "set-limit",
            &cooperative,
            "--rate",
            "5000/s",
            "--burst",
            "5000",
            "--operator",
            "tests",
        ])?;
        let api = wiring.spawn_with(
            "api",
            &["serve", "--role", "api"],
            &[("OTEL_SERVICE_NAME", "rabt-api".to_owned())],
        )?;
        let workers = (0..workers)
            .map(|n| {
                wiring.spawn_with(
                    &format!("worker-{n}"),
                    &["serve", "--role", "worker"],
                    &[("OTEL_SERVICE_NAME", "rabt-worker".to_owned())],
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let client = Client::new(&format!("http://127.0.0.1:{}", wiring.api_port), &key);
        let mut deployment = Deployment {
            wiring,
            client,
            simulators,
            api,
            workers,
            _database: database,
            _vhost: vhost,
        };
        deployment
            .client
            .ready(&mut deployment.api, Duration::from_secs(60))
            .await?;
        Ok(deployment)
    }

    /// The RabbitMQ vhost of this deployment (management API access).
    pub fn vhost(&self) -> &TempVhost {
        &self._vhost
    }

    /// Sets the Saudi Post simulator's fault knobs.
    pub async fn set_knobs(&self, knobs: serde_json::Value) -> anyhow::Result<()> {
        self.set_agency_knobs("saudi-post", knobs).await
    }

    /// Sets one agency simulator's fault knobs (not chambers: it wants a client
    /// certificate).
    pub async fn set_agency_knobs(
        &self,
        agency: &str,
        knobs: serde_json::Value,
    ) -> anyhow::Result<()> {
        reqwest::Client::new()
            .put(format!("{}/_sim/knobs", self.wiring.agency_url(agency)))
            .json(&knobs)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// The Saudi Post simulator's call statistics.
    pub async fn simulator_stats(&self) -> anyhow::Result<serde_json::Value> {
        self.agency_stats("saudi-post").await
    }

    /// One agency simulator's call statistics (not chambers: it wants a client
    /// certificate).
    pub async fn agency_stats(&self, agency: &str) -> anyhow::Result<serde_json::Value> {
        Ok(
            reqwest::get(format!("{}/_sim/stats", self.wiring.agency_url(agency)))
                .await?
                .error_for_status()?
                .json()
                .await?,
        )
    }
}

/// Waits until `rabt simulate` serves (Saudi Post, the last it starts, answers).
async fn simulators_ready(wiring: &Wiring, simulators: &mut Rabt) -> anyhow::Result<()> {
    let stats = format!("{}/_sim/stats", wiring.saudi_post_url());
    simulators
        .until(Duration::from_secs(30), "the simulators", || async {
            reqwest::get(&stats)
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await
        .map(drop)
}

/// The vhost's URL on every node of the cluster of tests/cluster.sh
/// (`RABT_TEST_AMQP_URLS`, the nodes' URLs separated by commas), as one
/// `RABT_AMQP_URL`; the URL itself without a cluster.
fn cluster_urls(vhost_url: &str) -> String {
    let Ok(nodes) = std::env::var("RABT_TEST_AMQP_URLS") else {
        return vhost_url.to_owned();
    };
    let Some((scheme_auth, path)) = vhost_url.rsplit_once('/') else {
        return vhost_url.to_owned();
    };
    let authority = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_owned())
    };
    let Some(first) = authority(scheme_auth.trim_end_matches('/')).or_else(|| authority(vhost_url))
    else {
        return vhost_url.to_owned();
    };
    nodes
        .split(',')
        .filter_map(|node| authority(node.trim()))
        .map(|node| format!("{}/{path}", scheme_auth.replace(&first, &node)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A base port with six free ports after it (probed, then used at once).
fn free_base_port() -> u16 {
    loop {
        let base = free_port();
        if base < 60000
            && (0..6).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
}

impl Drop for Deployment {
    /// Keeps the logs of a failed test (their folder is in the failure message), and of
    /// any with `RABT_TEST_KEEP_LOGS` set; removes those of a passed one.
    fn drop(&mut self) {
        self.simulators.kill();
        self.api.kill();
        for worker in &mut self.workers {
            worker.kill();
        }
        if std::thread::panicking() || std::env::var_os("RABT_TEST_KEEP_LOGS").is_some() {
            eprintln!("logs of this deployment: {}", self.wiring.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.wiring.dir);
        }
    }
}
