//! The reliability drill (issue 4): `rabt serve` with two api and two worker processes on
//! PostgreSQL and RabbitMQ under steady load, and faults applied one at a time — a worker
//! SIGKILLed, an api SIGKILLed, RabbitMQ restarted, PostgreSQL stopped and started, one
//! agency failing for a while (500s, then timeouts, then 429), poison messages. After
//! each, the drill counts what happened to
//! the requests accepted during its window: completed, dead-lettered, lost (accepted and in
//! neither state after recovery) and applied twice (more than one completion recorded).
//! Lost and applied twice must be 0. It also compares the end-to-end latency of the
//! healthy agencies while one agency fails with their latency before any fault.
//!
//! The load generator behaves like a careful cooperative: a unique Idempotency-Key per
//! request, and on a refused connection, a 5xx or a 409 the same request again with the
//! same key, at the other api; on a 429, the same after its Retry-After. What it lived
//! is reported per fault: the attempts refused (and how) and the answers slowed, and
//! when (`disruption`). On the cluster of tests/cluster.sh the drill also kills a
//! RabbitMQ node, brings it back, and switches over and kills the PostgreSQL primary
//! (`cluster`: the script applies them).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;
use sqlx::PgPool;

use crate::{Deployment, Rabt, free_port};

mod cluster;
mod count;
mod database;
mod disruption;
mod load;
mod report;

use cluster::cluster_fault;
use count::{latency, outage_outcomes, poison_dead_lettered, settle, tally};
use disruption::disruption;
use load::{Ledger, Sent, generate, set_window};
pub use report::{Breaker, DatabaseOutage, Disruption, Latency, Report, SLOW_MS, Tally};

/// One fault of the drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL a worker process, start it again.
    WorkerKill,
    /// SIGKILL an api process, start it again; clients fail over to the other.
    ApiKill,
    /// Restart the RabbitMQ node (needs the services folder of tests/services.sh).
    BrokerRestart,
    /// The labor agency answers 500s, then hangs past timeouts, then 429s.
    AgencyOutage,
    /// Undecodable and unknown-task messages published straight into rabt.tasks.
    Poison,
    /// PostgreSQL stopped (every connection cut) and started again (needs the services
    /// folder); the API is probed while it is down.
    DatabaseRestart,
    /// SIGKILL the RabbitMQ node that leads the task queues (tests/cluster.sh).
    BrokerNodeKill,
    /// Start the killed node again; it rejoins the cluster.
    BrokerNodeBack,
    /// Patroni switches the PostgreSQL primary over to the standby.
    Switchover,
    /// SIGKILL the PostgreSQL primary (and its Patroni); the standby takes over.
    PrimaryKill,
}

/// Every fault, in the order of its name's listing.
const FAULTS: [Fault; 10] = [
    Fault::WorkerKill,
    Fault::ApiKill,
    Fault::BrokerRestart,
    Fault::AgencyOutage,
    Fault::Poison,
    Fault::DatabaseRestart,
    Fault::BrokerNodeKill,
    Fault::BrokerNodeBack,
    Fault::Switchover,
    Fault::PrimaryKill,
];

impl Fault {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::WorkerKill => "worker-kill",
            Fault::ApiKill => "api-kill",
            Fault::BrokerRestart => "broker-restart",
            Fault::AgencyOutage => "agency-outage",
            Fault::Poison => "poison",
            Fault::DatabaseRestart => "database-restart",
            Fault::BrokerNodeKill => "broker-node-kill",
            Fault::BrokerNodeBack => "broker-node-back",
            Fault::Switchover => "switchover",
            Fault::PrimaryKill => "primary-kill",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Fault> {
        FAULTS.into_iter().find(|f| f.name() == name)
    }
}

/// How the drill runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests per second offered, steadily.
    pub rate: f64,
    /// The faults, in order.
    pub faults: Vec<Fault>,
    /// Load before the first fault (the latency baseline) and between faults.
    pub quiet: Duration,
    /// How long the agency outage lasts in all (split in three: 500s, timeouts, 429s).
    pub outage: Duration,
    /// The folder of tests/services.sh's services, to restart the broker or the database.
    pub services_dir: Option<std::path::PathBuf>,
    /// How long PostgreSQL stays down in the database restart.
    pub database_down: Duration,
    /// The largest ratio of a healthy agency's p99 during the agency outage to its p99
    /// in the baseline that the drill accepts (the bulkheads); `None`: only reported.
    pub max_p99_ratio: Option<f64>,
    /// The folder of tests/cluster.sh's cluster, for the cluster's faults.
    pub cluster_dir: Option<std::path::PathBuf>,
}

/// The labor services' deadline (the catalogue's): an outage of at most half of it must
/// end with every labor request `OK`.
pub const LABOR_DEADLINE: Duration = Duration::from_secs(45);

/// The services the drill's cooperative may use.
pub const SERVICES: &str = "post.address.verify,interior.identity.verify,labor.establishment.compliance,chambers.membership.verify,municipal.license.verify";

/// Runs the drill on a deployment that has its first api and two workers running.
pub async fn run(deployment: &mut Deployment, options: &Options) -> anyhow::Result<Report> {
    let (second_api, urls) = second_api(deployment).await?;
    let ledger = Arc::new(Mutex::new(Ledger {
        window: "baseline".into(),
        ..Ledger::default()
    }));
    let stop = tokio_util::sync::CancellationToken::new();
    let load = tokio::spawn(generate(
        deployment.client.clone(),
        urls.clone(),
        options.rate,
        ledger.clone(),
        stop.clone(),
    ));

    let mut report = Report::default();
    tokio::time::sleep(options.quiet).await;
    for fault in &options.faults {
        set_window(&ledger, fault.name());
        apply(*fault, deployment, options, &urls, &mut report).await?;
        tokio::time::sleep(options.quiet).await;
    }
    set_window(&ledger, "after");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let _ = load.await;
    drop(second_api);

    count_outcomes(deployment, &ledger, &mut report).await?;
    report.max_p99_ratio = options.max_p99_ratio;
    Ok(report)
}

/// Starts a second api process beside the deployment's, for the load to fail over to;
/// returns it and the two apis' URLs.
async fn second_api(deployment: &Deployment) -> anyhow::Result<(Rabt, Vec<String>)> {
    let second_port = free_port();
    let mut second_api = deployment.wiring.spawn_with(
        "api-b",
        &["serve", "--role", "api"],
        &[
            ("RABT_LISTEN", format!("127.0.0.1:{second_port}")),
            ("RABT_OPS_LISTEN", format!("127.0.0.1:{}", free_port())),
        ],
    )?;
    let urls = vec![
        deployment.client.base_url.clone(),
        format!("http://127.0.0.1:{second_port}"),
    ];
    crate::Client::new(&urls[1], "")
        .ready(&mut second_api, Duration::from_secs(60))
        .await?;
    Ok((second_api, urls))
}

/// Applies one fault and waits for what it needs to be over; what the report needs of
/// it (the agency outage's calls, the database's outage, the poison published) goes
/// into `report`.
async fn apply(
    fault: Fault,
    deployment: &mut Deployment,
    options: &Options,
    urls: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    match fault {
        Fault::WorkerKill => {
            deployment.workers[0].kill();
            tokio::time::sleep(Duration::from_secs(2)).await;
            deployment.workers[0] = deployment
                .wiring
                .spawn("worker-0b", &["serve", "--role", "worker"])?;
        }
        Fault::ApiKill => {
            deployment.api.kill();
            tokio::time::sleep(Duration::from_secs(2)).await;
            deployment.api = deployment
                .wiring
                .spawn("api-0b", &["serve", "--role", "api"])?;
            deployment
                .client
                .ready(&mut deployment.api, Duration::from_secs(60))
                .await?;
        }
        Fault::BrokerRestart => restart_broker(options)?,
        Fault::AgencyOutage => {
            let began_ms = unix_ms();
            let calls = outage(deployment, options.outage).await?;
            report.breaker = Some(Breaker {
                began_ms,
                calls_during_outage: calls,
                outage: options.outage,
                all_ok_expected: options.outage * 2 <= LABOR_DEADLINE,
                ..Breaker::default()
            });
        }
        Fault::DatabaseRestart => {
            let dir = options
                .services_dir
                .as_ref()
                .context("database-restart needs the services folder (RABT_TEST_SERVICES_DIR)")?;
            report.database =
                Some(database::restart(deployment, urls, dir, options.database_down).await?);
        }
        Fault::Poison => {
            report.poison = Some((poison(deployment).await?, 0));
        }
        Fault::BrokerNodeKill | Fault::BrokerNodeBack | Fault::Switchover | Fault::PrimaryKill => {
            cluster_fault(fault, options)?
        }
    }
    Ok(())
}

/// Restarts the RabbitMQ node of tests/services.sh (same data), as an operator would.
fn restart_broker(options: &Options) -> anyhow::Result<()> {
    let dir = options
        .services_dir
        .as_ref()
        .context("broker-restart needs the services folder (RABT_TEST_SERVICES_DIR)")?;
    let status = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/services.sh"))
        .arg("restart-rabbitmq")
        .arg(dir)
        .status()?;
    if !status.success() {
        bail!("tests/services.sh restart-rabbitmq failed");
    }
    Ok(())
}

/// Once the load has stopped: what the cooperative lived (from the ledger) and what
/// became of every request it got accepted (from the database, once settled).
async fn count_outcomes(
    deployment: &Deployment,
    ledger: &Mutex<Ledger>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let pool = PgPool::connect(&deployment.wiring.database_url).await?;
    let ledger = {
        let ledger = ledger
            .lock()
            .map_err(|_| anyhow::anyhow!("ledger poisoned"))?;
        report.disruption = disruption(&ledger);
        report.gave_up = ledger.gave_up.clone();
        ledger.clone_sent()
    };
    settle(&pool, &ledger.0).await?;
    report.tallies = tally(&pool, &ledger.0, &ledger.1).await?;
    report.latency = latency(&pool, &ledger.0).await?;
    if let Some(breaker) = report.breaker.as_mut() {
        outage_outcomes(&pool, &ledger.0, breaker).await?;
        breaker.slowest = count::slowest_healthy(&pool, &ledger.0, breaker.began_ms).await?;
    }
    if let Some((published, _)) = report.poison {
        report.poison = Some((published, poison_dead_lettered(&pool, published).await?));
    }
    Ok(())
}

/// Now, in milliseconds since the epoch (as the database records times).
fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The labor agency fails for `outage`: 500s, then calls that hang past the timeout, then
/// 429s with Retry-After, a third each; then it recovers. Returns how many calls it
/// received meanwhile.
async fn outage(deployment: &Deployment, outage: Duration) -> anyhow::Result<u64> {
    let calls = || async {
        let stats = deployment.agency_stats("labor").await?;
        stats["calls"]
            .as_u64()
            .context("labor's /_sim/stats has no calls")
    };
    let before = calls().await?;
    let third = outage / 3;
    deployment
        .set_agency_knobs("labor", json!({"fault": {"kind": "server_error"}}))
        .await?;
    tokio::time::sleep(third).await;
    deployment
        .set_agency_knobs("labor", json!({"fault": {"kind": "timeout"}}))
        .await?;
    tokio::time::sleep(third).await;
    deployment
        .set_agency_knobs(
            "labor",
            json!({"fault": {"kind": "rate_limit", "retry_after": 2}}),
        )
        .await?;
    tokio::time::sleep(third).await;
    let during = calls().await? - before;
    deployment.set_agency_knobs("labor", json!({})).await?;
    Ok(during)
}

/// How many poison messages [`poison`] publishes.
pub const POISON: u64 = 20;

/// Publishes undecodable bodies and messages for unknown tasks into rabt.tasks.
async fn poison(deployment: &Deployment) -> anyhow::Result<u64> {
    let vhost = deployment.vhost();
    for i in 0..POISON {
        let payload = if i % 2 == 0 {
            format!("not json {i}")
        } else {
            json!({"v": "1", "task": "task_0193b3c1e6f87c2a9d4e5f60718293a4", "request": "req_0193b3c1e6f87c2a9d4e5f60718293a4", "agency": "saudi-post", "service": "post.address.verify"}).to_string()
        };
        vhost
            .post(
                &["exchanges", &vhost.name, "rabt.tasks", "publish"],
                json!({"properties": {"delivery_mode": 2, "message_id": format!("poison-{i}")}, "routing_key": "saudi-post", "payload": payload, "payload_encoding": "string"}),
            )
            .await?;
    }
    Ok(POISON)
}
