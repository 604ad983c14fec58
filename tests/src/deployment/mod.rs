//! A production-shaped deployment for tests: `rabt simulate`, then `rabt serve` api and
//! worker processes sharing a fresh PostgreSQL database and a fresh RabbitMQ vhost,
//! both removed when the deployment is dropped, after its processes are killed.

use std::path::Path;
use std::time::Duration;

use rabt_test_support::{TempDatabase, TempVhost, unique};

use crate::{Client, Rabt};

mod wiring;

pub use wiring::{AUDIT_ORIGIN, Wiring, audit_keys};

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

impl SharedDatabase {
    /// A new database of this kind for a deployment in `dir`, and its URL (a PostgreSQL
    /// database is dropped with its guard; the SQLite file goes with `dir`).
    async fn create(self, dir: &Path) -> anyhow::Result<(Option<TempDatabase>, String)> {
        Ok(match self {
            SharedDatabase::Postgres => {
                let database = TempDatabase::create("rabt_e2e_").await?;
                let url = database.url.clone();
                (Some(database), url)
            }
            SharedDatabase::Sqlite => (
                None,
                format!("sqlite://{}?mode=rwc", dir.join("rabt.db").display()),
            ),
        })
    }
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
        let (database, database_url) = shared.create(&dir).await?;
        let vhost = TempVhost::create("rabt-e2e-").await?;
        let wiring = Wiring::new(dir, database_url, &vhost, config, env)?;
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
        let key = wiring.onboard(services)?;
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
