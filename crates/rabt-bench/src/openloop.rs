//! The open-loop generator: requests sent at a fixed rate on a fixed schedule, whatever
//! the answers, each latency measured from the time the request was *scheduled*. A
//! closed-loop tool (wrk) waits for an answer before it sends the next request, so a
//! server stall delays the requests that would have seen it and their latency is never
//! recorded ("coordinated omission"); here a stall shows in every request scheduled
//! during it.
//!
//! One thread (a current-thread runtime), hyper's HTTP/1 client with keep-alive
//! connections opened as needed, and an HDR histogram: cheap in CPU, since the load
//! generator shares the two cores with what it measures (its CPU is reported).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::{BenchError, Result};
use crate::latency::{Latencies, Percentiles};
use crate::procs::{Meter, Usage, Watch};

/// What counts as an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `202 Accepted` (the accept path, G and P).
    Accept,
    /// The verdict (end to end, E): the POST carries `Prefer: wait=N` and its `200`
    /// carries the completed request; a `202` (not done within N s) is polled.
    EndToEnd {
        /// N of `Prefer: wait=N`.
        wait_s: u32,
    },
}

/// One fixed-rate run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `POST` target, e.g. `http://127.0.0.1:8080/v1/requests`.
    pub url: String,
    /// Sent as `Authorization: Bearer <key>`.
    pub api_key: String,
    /// The request body (the same for every request; each gets its own
    /// `Idempotency-Key`).
    pub body: Bytes,
    /// Requests per second.
    pub rate: f64,
    /// How long requests are scheduled for, after the warm-up.
    pub duration: Duration,
    /// Requests scheduled first, at the same rate, and not recorded.
    pub warmup: Duration,
    /// What counts as an answer.
    pub mode: Mode,
    /// Requests in flight at which the run stops scheduling: the server does not keep
    /// up with the rate (the run is then reported as overloaded).
    pub max_in_flight: usize,
    /// How long one request may take before it counts as an error.
    pub timeout: Duration,
}

/// What a fixed-rate run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateResult {
    /// The rate asked for (requests/s).
    pub target_rate: f64,
    /// Requests scheduled after the warm-up.
    pub scheduled: u64,
    /// Of those, answered as expected.
    pub ok: u64,
    /// The others, by reason.
    pub errors: BTreeMap<String, u64>,
    /// Answered requests per second over the measurement.
    pub completed_per_s: f64,
    /// Whether scheduling stopped early because `max_in_flight` requests were waiting.
    pub overloaded: bool,
    /// End to end: requests not done within `Prefer: wait` and polled.
    pub polled: u64,
    /// End to end: verdicts seen.
    pub verdicts: BTreeMap<String, u64>,
    /// Latency from the scheduled send to the answer.
    pub latency: Percentiles,
    /// Who used the machine during the measurement.
    pub usage: Usage,
}

/// How one request ended.
enum Done {
    Accepted,
    Verdict { verdict: String, polled: bool },
}

/// What every request of a run shares.
struct Shared {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    authorization: String,
    body: Bytes,
    mode: Mode,
    key_prefix: String,
}

/// A finished request: when it was due, when it ended, how.
struct Finished {
    measured: bool,
    due: Instant,
    ended: Instant,
    result: std::result::Result<Done, String>,
}

/// Runs `plan`, accounting the machine's CPU to `watches` during the measurement.
pub async fn run(plan: &Plan, watches: &[Watch]) -> Result<RateResult> {
    if !plan.rate.is_finite() || plan.rate <= 0.0 || plan.max_in_flight == 0 {
        return Err(BenchError::invalid(
            "rate plan",
            "the rate and max_in_flight must be positive",
        ));
    }
    let shared = Arc::new(Shared::new(plan)?);
    let warm = (plan.warmup.as_secs_f64() * plan.rate).round() as u64;
    let measured = (plan.duration.as_secs_f64() * plan.rate).round().max(1.0) as u64;
    let mut tally = Tally::new()?;
    let mut set = JoinSet::new();
    let mut meter = None;
    let mut overloaded = false;
    let mut scheduled = 0;
    let t0 = Instant::now() + Duration::from_millis(20);
    for i in 0..warm + measured {
        let due = t0 + Duration::from_secs_f64(i as f64 / plan.rate);
        tokio::time::sleep_until(due.into()).await;
        if i == warm {
            // Reading /proc takes milliseconds: off this thread, so the schedule and
            // the answers in flight are not held up by it.
            let watches = watches.to_vec();
            let sample = tokio::task::spawn_blocking(move || Meter::start(&watches));
            meter = Some((sample, due));
        }
        while let Some(done) = set.try_join_next() {
            tally.add(done);
        }
        if set.len() >= plan.max_in_flight {
            overloaded = true;
            break;
        }
        if i >= warm {
            scheduled += 1;
        }
        let shared = Arc::clone(&shared);
        let timeout = plan.timeout;
        set.spawn(async move {
            let result = match tokio::time::timeout(timeout, one(&shared, i)).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {}s", timeout.as_secs())),
            };
            Finished {
                measured: i >= warm,
                due,
                ended: Instant::now(),
                result,
            }
        });
    }
    while let Some(done) = set.join_next().await {
        tally.add(done);
    }
    let (usage, started) = match meter {
        Some((sample, started)) => (stop_meter(sample).await?, started),
        None => (Usage::default(), t0),
    };
    Ok(tally.result(plan.rate, scheduled, overloaded, started, usage))
}

/// The machine's usage since the meter started, once its first sample is taken.
async fn stop_meter(sample: JoinHandle<Meter>) -> Result<Usage> {
    let meter = sample.await.map_err(|e| BenchError::Tool {
        program: "the /proc sampler".to_owned(),
        detail: e.to_string(),
    })?;
    Ok(meter.finish())
}

impl Shared {
    /// What every request of `plan` shares: one pooled client, its target and body,
    /// and a prefix for its idempotency keys of this run alone.
    fn new(plan: &Plan) -> Result<Shared> {
        let uri: Uri = plan
            .url
            .parse()
            .map_err(|e| BenchError::invalid("--url", format!("{}: {e}", plan.url)))?;
        let mut connector = HttpConnector::new();
        // Small requests and answers: Nagle's delay would be measured, not the server.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(plan.max_in_flight)
            .build(connector);
        Ok(Shared {
            client,
            uri,
            authorization: format!("Bearer {}", plan.api_key),
            body: plan.body.clone(),
            mode: plan.mode,
            key_prefix: format!("bench-{:016x}", rand::random::<u64>()),
        })
    }
}

/// Sends request `i` and reads its answer, polling for an end-to-end verdict if needed.
async fn one(shared: &Shared, i: u64) -> std::result::Result<Done, String> {
    let mut request = Request::post(shared.uri.clone())
        .header(AUTHORIZATION, &shared.authorization)
        .header(CONTENT_TYPE, "application/json")
        .header("idempotency-key", format!("{}-{i}", shared.key_prefix));
    if let Mode::EndToEnd { wait_s } = shared.mode {
        request = request.header("prefer", format!("wait={wait_s}"));
    }
    let request = request
        .body(Full::new(shared.body.clone()))
        .map_err(|e| e.to_string())?;
    let (status, location, body) = exchange(shared, request).await?;
    match (shared.mode, status) {
        (Mode::Accept, StatusCode::ACCEPTED) => Ok(Done::Accepted),
        (Mode::EndToEnd { .. }, StatusCode::OK) => verdict(&body, false),
        (Mode::EndToEnd { .. }, StatusCode::ACCEPTED) => {
            let location = location.ok_or("202 without a Location")?;
            poll(shared, &location).await
        }
        (_, status) => Err(format!("HTTP {}", status.as_u16())),
    }
}

/// Polls a request's `Location` every 10 ms until it is completed (the run's timeout
/// bounds it).
async fn poll(shared: &Shared, location: &str) -> std::result::Result<Done, String> {
    let authority = shared.uri.authority().map_or("", |a| a.as_str());
    let uri: Uri = format!("http://{authority}{location}")
        .parse()
        .map_err(|_| format!("unusable Location {location}"))?;
    loop {
        let request = Request::get(uri.clone())
            .header(AUTHORIZATION, &shared.authorization)
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let (status, _, body) = exchange(shared, request).await?;
        if status != StatusCode::OK {
            return Err(format!("HTTP {} polling", status.as_u16()));
        }
        if let Ok(done) = verdict(&body, true) {
            return Ok(done);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn exchange(
    shared: &Shared,
    request: Request<Full<Bytes>>,
) -> std::result::Result<(StatusCode, Option<String>, Bytes), String> {
    let response = shared
        .client
        .request(request)
        .await
        .map_err(|e| short(&format!("{e:?}")))?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| short(&e.to_string()))?
        .to_bytes();
    Ok((status, location, body))
}

/// The verdict of a completed request's JSON; an error while it is not completed.
fn verdict(body: &[u8], polled: bool) -> std::result::Result<Done, String> {
    #[derive(Deserialize)]
    struct Completed {
        status: String,
        verdict: Option<String>,
    }
    let completed: Completed =
        serde_json::from_slice(body).map_err(|_| "an answer that is not a request".to_owned())?;
    if completed.status != "COMPLETED" {
        return Err(format!("answered while {}", completed.status));
    }
    Ok(Done::Verdict {
        verdict: completed.verdict.unwrap_or_else(|| "none".to_owned()),
        polled,
    })
}

/// An error reason short enough to count by (transport errors carry long chains).
fn short(reason: &str) -> String {
    reason.chars().take(100).collect()
}

/// The counts of a run so far.
struct Tally {
    latencies: Latencies,
    ok: u64,
    errors: BTreeMap<String, u64>,
    polled: u64,
    verdicts: BTreeMap<String, u64>,
    last_end: Option<Instant>,
}

impl Tally {
    fn new() -> Result<Tally> {
        Ok(Tally {
            latencies: Latencies::new()?,
            ok: 0,
            errors: BTreeMap::new(),
            polled: 0,
            verdicts: BTreeMap::new(),
            last_end: None,
        })
    }

    fn add(&mut self, joined: std::result::Result<Finished, tokio::task::JoinError>) {
        let finished = match joined {
            Ok(finished) => finished,
            Err(e) => {
                *self.errors.entry(format!("task: {e}")).or_default() += 1;
                return;
            }
        };
        if !finished.measured {
            return;
        }
        self.last_end = self.last_end.max(Some(finished.ended));
        match finished.result {
            Ok(done) => {
                self.ok += 1;
                self.latencies
                    .record(finished.ended.saturating_duration_since(finished.due));
                if let Done::Verdict { verdict, polled } = done {
                    *self.verdicts.entry(verdict).or_default() += 1;
                    self.polled += u64::from(polled);
                }
            }
            Err(reason) => *self.errors.entry(reason).or_default() += 1,
        }
    }

    fn result(
        self,
        rate: f64,
        scheduled: u64,
        overloaded: bool,
        started: Instant,
        usage: Usage,
    ) -> RateResult {
        let span = self.last_end.map_or(0.0, |end| {
            end.saturating_duration_since(started).as_secs_f64()
        });
        RateResult {
            target_rate: rate,
            scheduled,
            ok: self.ok,
            errors: self.errors,
            completed_per_s: if span > 0.0 {
                self.ok as f64 / span
            } else {
                0.0
            },
            overloaded,
            polled: self.polled,
            verdicts: self.verdicts,
            latency: self.latencies.summary(),
            usage,
        }
    }
}

#[cfg(test)]
mod tests;
