//! Logs: human-readable text by default, JSON lines for log collectors. Logs go to
//! standard error, so that what a command prints (a new API key, the OpenAPI document)
//! is alone on standard output; colours only when standard error is a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::telemetry::Telemetry;

/// The traces of this process, kept for [`shutdown`] to send the last spans.
static TELEMETRY: Mutex<Option<Telemetry>> = Mutex::new(None);

/// Installs the global subscriber: log lines filtered by `filter` (`RUST_LOG`, when
/// set, wins over it), and Rabt's spans (INFO and above, whatever the log filter) to
/// OpenTelemetry, which gives every unit of work its trace id and exports the spans
/// when OTEL_EXPORTER_OTLP_ENDPOINT is set (see `telemetry`). The spans of a unit of
/// work carry `trace_id`, so its log lines name the trace in either format.
pub(crate) fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Rabt's spans exist whatever the log level, so every request has its trace id;
    // they show in a log line only as the context of an event the filter lets by.
    let filter = match SPANS.parse() {
        Ok(spans) => filter.add_directive(spans),
        Err(_) => filter,
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let telemetry = if crate::telemetry::sdk_disabled(&|name| std::env::var(name).ok()) {
        None
    } else {
        match Telemetry::start() {
            Ok(telemetry) => Some(telemetry),
            Err(err) => {
                eprintln!("rabt: traces are not exported: {err:#}");
                None
            }
        }
    };
    // Only Rabt's own spans and events: a library's (hyper, sqlx, the exporter's own
    // HTTP client) would flood traces, or feed the exporter its own requests.
    let ours =
        FilterFn::new(|meta| meta.target().starts_with("rabt") && *meta.level() <= Level::INFO);
    let traces = telemetry.as_ref().map(|t| {
        tracing_opentelemetry::layer()
            .with_tracer(t.tracer())
            .with_threads(false)
            .with_filter(ours)
    });
    // A second init (tests, or demo after config) keeps the first subscriber.
    if tracing_subscriber::registry()
        .with(fmt)
        .with(traces)
        .with(filter)
        .try_init()
        .is_ok()
        && let Ok(mut slot) = TELEMETRY.lock()
    {
        *slot = telemetry;
    }
}

/// The directive that keeps Rabt's spans (rabt-trace) on at any log level.
const SPANS: &str = "rabt_trace=info";

/// Sends the spans still queued for export (bounded), before the process exits.
pub(crate) async fn shutdown() {
    let telemetry = TELEMETRY.lock().ok().and_then(|mut slot| slot.take());
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
}

/// Writes `text` and a newline to standard output. A closed pipe (`rabt openapi | head`)
/// ends the output quietly instead of panicking as `println!` would.
pub(crate) fn print(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
