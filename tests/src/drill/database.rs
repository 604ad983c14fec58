//! The database restart: PostgreSQL stopped (every connection cut) under load, kept down,
//! started again. While it is down, both api processes are probed (`GET /v1/requests`,
//! which needs the database): every answer must be a `503` with `Retry-After`, promptly,
//! never a hang or a 500. Then the drill measures how long each api process takes to
//! serve again on its own; the load generator's retries and the tallies show that nothing
//! accepted was lost.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::DatabaseOutage;
use crate::Deployment;

/// How long a probe may take before it counts as a hang.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn restart(
    deployment: &Deployment,
    urls: &[String],
    services_dir: &Path,
    down: Duration,
) -> anyhow::Result<DatabaseOutage> {
    let services = concat!(env!("CARGO_MANIFEST_DIR"), "/services.sh");
    let status = std::process::Command::new(services)
        .arg("stop-postgres")
        .arg(services_dir)
        .status()?;
    if !status.success() {
        bail!("tests/services.sh stop-postgres failed");
    }
    let mut outage = DatabaseOutage {
        down_for: down,
        ..DatabaseOutage::default()
    };
    let stopped = Instant::now();
    while stopped.elapsed() < down {
        for url in urls {
            let answer = probe(deployment, url).await;
            *outage.answers.entry(answer).or_default() += 1;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let status = std::process::Command::new(services)
        .arg("start-postgres")
        .arg(services_dir)
        .status()?;
    if !status.success() {
        bail!("tests/services.sh start-postgres failed");
    }
    // Each api process serves again on its own (polled, bounded).
    let started = Instant::now();
    let mut back = vec![None; urls.len()];
    while back.iter().any(Option::is_none) && started.elapsed() < Duration::from_secs(60) {
        for (url, back) in urls.iter().zip(back.iter_mut()) {
            if back.is_none() && probe(deployment, url).await == "200" {
                *back = Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outage.recovered_in = back
        .iter()
        .copied()
        .collect::<Option<Vec<_>>>()
        .map(|times| times.into_iter().max().unwrap_or_default());
    Ok(outage)
}

/// One probe: `503+retry-after`, another status, or `hang`/`refused`.
async fn probe(deployment: &Deployment, url: &str) -> String {
    let sent = deployment
        .client
        .http()
        .get(format!("{url}/v1/requests?limit=1"))
        .bearer_auth(deployment.client.api_key())
        .timeout(PROBE_TIMEOUT)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            match (status, retry_after) {
                (503, true) => "503+retry-after".to_owned(),
                (status, _) => status.to_string(),
            }
        }
        Err(err) if err.is_timeout() => "hang".to_owned(),
        Err(_) => "refused".to_owned(),
    }
}

impl DatabaseOutage {
    /// Whether every probe while the database was down was a prompt 503 with
    /// Retry-After, and every api process served again within a minute.
    pub fn holds(&self) -> bool {
        let only_503 = self.answers.keys().all(|a| a == "503+retry-after");
        only_503 && !self.answers.is_empty() && self.recovered_in.is_some()
    }

    /// The answers while it was down, as `503+retry-after ×12, hang ×1`.
    pub fn answers_text(&self) -> String {
        let parts: Vec<String> = self
            .answers
            .iter()
            .map(|(answer, n)| format!("`{answer}` ×{n}"))
            .collect();
        parts.join(", ")
    }
}
