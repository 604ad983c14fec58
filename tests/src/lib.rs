//! The harness of Rabt's end-to-end tests: runs the real `rabt` binary as separate
//! processes against the PostgreSQL and RabbitMQ that `tests/services.sh` started, each
//! test in its own database and its own RabbitMQ vhost (rabt-test-support's guards,
//! removed when the test ends), on free ports.
//!
//! Nothing here fakes a part of Rabt: tests talk HTTP to the processes, and read the
//! database only to count what happened.

#![forbid(unsafe_code)]

mod deployment;
pub mod drill;
pub mod pii;
pub use deployment::{AUDIT_ORIGIN, Deployment, SharedDatabase, Wiring, audit_keys};

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rabt_test_support::poll::POLL_INTERVAL;
use rabt_test_support::{eventually, unique};
use serde_json::Value;

/// The variable naming the folder where every process's log is copied when it ends.
pub const LOG_ARCHIVE: &str = "RABT_E2E_LOG_ARCHIVE";

/// The `rabt` binary under test: `$RABT_BIN`, else the workspace's debug build.
pub fn rabt_bin() -> PathBuf {
    let path = std::env::var_os("RABT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/rabt"));
    assert!(
        path.exists(),
        "{} does not exist: build it with `cargo build -p rabt` (tests/run.sh does)",
        path.display()
    );
    path
}

/// A base port with six free ports after it, one per agency for `rabt simulate
/// --listen-base` (probed, then used at once).
pub fn free_base_port() -> u16 {
    loop {
        let base = free_port();
        if (0..6).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
}

/// A free TCP port on the loopback interface, for a process of the suite to listen on.
///
/// Chosen at random below the kernel's ephemeral range (`ip_local_port_range`, 32768
/// and up on Linux), not by binding port 0: a port from that range is also what the
/// kernel gives outgoing connections, and between this check and the process's own
/// bind one of the suite's many connections (to PostgreSQL, RabbitMQ, the simulators)
/// could take it — "Address already in use", seen twice in one day's runs.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    const FIRST: u16 = 20_000;
    const AFTER_LAST: u16 = 32_000;
    for _ in 0..1_000 {
        // A fresh RandomState is a fresh random key: a random number without a crate.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = FIRST + (random % u64::from(AFTER_LAST - FIRST)) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {FIRST} and {AFTER_LAST} in 1,000 tries");
}

/// A running `rabt` process, killed when dropped. Its output goes to a log file whose
/// path failures print.
#[derive(Debug)]
pub struct Rabt {
    /// What the test calls it (`api`, `worker-0`…), for failure messages.
    name: String,
    child: Option<Child>,
    /// The process's combined output.
    pub log: PathBuf,
}

impl Rabt {
    /// Starts `rabt <args>` with extra environment variables.
    pub fn spawn(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        log_dir: &Path,
    ) -> anyhow::Result<Rabt> {
        let log = log_dir.join(format!("{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new(rabt_bin())
            .args(args)
            .envs(env.iter().copied())
            .env("RABT_LOG", "info,rabt_worker=debug")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting rabt {}", args.join(" ")))?;
        Ok(Rabt {
            name: name.to_owned(),
            child: Some(child),
            log,
        })
    }

    /// Starts `rabt demo` as `name`: its API on `listen`, its operators' listener on any
    /// free port, its state (and the credentials file it writes) in `state`, its log in
    /// `log_dir`.
    pub fn demo(name: &str, listen: &str, state: &Path, log_dir: &Path) -> anyhow::Result<Rabt> {
        let state = state
            .to_str()
            .context("the demo's state folder is not valid UTF-8")?;
        let args = [
            "demo",
            "--listen",
            listen,
            "--ops-listen",
            "127.0.0.1:0",
            "--state-dir",
            state,
        ];
        Rabt::spawn(name, &args, &[], log_dir)
    }

    /// Polls `check` until it gives a value, as [`eventually`] does, while watching the
    /// process: when it exits first (a port already taken, a bad configuration), this
    /// fails at once with its exit status and the end of its log instead of waiting
    /// out `timeout`. A timeout also carries the end of the log.
    pub async fn until<T, F, Fut>(
        &mut self,
        timeout: Duration,
        what: &str,
        check: F,
    ) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let Some(child) = self.child.as_mut() else {
            bail!("rabt {} was stopped before {what}", self.name);
        };
        let exited = async {
            loop {
                match child.try_wait() {
                    Ok(None) => tokio::time::sleep(POLL_INTERVAL).await,
                    Ok(Some(status)) => return Ok(status),
                    Err(err) => return Err(err),
                }
            }
        };
        let ended = tokio::select! {
            found = eventually(timeout, what, check) => Ok(found),
            exited = exited => Err(exited),
        };
        match ended {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(timed_out)) => Err(anyhow!(timed_out)).with_context(|| {
                format!(
                    "rabt {} still runs; its log ({}) ends:\n{}",
                    self.name,
                    self.log.display(),
                    self.tail(30)
                )
            }),
            Err(exited) => {
                let status =
                    exited.map_or_else(|err| format!("unknown ({err})"), |s| s.to_string());
                bail!(
                    "rabt {} exited ({status}) before {what}; its log ({}) ends:\n{}",
                    self.name,
                    self.log.display(),
                    self.tail(30)
                )
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// SIGKILL: the process dies at once, mid-work.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.archive_log();
        }
    }

    /// When `RABT_E2E_LOG_ARCHIVE` names a folder (tests/run.sh sets it), a copy of this
    /// process's log goes there once the process is gone, so the suite can scan every
    /// log of the run for personal data at the end (`rabt-pii-scan`).
    fn archive_log(&self) {
        let Some(archive) = std::env::var_os(LOG_ARCHIVE) else {
            return;
        };
        let archive = PathBuf::from(archive);
        let name = self
            .log
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if std::fs::create_dir_all(&archive).is_ok() {
            let _ = std::fs::copy(&self.log, archive.join(unique(&format!("{name}-"))));
        }
    }

    /// SIGTERM, then waits up to `timeout` for a clean exit; returns whether it exited 0.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<bool> {
        let Some(mut child) = self.child.take() else {
            return Ok(false);
        };
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                self.archive_log();
                return Ok(status.success());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.archive_log();
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The last `lines` lines of the log, for failure messages.
    pub fn tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Rabt {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `rabt <args>` to completion and returns its standard output.
pub fn run_rabt(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<String> {
    let output = Command::new(rabt_bin())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        bail!(
            "rabt {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A cooperative's HTTP client for one Rabt API.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    api_key: String,
}

impl Client {
    /// A client with this API key.
    pub fn new(base_url: &str, api_key: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        }
    }

    /// The API key this client sends.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The underlying reqwest client, for requests the helpers do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `POST /v1/requests` with a fresh idempotency key and optional `Prefer: wait`.
    pub async fn submit(&self, body: &Value, wait: Option<u64>) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .post(format!("{}/v1/requests", self.base_url))
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", unique("key-"))
            .json(body);
        if let Some(seconds) = wait {
            request = request.header("Prefer", format!("wait={seconds}"));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// `GET <path>` with the API key.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Polls `GET /v1/requests/{id}` until the request is COMPLETED.
    pub async fn completed(&self, id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let completed = eventually(timeout, &format!("request {id} to complete"), || async {
            match self.get(&format!("/v1/requests/{id}")).await {
                Ok((200, body)) if body["status"] == "COMPLETED" => Some(body),
                _ => None,
            }
        })
        .await?;
        Ok(completed)
    }

    /// Waits until `GET /readyz` answers 200, failing at once if `process` (the one
    /// serving this API) exits first.
    pub async fn ready(&self, process: &mut Rabt, timeout: Duration) -> anyhow::Result<()> {
        process
            .until(timeout, "the API to be ready", || self.is_ready())
            .await
    }

    /// `Some` when `GET /readyz` answers 200.
    async fn is_ready(&self) -> Option<()> {
        let response = self
            .http
            .get(format!("{}/readyz", self.base_url))
            .send()
            .await
            .ok()?;
        (response.status().as_u16() == 200).then_some(())
    }
}
