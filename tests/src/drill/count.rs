//! Counting, from the database, what became of every request the load generator got
//! accepted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};

use super::{Breaker, Fault, Latency, Sent, Tally};

/// How the labor requests accepted during the outage ended, and how many attempts they
/// used.
pub(super) async fn outage_outcomes(
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

/// How many poison messages ended as dead letters: polled (up to 30 s) until all of
/// them have, as the workers move them there on their own time.
pub(super) async fn poison_dead_lettered(pool: &PgPool, published: u64) -> anyhow::Result<u64> {
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

/// Waits (up to 3 minutes) until every accepted request has its verdict; what is still
/// open then is counted as lost. A failing query is an error, not "still open".
pub(super) async fn settle(pool: &PgPool, sent: &[Sent]) -> anyhow::Result<()> {
    let ids: Vec<String> = sent.iter().map(|s| s.id.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        let open: i64 = sqlx::query(
            "SELECT count(*) FROM requests WHERE id = ANY($1) AND status <> 'COMPLETED'",
        )
        .bind(&ids)
        .fetch_one(pool)
        .await?
        .get(0);
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

pub(super) async fn tally(
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
        // A dead letter completes its request (UPSTREAM_ERROR) too: such a request is
        // counted once, under dead-lettered, so that completed + dead-lettered = accepted.
        let completed = count(
            "SELECT count(*) FROM requests r WHERE r.id = ANY($1) AND r.status = 'COMPLETED' \
             AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.request_id = r.id AND t.dead_lettered = 1)",
        )
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
pub(super) async fn latency(pool: &PgPool, sent: &[Sent]) -> anyhow::Result<Vec<Latency>> {
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

/// The ten slowest requests of the healthy agencies accepted in the outage window: when
/// each was accepted, in milliseconds after `began_ms`, and how long it took.
pub(super) async fn slowest_healthy(
    pool: &PgPool,
    sent: &[Sent],
    began_ms: i64,
) -> anyhow::Result<Vec<(i64, i64)>> {
    let ids: Vec<String> = sent
        .iter()
        .filter(|s| s.window == Fault::AgencyOutage.name() && !s.service.starts_with("labor."))
        .filter(|s| s.service != "municipal.license.verify")
        .map(|s| s.id.clone())
        .collect();
    let rows = sqlx::query(
        "SELECT created_at - $2 AS at, completed_at - created_at AS ms FROM requests \
         WHERE id = ANY($1) AND completed_at IS NOT NULL ORDER BY ms DESC LIMIT 10",
    )
    .bind(&ids)
    .bind(began_ms)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<i64, _>("at"), r.get::<i64, _>("ms")))
        .collect())
}
