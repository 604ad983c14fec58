//! A production-shaped deployment for tests: `rabt simulate`, then `rabt serve` api and
//! worker processes sharing a fresh PostgreSQL database and a fresh RabbitMQ vhost,
//! both removed when the deployment is dropped, after its processes are killed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use rabt_test_support::{TempDatabase, TempVhost, eventually, unique};

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
    agency_key: String,
}

impl Wiring {
    /// The environment every `rabt` process of this deployment gets.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("RABT_DATABASE_URL", self.database_url.clone()),
            ("RABT_AMQP_URL", self.amqp_url.clone()),
            ("RABT_LISTEN", format!("127.0.0.1:{}", self.api_port)),
            ("RABT_AGENCY_SAUDI_POST_URL", self.saudi_post_url()),
            ("RABT_AGENCY_SAUDI_POST_API_KEY", self.agency_key.clone()),
        ]
    }

    /// Starts `rabt <args>` with this deployment's environment.
    pub fn spawn(&self, name: &str, args: &[&str]) -> anyhow::Result<Rabt> {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Rabt::spawn(name, args, &env, &self.dir)
    }

    /// Runs `rabt <args>` to completion with this deployment's environment.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_rabt(args, &env)
    }

    /// The Saudi Post simulator's base URL.
    pub fn saudi_post_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.simulate_base + 5)
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
    _database: TempDatabase,
    _vhost: TempVhost,
}

impl Deployment {
    /// Starts simulators, one api and `workers` worker processes, and onboards a
    /// cooperative with access to `services`.
    pub async fn start(workers: usize, services: &str) -> anyhow::Result<Deployment> {
        let dir = std::env::temp_dir().join(unique("rabt-e2e-"));
        std::fs::create_dir_all(&dir)?;
        // On an early return below, dropping these removes them again.
        let database = TempDatabase::create("rabt_e2e_").await?;
        let vhost = TempVhost::create("rabt-e2e-").await?;
        let wiring = Wiring {
            dir,
            database_url: database.url.clone(),
            amqp_url: vhost.amqp_url.clone(),
            simulate_base: free_base_port(),
            api_port: free_port(),
            agency_key: unique("agency-key-"),
        };
        let simulators = wiring.spawn(
            "simulate",
            &[
                "simulate",
                "--listen-base",
                &wiring.simulate_base.to_string(),
            ],
        )?;
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
        let api = wiring.spawn("api", &["serve", "--role", "api"])?;
        let workers = (0..workers)
            .map(|n| wiring.spawn(&format!("worker-{n}"), &["serve", "--role", "worker"]))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let client = Client::new(&format!("http://127.0.0.1:{}", wiring.api_port), &key);
        let deployment = Deployment {
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
            .ready(Duration::from_secs(60))
            .await
            .with_context(|| format!("api log:\n{}", deployment.api.tail(30)))?;
        deployment.simulator_ready().await?;
        Ok(deployment)
    }

    /// Sets the Saudi Post simulator's fault knobs.
    pub async fn set_knobs(&self, knobs: serde_json::Value) -> anyhow::Result<()> {
        reqwest::Client::new()
            .put(format!("{}/_sim/knobs", self.wiring.saudi_post_url()))
            .json(&knobs)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// The Saudi Post simulator's call statistics.
    pub async fn simulator_stats(&self) -> anyhow::Result<serde_json::Value> {
        Ok(
            reqwest::get(format!("{}/_sim/stats", self.wiring.saudi_post_url()))
                .await?
                .json()
                .await?,
        )
    }

    async fn simulator_ready(&self) -> anyhow::Result<()> {
        eventually(Duration::from_secs(30), "the simulator", || async {
            self.simulator_stats().await.ok()
        })
        .await
        .map(drop)
        .with_context(|| format!("simulate log:\n{}", self.simulators.tail(20)))
    }
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
    /// Keeps the logs of a failed test (their folder is in the failure message) and
    /// removes those of a passed one.
    fn drop(&mut self) {
        self.simulators.kill();
        self.api.kill();
        for worker in &mut self.workers {
            worker.kill();
        }
        if std::thread::panicking() {
            eprintln!("logs of this deployment: {}", self.wiring.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.wiring.dir);
        }
    }
}
