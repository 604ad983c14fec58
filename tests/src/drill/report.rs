//! What the drill found: per window, what became of the requests accepted in it; the
//! failing agency's evidence; the healthy agencies' latency; and the report as markdown.

use std::collections::BTreeMap;

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
    /// Submissions the load generator gave up on (never answered 2xx within 60 s), or
    /// answered 2xx without a request id it could follow.
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

/// What the API answered while PostgreSQL was down, and how soon it served again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabaseOutage {
    /// How long PostgreSQL was down.
    pub down_for: std::time::Duration,
    /// The probes' answers while it was down: `503+retry-after`, another status,
    /// `hang` (no answer within 5 s) or `refused` (no connection).
    pub answers: BTreeMap<String, u64>,
    /// From the restart until every api process served again; `None` if one did not
    /// within a minute.
    pub recovered_in: Option<std::time::Duration>,
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
    /// What the API answered while the database was down.
    pub database: Option<DatabaseOutage>,
    /// The largest outage/baseline p99 ratio of a healthy agency the drill accepts.
    pub max_p99_ratio: Option<f64>,
    /// Submissions given up on, by window and the last answer they got.
    pub gave_up: BTreeMap<String, u64>,
    /// Per window, the submissions refused or slowed while its fault lasted.
    pub disruption: Vec<Disruption>,
}

/// How a fault looked to cooperatives: submissions refused (a connection error or a
/// 5xx, sent again with the same key) or slowed (answered after more than
/// [`SLOW_MS`]), and the span of time, from the fault's start, in which they happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disruption {
    /// The window.
    pub window: String,
    /// Submissions in the window.
    pub submitted: u64,
    /// Attempts refused (each retried with the same Idempotency-Key).
    pub refused: u64,
    /// How they were refused: by status (`503`), or `connection`.
    pub reasons: BTreeMap<String, u64>,
    /// Submissions answered 2xx only after more than [`SLOW_MS`].
    pub slowed: u64,
    /// Seconds from the fault's start to the first refused or slowed submission, and
    /// to the end of the last; `None` when there was none.
    pub span: Option<(f64, f64)>,
    /// The slowest 2xx answer, milliseconds.
    pub max_ms: u64,
}

/// An answer later than this counts as slowed.
pub const SLOW_MS: u64 = 1000;

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
    /// How long the outage lasted.
    pub outage: std::time::Duration,
    /// When it began, in milliseconds since the epoch.
    pub began_ms: i64,
    /// The slowest healthy-agency requests of the outage window: when each was
    /// accepted (ms after the outage began) and how long it took (ms).
    pub slowest: Vec<(i64, i64)>,
    /// Whether the outage was at most half the labor deadline: then every labor request
    /// must end `OK` (the breaker probes before the waiting tasks' deadlines).
    pub all_ok_expected: bool,
}

impl Breaker {
    /// Whether the labor requests of the outage ended as they must.
    pub fn holds(&self) -> bool {
        !self.all_ok_expected || self.outcomes.keys().all(|outcome| outcome == "OK")
    }
}

/// How far a healthy agency's p99 may rise during another's outage, in ms, whatever
/// the ratio: the noise of a busy machine.
const P99_NOISE_MS: f64 = 25.0;

impl Report {
    /// Whether nothing was lost, applied twice or given up on, every poison message
    /// dead-lettered, an outage of at most half a deadline ended every labor request
    /// `OK`, the database outage answered 503s and recovered, and (when asked) the
    /// healthy agencies' p99 stayed within the ratio.
    pub fn holds(&self) -> bool {
        self.failures().is_empty()
    }

    /// What did not hold, in words.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for t in &self.tallies {
            if t.lost != 0 || t.applied_twice != 0 || t.refused != 0 {
                failures.push(format!(
                    "{}: {} lost, {} applied twice, {} given up on",
                    t.window, t.lost, t.applied_twice, t.refused
                ));
            }
        }
        if let Some((published, dead)) = self.poison
            && dead < published
        {
            failures.push(format!(
                "{dead} of {published} poison messages dead-lettered"
            ));
        }
        if let Some(b) = &self.breaker
            && !b.holds()
        {
            failures.push(format!(
                "an outage of {} s (at most half the deadline) ended labor requests {:?}",
                b.outage.as_secs(),
                b.outcomes
            ));
        }
        if let Some(d) = &self.database
            && !d.holds()
        {
            failures.push(format!(
                "database restart: answers while down {}, recovered in {:?}",
                d.answers_text(),
                d.recovered_in
            ));
        }
        if let Some(max) = self.max_p99_ratio {
            for (service, baseline, outage) in self.p99_pairs() {
                let ratio = outage / baseline;
                // Both bounds: a ratio alone fails on a few milliseconds of a busy
                // machine's noise (14 against 22 ms once), where a broken bulkhead costs
                // the healthy agencies the failing one's timeouts, seconds.
                if ratio >= max && outage - baseline >= P99_NOISE_MS {
                    failures.push(format!(
                        "`{service}`: p99 during the outage {ratio:.2}× the baseline's (at most {max}, or within {P99_NOISE_MS} ms of it)"
                    ));
                }
            }
        }
        failures
    }

    /// Per healthy service: its p99 during the agency outage over its p99 in the baseline.
    pub fn p99_ratios(&self) -> Vec<(String, f64)> {
        self.p99_pairs()
            .into_iter()
            .map(|(service, baseline, outage)| (service, outage / baseline))
            .collect()
    }

    /// Per healthy service: its p99 in the baseline and during the agency outage, in ms.
    fn p99_pairs(&self) -> Vec<(String, f64, f64)> {
        let of = |window: &str, service: &str| {
            self.latency
                .iter()
                .find(|l| l.window == window && l.service == service)
                .map(|l| l.p99)
        };
        let mut services: Vec<&str> = Vec::new();
        for latency in &self.latency {
            if !services.contains(&latency.service.as_str()) {
                services.push(&latency.service);
            }
        }
        services
            .into_iter()
            .filter_map(|service| {
                let baseline = of("baseline", service)?;
                let outage = of("agency-outage", service)?;
                (baseline > 0.0).then(|| (service.to_owned(), baseline, outage))
            })
            .collect()
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
        self.write_faults(&mut out);
        self.write_disruption(&mut out);
        self.write_latency(&mut out);
        out
    }

    /// What became of the submissions given up on and of each fault, a paragraph each.
    fn write_faults(&self, out: &mut String) {
        if !self.gave_up.is_empty() {
            let why: Vec<String> = self
                .gave_up
                .iter()
                .map(|(why, n)| format!("{n} × `{why}`"))
                .collect();
            out.push_str(&format!(
                "\nGiven up on (window: last answer): {}.\n",
                why.join(", ")
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
            out.push_str(&format!("\nLabor outage ({} s): the labor simulator received {} calls while it failed; {} labor requests were accepted meanwhile and ended {}, using at most {} attempt(s) each.\n", b.outage.as_secs(), b.calls_during_outage, b.requests, outcomes.join(", "), b.max_attempts));
        }
        if let Some(b) = self.breaker.as_ref().filter(|b| !b.slowest.is_empty()) {
            let slowest: Vec<String> = b
                .slowest
                .iter()
                .map(|(at, ms)| format!("{ms} ms at +{:.1} s", *at as f64 / 1000.0))
                .collect();
            out.push_str(&format!(
                "\nThe slowest healthy-agency requests of the outage window (accepted that long after the labor outage began): {}.\n",
                slowest.join(", ")
            ));
        }
        if let Some(d) = &self.database {
            let recovered = d.recovered_in.map_or_else(
                || "did not serve again within a minute".to_owned(),
                |t| {
                    format!(
                        "served again {:.1} s after PostgreSQL was back",
                        t.as_secs_f64()
                    )
                },
            );
            out.push_str(&format!(
                "\nDatabase restart: PostgreSQL down {} s; the api processes answered the probes {}; every api process {recovered}.\n",
                d.down_for.as_secs(),
                d.answers_text()
            ));
        }
    }

    /// How the faults looked to the cooperative, a row a window.
    fn write_disruption(&self, out: &mut String) {
        if !self.disruption.is_empty() {
            out.push_str(&format!("\n| window | submitted | refused attempts (how) | slowed (> {SLOW_MS} ms) | refused or slowed from … to (s after the fault) | slowest answer ms |\n|---|---|---|---|---|---|\n"));
            for d in &self.disruption {
                let span = d
                    .span
                    .map(|(a, b)| format!("{a:.1} … {b:.1}"))
                    .unwrap_or_else(|| "—".to_owned());
                let how: Vec<String> = d
                    .reasons
                    .iter()
                    .map(|(reason, n)| format!("{reason} ×{n}"))
                    .collect();
                let refused = if how.is_empty() {
                    d.refused.to_string()
                } else {
                    format!("{} ({})", d.refused, how.join(", "))
                };
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    d.window, d.submitted, refused, d.slowed, span, d.max_ms
                ));
            }
        }
    }

    /// The latencies, a row a window and service, and the bulkheads' p99 ratios.
    fn write_latency(&self, out: &mut String) {
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
            let ratios = self.p99_ratios();
            if !ratios.is_empty() {
                let text: Vec<String> = ratios
                    .iter()
                    .map(|(service, ratio)| format!("`{service}` {ratio:.2}"))
                    .collect();
                out.push_str(&format!(
                    "\nBulkheads: p99 during the labor outage over the baseline's: {}.\n",
                    text.join(", ")
                ));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::{Latency, Report};

    fn report(baseline: f64, outage: f64) -> Report {
        let latency = |window: &str, p99| Latency {
            window: window.to_owned(),
            service: "interior.identity.verify".to_owned(),
            count: 200,
            p50: 10.0,
            p99,
        };
        Report {
            latency: vec![
                latency("baseline", baseline),
                latency("agency-outage", outage),
            ],
            max_p99_ratio: Some(1.5),
            ..Report::default()
        }
    }

    #[test]
    fn a_few_milliseconds_over_the_ratio_are_noise() {
        assert!(report(14.0, 22.0).failures().is_empty());
    }

    #[test]
    fn a_healthy_agency_slowed_past_both_bounds_fails_the_drill() {
        let failures = report(14.0, 40.0).failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains("interior.identity.verify"),
            "{failures:?}"
        );
        assert!(
            report(14.0, 35.0).failures().is_empty(),
            "+21 ms is within the margin"
        );
    }
}
