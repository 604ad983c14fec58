//! Traces: every span of Rabt's work gets OpenTelemetry ids (so each request has a
//! trace id, in logs, problem bodies and views, whether or not anything is exported),
//! and, when the standard variables ask for it, is exported with OTLP over HTTP.
//!
//! Configured by OpenTelemetry's own environment variables, nothing else:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns export
//! on — unset, nothing leaves the process; `OTEL_SERVICE_NAME` (default `rabt`) and
//! `OTEL_RESOURCE_ATTRIBUTES` describe the process; `OTEL_TRACES_SAMPLER` and
//! `OTEL_TRACES_SAMPLER_ARG` sample (default: parent-based, always on);
//! `OTEL_TRACES_EXPORTER=none` turns export off and `OTEL_SDK_DISABLED=true` all of
//! OpenTelemetry (no trace ids then);
//! `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
//! and `OTEL_BSP_EXPORT_TIMEOUT` size the export queue; `OTEL_EXPORTER_OTLP_HEADERS`
//! and `…_TIMEOUT` are read by the exporter.
//!
//! An exporter that is down or slow must cost a request nothing: a finished span is
//! put in a bounded queue without waiting (when full, it is dropped and counted in
//! `rabt_trace_spans_total{outcome="dropped"}`), and one background task sends batches,
//! each bounded by the export timeout.

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter as _, SpanProcessor};
use rabt_metrics::metrics;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long the last spans may take to leave at shutdown.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(3);

/// The export queue's shape, from the `OTEL_BSP_*` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExportSettings {
    /// Spans waiting at most; more are dropped.
    pub queue: usize,
    /// Spans per export at most.
    pub batch: usize,
    /// How long a span may wait for its batch to fill.
    pub delay: Duration,
    /// The longest one export may take.
    pub timeout: Duration,
}

impl ExportSettings {
    /// The settings the environment asks for. The schedule delay defaults to 1 s, not
    /// the specification's 5 s: an operator following an incident wants spans soon.
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> ExportSettings {
        let number = |name: &str, default: u64| {
            env(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        let queue = usize::try_from(number("OTEL_BSP_MAX_QUEUE_SIZE", 2048)).unwrap_or(2048);
        let batch = usize::try_from(number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512))
            .unwrap_or(512)
            .min(queue);
        ExportSettings {
            queue,
            batch,
            delay: Duration::from_millis(number("OTEL_BSP_SCHEDULE_DELAY", 1000)),
            timeout: Duration::from_millis(number("OTEL_BSP_EXPORT_TIMEOUT", 10_000)),
        }
    }
}

/// `OTEL_SDK_DISABLED=true`: no OpenTelemetry at all — no export, and no trace ids
/// either (spans are plain `tracing` spans, for logs only).
pub(crate) fn sdk_disabled(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether the environment asks for spans to be exported.
pub(crate) fn export_wanted(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    let disabled = sdk_disabled(env);
    let exporter_none = env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
    !disabled
        && !exporter_none
        && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The process's tracer provider and, when exporting, the task that sends spans.
#[derive(Debug)]
pub(crate) struct Telemetry {
    pub provider: SdkTracerProvider,
    export: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Telemetry {
    /// The provider for this process. Must run inside the tokio runtime when the
    /// environment asks for export (the export task is spawned on it).
    pub(crate) fn start() -> anyhow::Result<Telemetry> {
        let env = |name: &str| std::env::var(name).ok();
        let resource = resource(&env);
        let builder = SdkTracerProvider::builder().with_resource(resource.clone());
        if !export_wanted(&env) {
            return Ok(Telemetry {
                provider: builder.build(),
                export: None,
            });
        }
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .context("cannot build the OTLP exporter (OTEL_EXPORTER_OTLP_* variables)")?;
        exporter.set_resource(&resource);
        let settings = ExportSettings::from_env(&env);
        let (queue, spans) = mpsc::channel(settings.queue);
        let stop = CancellationToken::new();
        let task = tokio::spawn(export_loop(spans, exporter, settings, stop.clone()));
        Ok(Telemetry {
            provider: builder.with_span_processor(Bounded { queue }).build(),
            export: Some((stop, task)),
        })
    }

    /// The tracer the `tracing` layer gives spans to.
    pub(crate) fn tracer(&self) -> opentelemetry_sdk::trace::Tracer {
        self.provider.tracer("rabt")
    }

    /// Sends what is still queued (within [`FLUSH_AT_EXIT`]) and stops exporting.
    pub(crate) async fn shutdown(self) {
        if let Some((stop, task)) = self.export {
            stop.cancel();
            if tokio::time::timeout(FLUSH_AT_EXIT, task).await.is_err() {
                tracing::debug!("the last spans were not exported in time");
            }
        }
    }
}

/// `service.name` from `OTEL_SERVICE_NAME` (default `rabt`), the rest from
/// `OTEL_RESOURCE_ATTRIBUTES`, and this process's id.
fn resource(env: &dyn Fn(&str) -> Option<String>) -> Resource {
    let builder = Resource::builder().with_attribute(KeyValue::new(
        "service.instance.id",
        format!("pid-{}", std::process::id()),
    ));
    let builder = if env("OTEL_SERVICE_NAME").is_some_and(|v| !v.trim().is_empty()) {
        builder
    } else {
        builder.with_service_name("rabt")
    };
    builder
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Hands finished spans to the export task without ever waiting.
#[derive(Debug)]
struct Bounded {
    queue: mpsc::Sender<SpanData>,
}

impl SpanProcessor for Bounded {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.queue.try_send(span).is_err() {
            metrics().trace_spans("dropped", 1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // The export task is stopped by Telemetry::shutdown, which can wait for it
        // without blocking the runtime.
        Ok(())
    }
}

/// Collects spans into batches (full, or `delay` after the first span) and exports
/// them one batch at a time, each within `timeout`; at `stop`, exports what is queued.
async fn export_loop(
    mut spans: mpsc::Receiver<SpanData>,
    exporter: opentelemetry_otlp::SpanExporter,
    settings: ExportSettings,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(settings.batch);
    loop {
        let first = tokio::select! {
            span = spans.recv() => span,
            () = stop.cancelled() => None,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + settings.delay;
        while batch.len() < settings.batch {
            tokio::select! {
                span = spans.recv() => match span {
                    Some(span) => batch.push(span),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
                () = stop.cancelled() => break,
            }
        }
        export(&exporter, std::mem::take(&mut batch), settings.timeout).await;
    }
    // Stopping: what is queued goes out in one last round, bounded like the others.
    while let Ok(span) = spans.try_recv() {
        batch.push(span);
        if batch.len() == settings.batch {
            export(&exporter, std::mem::take(&mut batch), settings.timeout).await;
        }
    }
    if !batch.is_empty() {
        export(&exporter, batch, settings.timeout).await;
    }
}

async fn export(
    exporter: &opentelemetry_otlp::SpanExporter,
    batch: Vec<SpanData>,
    timeout: Duration,
) {
    let count = batch.len() as u64;
    match tokio::time::timeout(timeout, exporter.export(batch)).await {
        Ok(Ok(())) => metrics().trace_spans("exported", count),
        Ok(Err(error)) => {
            metrics().trace_spans("failed", count);
            tracing::debug!(%error, spans = count, "exporting spans failed");
        }
        Err(_) => {
            metrics().trace_spans("failed", count);
            tracing::debug!(spans = count, "exporting spans timed out");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn nothing_is_exported_unless_an_endpoint_is_set() {
        assert!(!export_wanted(&env(&[])));
        assert!(!export_wanted(&env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            " "
        )])));
        assert!(export_wanted(&env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318"
        )])));
        assert!(export_wanted(&env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c/v1/traces"
        )])));
        assert!(!export_wanted(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])));
        assert!(!export_wanted(&env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ])));
    }

    #[test]
    fn the_queue_follows_the_bsp_variables() {
        let defaults = ExportSettings::from_env(&env(&[]));
        assert_eq!(defaults.queue, 2048);
        assert_eq!(defaults.batch, 512);
        assert_eq!(defaults.delay, Duration::from_secs(1));
        let small = ExportSettings::from_env(&env(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "16"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "nonsense"),
        ]));
        assert_eq!(small.queue, 16);
        assert_eq!(small.batch, 16, "a batch is never larger than the queue");
        assert_eq!(small.delay, Duration::from_millis(200));
        assert_eq!(small.timeout, Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (queue, _receiver) = mpsc::channel(1);
        let processor = Bounded { queue };
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        let before = dropped();
        let tracer = provider.tracer("test");
        for _ in 0..3 {
            opentelemetry::trace::Tracer::in_span(&tracer, "x", |_| {});
        }
        assert_eq!(
            dropped() - before,
            2.0,
            "one span fits the queue, two are dropped"
        );
    }

    fn dropped() -> f64 {
        metrics()
            .encode()
            .lines()
            .find(|l| l.starts_with("rabt_trace_spans_total{outcome=\"dropped\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .map(|v| v.parse().unwrap())
            .unwrap_or(0.0)
    }
}
