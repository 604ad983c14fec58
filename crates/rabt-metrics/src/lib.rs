//! Rabt's Prometheus metrics.
//!
//! One registry per process, reached through [`metrics()`]: the figures DESIGN.md's
//! observability section names (per agency and service: requests, outcomes, latency
//! histograms, retries, dead letters, circuit state, queue depth, callback verdicts),
//! recorded where they happen and encoded by [`Metrics::encode`] for `/metrics`.
//!
//! The registry is process-wide on purpose, as `tracing`'s subscriber is: a Prometheus
//! scrape reads one process, every part of a process (API, worker, notifier) adds to the
//! same figures, and threading a handle through every constructor would buy nothing. Tests
//! that share a process with others compare figures before and after, never absolutes.
//!
//! [`Supervision`] is the other thing a process says about itself: the health of its
//! long-running tasks, which their supervisor records and `/readyz` reports.
//!
//! Label values are bounded: agencies and services come from the catalogue, outcomes and
//! verdicts from closed enums, HTTP routes are axum's matched route templates (never raw
//! paths, so an id never becomes a label).

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rabt_core::Agency;

mod supervision;
pub use supervision::{Supervision, TaskHealth};

/// The content type of [`Metrics::encode`]'s text: Prometheus' text exposition format,
/// which every Prometheus-compatible scraper reads.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Seconds buckets for agency calls and API answers: 1 ms to about 33 s, doubling.
fn latency_buckets() -> Histogram {
    Histogram::new([
        0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
    ])
}

/// A circuit breaker's state, as the `rabt_circuit_state` gauge shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    /// Calls flow (gauge 0).
    Closed,
    /// One probe is allowed through (gauge 1).
    HalfOpen,
    /// Calls wait (gauge 2).
    Open,
}

impl Circuit {
    fn gauge(self) -> i64 {
        match self {
            Circuit::Closed => 0,
            Circuit::HalfOpen => 1,
            Circuit::Open => 2,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgencyLabels {
    agency: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgencyServiceLabels {
    agency: &'static str,
    service: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    agency: &'static str,
    service: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    agency: &'static str,
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    agency: &'static str,
    verdict: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SpanLabels {
    outcome: &'static str,
}

type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every figure a Rabt process keeps; see the module documentation.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: LatencyFamily<RouteLabels>,
    accepted: Family<ServiceLabels, Counter>,
    agency_calls: Family<OutcomeLabels, Counter>,
    agency_call_duration: LatencyFamily<AgencyServiceLabels>,
    retries: Family<AgencyServiceLabels, Counter>,
    dead_letters: Family<ReasonLabels, Counter>,
    replays: Family<AgencyLabels, Counter>,
    circuit: Family<AgencyLabels, Gauge>,
    callbacks: Family<VerdictLabels, Counter>,
    tasks_finished: Family<OutcomeLabels, Counter>,
    queue_depth: Family<QueueLabels, Gauge>,
    notifications: Family<NotificationLabels, Counter>,
    connections_refused: Counter,
    rate_limited: Family<LimitLabels, Counter>,
    task_restarts: Family<TaskLabels, Counter>,
    audit_sealed: Counter,
    audit_tree_size: Gauge,
    audit_seal_lag: Gauge<f64, AtomicU64>,
    payloads_expired: Counter,
    trace_spans: Family<SpanLabels, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// This process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rabt");
        let metrics = Metrics {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_buckets),
            accepted: Family::default(),
            agency_calls: Family::default(),
            agency_call_duration: Family::new_with_constructor(latency_buckets),
            retries: Family::default(),
            dead_letters: Family::default(),
            replays: Family::default(),
            circuit: Family::default(),
            callbacks: Family::default(),
            tasks_finished: Family::default(),
            queue_depth: Family::default(),
            notifications: Family::default(),
            connections_refused: Counter::default(),
            rate_limited: Family::default(),
            task_restarts: Family::default(),
            audit_sealed: Counter::default(),
            audit_tree_size: Gauge::default(),
            audit_seal_lag: Gauge::default(),
            payloads_expired: Counter::default(),
            trace_spans: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, matched route and status",
            metrics.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by matched route",
            metrics.http_duration.clone(),
        );
        registry.register(
            "requests_accepted",
            "Requests accepted (202) by POST /v1/requests, by service",
            metrics.accepted.clone(),
        );
        registry.register(
            "agency_calls",
            "Calls to an agency, by agency, service and outcome (OK, NOT_FOUND, ..., or retryable)",
            metrics.agency_calls.clone(),
        );
        registry.register(
            "agency_call_duration_seconds",
            "Time an agency took to answer a call, by agency and service",
            metrics.agency_call_duration.clone(),
        );
        registry.register(
            "task_retries",
            "Tasks sent to a retry tier after a retryable failure, by agency and service",
            metrics.retries.clone(),
        );
        registry.register(
            "dead_letters",
            "Tasks and messages dead-lettered, by agency and reason",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "dead_letter_replays",
            "Dead letters replayed by an operator, by agency",
            metrics.replays.clone(),
        );
        registry.register(
            "circuit_state",
            "Each agency's circuit breaker: 0 closed, 1 half-open, 2 open",
            metrics.circuit.clone(),
        );
        registry.register(
            "callbacks",
            "Agency callbacks received, by agency and verdict (applied, duplicate, late, rejected_*)",
            metrics.callbacks.clone(),
        );
        registry.register(
            "tasks_finished",
            "Tasks that reached a final outcome, by agency, service and outcome",
            metrics.tasks_finished.clone(),
        );
        registry.register(
            "queue_depth",
            "Messages ready in a task queue when scraped",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "notifications",
            "Notification attempts to cooperatives' notify_url, by outcome",
            metrics.notifications.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections closed on accept because the API served its maximum already",
            metrics.connections_refused.clone(),
        );
        registry.register(
            "cooperative_requests_limited",
            "Cooperatives' calls refused with 429, by limit (rate or quota)",
            metrics.rate_limited.clone(),
        );
        registry.register(
            "task_restarts",
            "Long-running tasks of this process (relay, consumers, sweeper, drain, notifier, sealer, retention, heartbeat) restarted after they died",
            metrics.task_restarts.clone(),
        );
        registry.register(
            "audit_sealed_entries",
            "Audit entries this process sealed into the Merkle tree",
            metrics.audit_sealed.clone(),
        );
        registry.register(
            "audit_tree_size",
            "Entries in the sealed audit tree, as this process's sealer last saw it",
            metrics.audit_tree_size.clone(),
        );
        registry.register(
            "audit_seal_lag_seconds",
            "Age of the oldest entry in this process's last sealing round when it was sealed",
            metrics.audit_seal_lag.clone(),
        );
        registry.register(
            "payloads_expired",
            "Requests whose inputs and outputs were replaced by digests after retention.payloads",
            metrics.payloads_expired.clone(),
        );
        registry.register(
            "trace_spans",
            "Finished trace spans handed to the OTLP exporter, by outcome: exported, dropped (the export queue was full) or failed (the exporter refused or timed out)",
            metrics.trace_spans.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// An HTTP request was answered. `route` is the matched route template.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A connection was closed on accept: too many were open.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// A cooperative's call was refused by its `limit` (`rate` or `quota`).
    pub fn rate_limited(&self, limit: &'static str) {
        self.rate_limited
            .get_or_create(&LimitLabels { limit })
            .inc();
    }

    /// The long-running `task` (a name of the supervisor's: `relay`, `consumer:labor`…)
    /// died and is started again.
    pub fn task_restarted(&self, task: &str) {
        self.task_restarts
            .get_or_create(&TaskLabels {
                task: task.to_owned(),
            })
            .inc();
    }

    /// A request for `service` was accepted.
    pub fn accepted(&self, service: &str) {
        self.accepted
            .get_or_create(&ServiceLabels {
                service: service.to_owned(),
            })
            .inc();
    }

    /// An agency answered a call (or failed to) after `elapsed`. `outcome` is the
    /// task outcome, or `retryable` for a failure that will be tried again.
    pub fn agency_call(&self, agency: Agency, service: &str, outcome: &str, elapsed: Duration) {
        self.agency_calls
            .get_or_create(&OutcomeLabels {
                agency: agency.as_str(),
                service: service.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.agency_call_duration
            .get_or_create(&AgencyServiceLabels {
                agency: agency.as_str(),
                service: service.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A task went to a retry tier.
    pub fn retry(&self, agency: Agency, service: &str) {
        self.retries
            .get_or_create(&AgencyServiceLabels {
                agency: agency.as_str(),
                service: service.to_owned(),
            })
            .inc();
    }

    /// A task or message was dead-lettered for `reason` (a short code such as
    /// `attempts_exhausted` or `undecodable`).
    pub fn dead_letter(&self, agency: Agency, reason: &str) {
        self.dead_letters
            .get_or_create(&ReasonLabels {
                agency: agency.as_str(),
                reason: bounded_reason(reason).to_owned(),
            })
            .inc();
    }

    /// An operator replayed a dead letter.
    pub fn replayed(&self, agency: Agency) {
        self.replays
            .get_or_create(&AgencyLabels {
                agency: agency.as_str(),
            })
            .inc();
    }

    /// An agency's circuit breaker changed state.
    pub fn circuit(&self, agency: Agency, state: Circuit) {
        self.circuit
            .get_or_create(&AgencyLabels {
                agency: agency.as_str(),
            })
            .set(state.gauge());
    }

    /// An agency's callback got `verdict`.
    pub fn callback(&self, agency: Agency, verdict: &'static str) {
        self.callbacks
            .get_or_create(&VerdictLabels {
                agency: agency.as_str(),
                verdict,
            })
            .inc();
    }

    /// A task reached its final `outcome`.
    pub fn task_finished(&self, agency: Agency, service: &str, outcome: &str) {
        self.tasks_finished
            .get_or_create(&OutcomeLabels {
                agency: agency.as_str(),
                service: service.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// A notification attempt ended with `outcome` (`delivered`, `failed`, `gave_up`).
    pub fn notification(&self, outcome: &'static str) {
        self.notifications
            .get_or_create(&NotificationLabels { outcome })
            .inc();
    }

    /// A sealing round appended `sealed` entries; the tree holds `tree_size`; the oldest
    /// entry of the round waited `lag` to be sealed.
    pub fn audit_sealed(&self, sealed: u64, tree_size: u64, lag: Option<Duration>) {
        self.audit_sealed.inc_by(sealed);
        self.audit_tree_size
            .set(i64::try_from(tree_size).unwrap_or(i64::MAX));
        if let Some(lag) = lag {
            self.audit_seal_lag.set(lag.as_secs_f64());
        }
    }

    /// The retention sweeper replaced `count` requests' payloads by digests.
    pub fn payloads_expired(&self, count: u64) {
        self.payloads_expired.inc_by(count);
    }

    /// `count` finished spans ended with `outcome`: `exported`, `dropped` (the export
    /// queue was full: the exporter is down or slow) or `failed` (an export failed).
    pub fn trace_spans(&self, outcome: &'static str, count: u64) {
        self.trace_spans
            .get_or_create(&SpanLabels { outcome })
            .inc_by(count);
    }

    /// The number of messages ready in `queue`, as just measured.
    pub fn queue_depth(&self, queue: &str, ready: u64) {
        self.queue_depth
            .get_or_create(&QueueLabels {
                queue: queue.to_owned(),
            })
            .set(i64::try_from(ready).unwrap_or(i64::MAX));
    }

    /// Everything, in Prometheus' text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an encoding error would be a bug in a label.
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        // The OpenMetrics terminator is a comment to Prometheus' format; drop it so the
        // text is plain Prometheus exposition.
        if let Some(body) = text.strip_suffix("# EOF\n") {
            text.truncate(body.len());
        }
        prometheus_counter_names(&text)
    }
}

/// The text with every counter's `# HELP` and `# TYPE` lines naming the counter as its
/// samples do (`x_total`). OpenMetrics names a counter family without the suffix;
/// Prometheus' text format (0.0.4, what [`CONTENT_TYPE`] announces) names it with, and
/// its parsers otherwise read the samples as a family of their own without help or
/// type (`promtool check metrics`: "no help text").
fn prometheus_counter_names(text: &str) -> String {
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len() + counters.len() * 12);
    for line in text.lines() {
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A dead letter's reason as a label: Rabt's own reasons are short lowercase phrases
/// (`unknown task`, `delivery_limit`); anything else (a header set by hand) is `other`,
/// so a label's values stay few.
fn bounded_reason(reason: &str) -> &str {
    let ours = !reason.is_empty()
        && reason.len() <= 40
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b" _-:".contains(&b));
    if ours { reason } else { "other" }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `name{labels}` in `text`, if present.
    fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
    }

    #[test]
    fn counters_are_named_as_prometheus_text_names_them() {
        let m = metrics();
        m.connection_refused();
        let text = m.encode();
        assert!(
            text.contains("# TYPE rabt_http_connections_refused_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP rabt_http_connections_refused_total "),
            "{text}"
        );
        assert!(!text.contains("# TYPE rabt_http_connections_refused counter"));
        // Histograms keep their family name.
        m.http_request("GET", "/x", 200, Duration::from_millis(1));
        assert!(
            m.encode()
                .contains("# TYPE rabt_http_request_duration_seconds histogram")
        );
    }

    #[test]
    fn figures_appear_in_the_text_with_their_labels() {
        let m = metrics();
        let before = m.encode();
        let key =
            r#"rabt_agency_calls_total{agency="labor",service="labor.metrics.test",outcome="OK"}"#;
        let old = sample(&before, key).unwrap_or(0.0);
        m.agency_call(
            Agency::Labor,
            "labor.metrics.test",
            "OK",
            Duration::from_millis(3),
        );
        m.agency_call(
            Agency::Labor,
            "labor.metrics.test",
            "OK",
            Duration::from_millis(40),
        );
        let after = m.encode();
        assert_eq!(sample(&after, key), Some(old + 2.0), "{after}");
        let fast = r#"rabt_agency_call_duration_seconds_bucket{le="0.005",agency="labor",service="labor.metrics.test"}"#;
        let slow = r#"rabt_agency_call_duration_seconds_bucket{le="0.05",agency="labor",service="labor.metrics.test"}"#;
        assert_eq!(sample(&after, fast), Some(1.0), "{after}");
        assert_eq!(sample(&after, slow), Some(2.0), "{after}");
        assert!(after.contains("# TYPE rabt_agency_calls_total counter"));
        assert!(!after.contains("# EOF"));
    }

    #[test]
    fn circuit_state_is_a_gauge_that_goes_back_down() {
        let m = metrics();
        let key = r#"rabt_circuit_state{agency="chambers"}"#;
        m.circuit(Agency::Chambers, Circuit::Open);
        assert_eq!(sample(&m.encode(), key), Some(2.0));
        m.circuit(Agency::Chambers, Circuit::HalfOpen);
        assert_eq!(sample(&m.encode(), key), Some(1.0));
        m.circuit(Agency::Chambers, Circuit::Closed);
        assert_eq!(sample(&m.encode(), key), Some(0.0));
    }

    #[test]
    fn dead_letter_reasons_of_unknown_shape_are_other() {
        assert_eq!(bounded_reason("delivery_limit"), "delivery_limit");
        assert_eq!(bounded_reason("unknown task"), "unknown task");
        assert_eq!(
            bounded_reason("attempts exhausted: timeout"),
            "attempts exhausted: timeout"
        );
        assert_eq!(bounded_reason("Task 7 failed: <html>"), "other");
        assert_eq!(bounded_reason(&"a".repeat(41)), "other");
        assert_eq!(bounded_reason(""), "other");
    }

    #[test]
    fn queue_depth_reports_the_last_measure() {
        let m = metrics();
        m.queue_depth("rabt.tasks.metrics-test", 12);
        m.queue_depth("rabt.tasks.metrics-test", 3);
        let key = r#"rabt_queue_depth{queue="rabt.tasks.metrics-test"}"#;
        assert_eq!(sample(&m.encode(), key), Some(3.0));
    }
}
