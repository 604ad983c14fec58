//! The reliability drill (issue 4): `rabt serve` with two api and two worker processes on
//! PostgreSQL and RabbitMQ under steady load, and faults applied one at a time — a worker
//! SIGKILLed, an api SIGKILLed, RabbitMQ restarted, one agency failing for a while (500s,
//! then timeouts, then 429), poison messages. After each, the drill counts what happened to
//! the requests accepted during its window: completed, dead-lettered, lost (accepted and in
//! neither state after recovery) and applied twice (more than one completion recorded).
//! Lost and applied twice must be 0. It also compares the end-to-end latency of the
//! healthy agencies while one agency fails with their latency before any fault.
//!
//! The load generator behaves like a careful cooperative: a unique Idempotency-Key per
//! request, and on a refused connection or a 5xx the same request again with the same key,
//! at the other api.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::{PgPool, Row};

use crate::{Deployment, free_port};

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
}

impl Fault {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::WorkerKill => "worker-kill",
            Fault::ApiKill => "api-kill",
            Fault::BrokerRestart => "broker-restart",
            Fault::AgencyOutage => "agency-outage",
            Fault::Poison => "poison",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Fault> {
        [
            Fault::WorkerKill,
            Fault::ApiKill,
            Fault::BrokerRestart,
            Fault::AgencyOutage,
            Fault::Poison,
        ]
        .into_iter()
        .find(|f| f.name() == name)
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
    /// The folder of tests/services.sh's services, to restart the broker.
    pub services_dir: Option<std::path::PathBuf>,
}

/// What happened to the requests accepted during one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// The window (a fault, or `baseline`).
    pub window: String,
    /// Answered 202 (or 200).
    pub accepted: u64,
    /// Completed with a verdict.
    pub completed: u64,
    /// With a task ended because its message was dead-lettered.
    pub dead_lettered: u64,
    /// Accepted, and neither completed nor dead-lettered after recovery.
    pub lost: u64,
    /// With a task or the request completed more than once.
    pub applied_twice: u64,
    /// Submissions the load generator gave up on (never answered 2xx).
    pub refused: u64,
}

/// End-to-end latency (accepted → verdict) of one service in one window, milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// The window.
    pub window: String,
    /// The service.
    pub service: String,
    /// How many requests.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// The drill's findings.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One line per window.
    pub tallies: Vec<Tally>,
    /// Latency of the healthy agencies, baseline vs during the outage.
    pub latency: Vec<Latency>,
    /// Poison messages published and found dead-lettered.
    pub poison: Option<(u64, u64)>,
    /// What the failing agency saw and what became of its requests.
    pub breaker: Option<Breaker>,
}

/// Evidence that the failing agency's circuit opened: while it failed, its requests
/// waited in the retry tier instead of hammering it and burning their attempts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breaker {
    /// Labor requests accepted during the outage window.
    pub requests: u64,
    /// Calls the labor simulator received while it was failing.
    pub calls_during_outage: u64,
    /// How those requests' labor tasks ended, by outcome (`OK` once labor recovered;
    /// `TIMEOUT` for any whose deadline passed while its circuit was still open).
    pub outcomes: BTreeMap<String, u64>,
    /// The most attempts any of them used.
    pub max_attempts: u64,
}

/// The services the load cycles through, with their input. Labor is the agency the
/// outage takes down; the others must not notice.
fn load_mix() -> Vec<(&'static str, Value)> {
    vec![
        ("post.address.verify", json!({"shortAddress": "RRRD2929"})),
        (
            "interior.identity.verify",
            json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}),
        ),
        (
            "labor.establishment.compliance",
            json!({"unifiedNumber": "7000000001"}),
        ),
        ("post.address.verify", json!({"shortAddress": "ZZZZ9999"})),
        (
            "chambers.membership.verify",
            json!({"unifiedNumber": "7000000001"}),
        ),
        (
            "municipal.license.verify",
            json!({"licenseNumber": "4000012345"}),
        ),
    ]
}

/// The services the drill's cooperative may use.
pub const SERVICES: &str = "post.address.verify,interior.identity.verify,labor.establishment.compliance,chambers.membership.verify,municipal.license.verify";

/// A request the load generator got accepted.
#[derive(Debug, Clone)]
struct Sent {
    id: String,
    service: &'static str,
    window: String,
}

/// The load generator's shared state.
#[derive(Debug, Default)]
struct Ledger {
    window: String,
    sent: Vec<Sent>,
    refused: BTreeMap<String, u64>,
}

/// Runs the drill on a deployment that has its first api and two workers running.
pub async fn run(deployment: &mut Deployment, options: &Options) -> anyhow::Result<Report> {
    let second_port = free_port();
    let second_api = deployment.wiring.spawn_with(
        "api-b",
        &["serve", "--role", "api"],
        &[("RABT_LISTEN", format!("127.0.0.1:{second_port}"))],
    )?;
    let urls = vec![
        deployment.client.base_url.clone(),
        format!("http://127.0.0.1:{second_port}"),
    ];
    crate::Client::new(&urls[1], "")
        .ready(Duration::from_secs(60))
        .await?;

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
                deployment.client.ready(Duration::from_secs(60)).await?;
            }
            Fault::BrokerRestart => {
                let dir = options
                    .services_dir
                    .as_ref()
                    .context("broker-restart needs the services folder (RABT_TEST_SERVICES_DIR)")?;
                let status =
                    std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/services.sh"))
                        .arg("restart-rabbitmq")
                        .arg(dir)
                        .status()?;
                if !status.success() {
                    bail!("tests/services.sh restart-rabbitmq failed");
                }
            }
            Fault::AgencyOutage => {
                let calls = outage(deployment, options.outage).await?;
                report.breaker = Some(Breaker {
                    calls_during_outage: calls,
                    ..Breaker::default()
                });
            }
            Fault::Poison => {
                report.poison = Some((poison(deployment).await?, 0));
            }
        }
        tokio::time::sleep(options.quiet).await;
    }
    set_window(&ledger, "after");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let _ = load.await;
    drop(second_api);

    let pool = PgPool::connect(&deployment.wiring.database_url).await?;
    let ledger = ledger
        .lock()
        .map_err(|_| anyhow::anyhow!("ledger poisoned"))?
        .clone_sent();
    settle(&pool, &ledger.0).await;
    report.tallies = tally(&pool, &ledger.0, &ledger.1).await?;
    report.latency = latency(&pool, &ledger.0).await?;
    if let Some(breaker) = report.breaker.as_mut() {
        outage_outcomes(&pool, &ledger.0, breaker).await?;
    }
    if let Some((published, _)) = report.poison {
        report.poison = Some((published, poison_dead_lettered(&pool, published).await?));
    }
    Ok(report)
}

impl Ledger {
    fn clone_sent(&self) -> (Vec<Sent>, BTreeMap<String, u64>) {
        (self.sent.clone(), self.refused.clone())
    }
}

fn set_window(ledger: &Arc<Mutex<Ledger>>, window: &str) {
    if let Ok(mut ledger) = ledger.lock() {
        ledger.window = window.to_owned();
    }
}

/// Offers `rate` requests per second until `stop`, each submitted on a task of its own so
/// a slow answer never delays the schedule.
async fn generate(
    client: crate::Client,
    urls: Vec<String>,
    rate: f64,
    ledger: Arc<Mutex<Ledger>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mix = load_mix();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let (service, input) = mix[n % mix.len()].clone();
        n += 1;
        let (client, urls, ledger) = (client.clone(), urls.clone(), ledger.clone());
        tasks.spawn(async move { submit(&client, &urls, service, input, &ledger).await });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Submits one request, retrying with the same key (at the other api) until a 2xx or
/// 60 s; records the outcome in the ledger under the window current when it was offered.
async fn submit(
    client: &crate::Client,
    urls: &[String],
    service: &'static str,
    input: Value,
    ledger: &Arc<Mutex<Ledger>>,
) {
    let window = ledger.lock().map(|l| l.window.clone()).unwrap_or_default();
    let key = rabt_test_support::unique("drill-");
    let body = json!({"service": service, "input": input});
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut attempt = 0usize;
    while Instant::now() < deadline {
        let url = &urls[attempt % urls.len()];
        attempt += 1;
        let sent = client
            .http()
            .post(format!("{url}/v1/requests"))
            .bearer_auth(client.api_key())
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await;
        if let Ok(response) = sent {
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                let id = response
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|b| b["id"].as_str().map(str::to_owned));
                if let (Some(id), Ok(mut ledger)) = (id, ledger.lock()) {
                    ledger.sent.push(Sent {
                        id,
                        service,
                        window,
                    });
                }
                return;
            }
            if (400..500).contains(&status) && status != 409 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if let Ok(mut ledger) = ledger.lock() {
        *ledger.refused.entry(window).or_default() += 1;
    }
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

/// How the labor requests accepted during the outage ended, and how many attempts they
/// used.
async fn outage_outcomes(
    pool: &PgPool,
    sent: &[Sent],
    breaker: &mut Breaker,
) -> anyhow::Result<()> {
    let ids: Vec<String> = sent
        .iter()
        .filter(|s| {
            s.window == Fault::AgencyOutage.name() && s.service == "labor.establishment.compliance"
        })
        .map(|s| s.id.clone())
        .collect();
    let rows = sqlx::query(
        "SELECT COALESCE(outcome, status) AS outcome, count(*) AS n, COALESCE(max(attempts), 0) AS attempts \
         FROM tasks WHERE request_id = ANY($1) GROUP BY 1 ORDER BY 1",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    breaker.requests = ids.len() as u64;
    for row in &rows {
        let n = row.get::<i64, _>("n") as u64;
        breaker.outcomes.insert(row.get("outcome"), n);
        breaker.max_attempts = breaker
            .max_attempts
            .max(row.get::<i64, _>("attempts") as u64);
    }
    Ok(())
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

/// How many poison messages ended as dead letters: polled (up to 30 s) until all of
/// them have, as the workers move them there on their own time.
async fn poison_dead_lettered(pool: &PgPool, published: u64) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let count: i64 =
            sqlx::query("SELECT count(*) FROM dead_letters WHERE message_id LIKE 'poison-%'")
                .fetch_one(pool)
                .await?
                .get(0);
        let count = count as u64;
        if count >= published || Instant::now() >= deadline {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits (up to 3 minutes) until every accepted request has its verdict.
async fn settle(pool: &PgPool, sent: &[Sent]) {
    let ids: Vec<String> = sent.iter().map(|s| s.id.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        let open: i64 = sqlx::query(
            "SELECT count(*) FROM requests WHERE id = ANY($1) AND status <> 'COMPLETED'",
        )
        .bind(&ids)
        .fetch_one(pool)
        .await
        .map(|row| row.get(0))
        .unwrap_or(i64::MAX);
        if open == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn tally(
    pool: &PgPool,
    sent: &[Sent],
    refused: &BTreeMap<String, u64>,
) -> anyhow::Result<Vec<Tally>> {
    let mut windows: Vec<String> = Vec::new();
    for s in sent {
        if !windows.contains(&s.window) {
            windows.push(s.window.clone());
        }
    }
    let mut tallies = Vec::new();
    for window in windows {
        let ids: Vec<String> = sent
            .iter()
            .filter(|s| s.window == window)
            .map(|s| s.id.clone())
            .collect();
        let count = |sql: &'static str| {
            let ids = ids.clone();
            async move {
                sqlx::query(sql)
                    .bind(ids)
                    .fetch_one(pool)
                    .await
                    .map(|row| row.get::<i64, _>(0) as u64)
            }
        };
        let completed =
            count("SELECT count(*) FROM requests WHERE id = ANY($1) AND status = 'COMPLETED'")
                .await?;
        let dead_lettered = count("SELECT count(DISTINCT request_id) FROM tasks WHERE request_id = ANY($1) AND dead_lettered = 1").await?;
        let lost = count("SELECT count(*) FROM requests r WHERE r.id = ANY($1) AND r.status <> 'COMPLETED' AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.request_id = r.id AND t.dead_lettered = 1)").await?
            + (ids.len() as u64).saturating_sub(count("SELECT count(*) FROM requests WHERE id = ANY($1)").await?);
        let twice_tasks = count("SELECT count(*) FROM (SELECT task_id FROM audit_log WHERE action = 'task.completed' AND request_id = ANY($1) GROUP BY task_id HAVING count(*) > 1) d").await?;
        let twice_requests = count("SELECT count(*) FROM (SELECT request_id FROM audit_log WHERE action = 'request.completed' AND request_id = ANY($1) GROUP BY request_id HAVING count(*) > 1) d").await?;
        tallies.push(Tally {
            refused: refused.get(&window).copied().unwrap_or(0),
            window,
            accepted: ids.len() as u64,
            completed,
            dead_lettered,
            lost,
            applied_twice: twice_tasks + twice_requests,
        });
    }
    Ok(tallies)
}

/// Latency of the services that stay healthy, in the baseline and during the outage.
async fn latency(pool: &PgPool, sent: &[Sent]) -> anyhow::Result<Vec<Latency>> {
    let mut out = Vec::new();
    for window in ["baseline", Fault::AgencyOutage.name()] {
        for service in [
            "post.address.verify",
            "interior.identity.verify",
            "chambers.membership.verify",
        ] {
            let ids: Vec<String> = sent
                .iter()
                .filter(|s| s.window == window && s.service == service)
                .map(|s| s.id.clone())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let rows = sqlx::query("SELECT completed_at - created_at AS ms FROM requests WHERE id = ANY($1) AND completed_at IS NOT NULL")
                .bind(&ids)
                .fetch_all(pool)
                .await?;
            let mut values: Vec<f64> = rows.iter().map(|r| r.get::<i64, _>("ms") as f64).collect();
            values.sort_by(f64::total_cmp);
            let pick = |q: f64| {
                values
                    .get(((values.len() as f64 * q).ceil() as usize).saturating_sub(1))
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            out.push(Latency {
                window: window.to_owned(),
                service: service.to_owned(),
                count: values.len(),
                p50: pick(0.5),
                p99: pick(0.99),
            });
        }
    }
    Ok(out)
}

impl Report {
    /// Whether nothing was lost or applied twice, and every poison message dead-lettered.
    pub fn holds(&self) -> bool {
        self.tallies
            .iter()
            .all(|t| t.lost == 0 && t.applied_twice == 0)
            && self
                .poison
                .is_none_or(|(published, dead)| dead >= published)
    }

    /// The report as markdown tables.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| window | accepted | completed | dead-lettered | lost | applied twice | gave up |\n|---|---|---|---|---|---|---|\n",
        );
        for t in &self.tallies {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                t.window,
                t.accepted,
                t.completed,
                t.dead_lettered,
                t.lost,
                t.applied_twice,
                t.refused
            ));
        }
        if let Some((published, dead)) = self.poison {
            out.push_str(&format!("\nPoison messages: {published} published straight into `rabt.tasks`, {dead} found in the dead letters.\n"));
        }
        if let Some(b) = &self.breaker {
            let outcomes: Vec<String> = b
                .outcomes
                .iter()
                .map(|(outcome, n)| format!("{n} `{outcome}`"))
                .collect();
            out.push_str(&format!("\nLabor outage: the labor simulator received {} calls while it failed; {} labor requests were accepted meanwhile and ended {}, using at most {} attempt(s) each.\n", b.calls_during_outage, b.requests, outcomes.join(", "), b.max_attempts));
        }
        if !self.latency.is_empty() {
            out.push_str(
                "\n| window | service | requests | p50 ms | p99 ms |\n|---|---|---|---|---|\n",
            );
            for l in &self.latency {
                out.push_str(&format!(
                    "| {} | `{}` | {} | {:.0} | {:.0} |\n",
                    l.window, l.service, l.count, l.p50, l.p99
                ));
            }
        }
        out
    }
}
