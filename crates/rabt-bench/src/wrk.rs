//! Saturation: `wrk` (closed loop, a fixed number of connections each sending its next
//! request as soon as the previous one is answered) driven by `tests/bench/wrk-post.lua`,
//! which gives each request its own `Idempotency-Key` and prints a JSON summary.
//! Its req/s is the most the server answers; its latencies are not reported (closed
//! loop: coordinated omission), the open-loop generator measures those.

use std::path::PathBuf;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};
use crate::procs::{Meter, Usage, Watch};

/// One wrk run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `POST` target.
    pub url: String,
    /// The API key (`Authorization: Bearer`).
    pub api_key: String,
    /// The file holding the request body.
    pub body_file: PathBuf,
    /// The Lua script (`tests/bench/wrk-post.lua`).
    pub script: PathBuf,
    /// wrk threads.
    pub threads: u32,
    /// Open connections.
    pub connections: u32,
    /// Seconds.
    pub duration_s: u32,
    /// `Prefer: wait=N` on every request (end to end: each connection waits for the
    /// verdict, so the rate is verdicts per second).
    pub prefer_wait_s: Option<u32>,
}

/// The JSON line the Lua script's `done()` prints.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct WrkSummary {
    /// Requests answered.
    pub requests: u64,
    /// Requests written, answered or not (absent from records made before it was counted).
    #[serde(default)]
    pub sent: u64,
    /// Microseconds of the run.
    pub duration_us: u64,
    /// Socket connect errors.
    pub connect_errors: u64,
    /// Read errors.
    pub read_errors: u64,
    /// Write errors.
    pub write_errors: u64,
    /// Answers with a status other than 2xx/3xx.
    pub status_errors: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Answers without the expected status (`202` accepted; `200` with the verdict when
    /// end to end — a `202` there means the verdict was not ready), errors included.
    #[serde(default)]
    pub unexpected: u64,
}

/// What saturation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    /// wrk's own figures.
    pub wrk: WrkSummary,
    /// The threads and connections used.
    pub threads: u32,
    /// Open connections.
    pub connections: u32,
    /// Whether each request waited for its verdict (`Prefer: wait`).
    #[serde(default)]
    pub end_to_end: bool,
    /// Accepted (2xx) answers per second (end to end: verdicts per second).
    pub accepted_per_s: f64,
    /// Who used the machine during the run (wrk is in `loadgen`).
    pub usage: Usage,
}

impl WrkSummary {
    /// Every request that failed on the socket or did not get the expected answer
    /// (`unexpected` includes wrk's non-2xx/3xx `status_errors`).
    pub fn failures(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors.max(self.unexpected)
            + self.timeouts
    }
}

/// Runs wrk once and reads the script's summary.
pub fn run(plan: &Plan, watches: &[Watch]) -> Result<Saturation> {
    let meter = Meter::start(watches);
    let output = command(plan).output().map_err(|source| BenchError::Spawn {
        program: "wrk".to_owned(),
        source,
    })?;
    // wrk has been reaped: its CPU time is in this process's children's time.
    let usage = meter.finish();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(BenchError::Tool {
            program: "wrk".to_owned(),
            detail: format!(
                "{}\n{stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    let wrk = parse_summary(&stdout)?;
    let seconds = wrk.duration_us as f64 / 1e6;
    // Only answers with the expected status count: a verdict end to end, a 202 for G.
    let accepted = wrk.requests.saturating_sub(wrk.unexpected);
    Ok(Saturation {
        wrk,
        threads: plan.threads,
        connections: plan.connections,
        end_to_end: plan.prefer_wait_s.is_some(),
        accepted_per_s: if seconds > 0.0 {
            accepted as f64 / seconds
        } else {
            0.0
        },
        usage,
    })
}

/// wrk, told to run `plan`: its script, the key and body the script sends, and the
/// status that counts as an answer (a verdict end to end, a 202 otherwise).
fn command(plan: &Plan) -> Command {
    let mut wrk = Command::new("wrk");
    wrk.arg(format!("-t{}", plan.threads))
        .arg(format!("-c{}", plan.connections))
        .arg(format!("-d{}s", plan.duration_s))
        // Longer than any `Prefer: wait`, so a slow verdict is not cut short by wrk.
        .arg("--timeout")
        .arg("40s")
        .arg("-s")
        .arg(&plan.script)
        .arg(&plan.url)
        .env("BENCH_API_KEY", &plan.api_key)
        .env("BENCH_BODY_FILE", &plan.body_file)
        .env(
            "BENCH_KEY_PREFIX",
            format!("wrk-{:016x}", rand::random::<u64>()),
        );
    if let Some(wait) = plan.prefer_wait_s {
        wrk.env("BENCH_PREFER", format!("wait={wait}"));
    }
    let expected = if plan.prefer_wait_s.is_some() {
        "200"
    } else {
        "202"
    };
    wrk.env("BENCH_EXPECT", expected);
    wrk
}

/// The `{"wrk": …}` line of the script's output.
pub fn parse_summary(stdout: &str) -> Result<WrkSummary> {
    #[derive(Deserialize)]
    struct Line {
        wrk: WrkSummary,
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("{\"wrk\""))
        .ok_or_else(|| BenchError::Tool {
            program: "wrk".to_owned(),
            detail: format!("no summary line from the script in:\n{stdout}"),
        })?;
    serde_json::from_str::<Line>(line)
        .map(|l| l.wrk)
        .map_err(|source| BenchError::Json {
            what: "wrk's summary".to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_summary_is_found_among_wrks_lines() {
        let out = "Running 3s test @ http://127.0.0.1:1/v1/requests\n  1 threads and 8 connections\n\
            {\"wrk\":{\"requests\":900,\"duration_us\":3000000,\"connect_errors\":0,\"read_errors\":0,\
            \"write_errors\":0,\"status_errors\":3,\"timeouts\":1,\"unexpected\":5}}\n";
        let summary = parse_summary(out).unwrap();
        assert_eq!(summary.requests, 900);
        assert_eq!(summary.unexpected, 5);
        assert_eq!(summary.failures(), 6, "1 timeout and 5 unexpected answers");
    }

    #[test]
    fn no_summary_is_an_error_quoting_the_output() {
        let error = parse_summary("wrk: unable to connect").unwrap_err();
        assert!(error.to_string().contains("unable to connect"));
    }
}
