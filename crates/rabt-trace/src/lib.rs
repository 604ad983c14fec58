//! Trace context for Rabt's `tracing` spans: W3C `traceparent` in and out, and the
//! spans of one request's work named once, with OpenTelemetry's semantic conventions.
//!
//! One request is one trace: the API's HTTP server span, the accept transaction, a
//! PRODUCER span per publish, a CONSUMER span per delivery, a CLIENT span per agency
//! call, callbacks, notifications and a composite's decision. The context travels as
//! a W3C `traceparent` string — in the request row and the outbox row, in AMQP headers,
//! to the agency — and this crate turns such a string into a span's parent and a span
//! back into the string. Spans are ordinary `tracing` spans: the binary installs the
//! `tracing-opentelemetry` layer that gives them ids and exports them; without it these
//! functions do nothing and return `None`.
//!
//! Depends on no crate of ours. The adapters must not depend on it: they forward the
//! `traceparent` they are given and record HTTP attributes on the current span with
//! plain `tracing` (the fields declared by [`agency_call`]).
//!
//! Layout: this file — parsing and formatting `traceparent`, parent, link, ids, error
//! status; `spans` — the span constructors and their field names.

#![forbid(unsafe_code)]

mod spans;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use spans::{
    accept, agency_call, callback, composite_decision, consumer, http_server, notification,
    producer,
};

/// The header and field name of W3C trace context (<https://www.w3.org/TR/trace-context/>).
pub const TRACEPARENT: &str = "traceparent";

/// A `traceparent` value (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`) as a
/// remote span context; `None` when it is malformed, has an all-zero id or an unknown
/// version layout. Version `ff` is invalid; higher versions are read as `00` if they
/// start the same way, as the recommendation asks.
pub fn parse(traceparent: &str) -> Option<SpanContext> {
    let value = traceparent.trim();
    let mut parts = value.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !lower_hex(version, 2) || version == "ff" || (version == "00" && parts.next().is_some()) {
        return None;
    }
    if !lower_hex(trace_id, 32) || !lower_hex(span_id, 16) || !lower_hex(flags, 2) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let context = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags & TraceFlags::SAMPLED.to_u8()),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

/// The `traceparent` of a span context; `None` for an invalid one.
pub fn format(context: &SpanContext) -> Option<String> {
    context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            context.trace_id(),
            context.span_id(),
            context.trace_flags().to_u8()
        )
    })
}

/// Makes the span described by `traceparent` the parent of `span`; without a valid one
/// the span starts a new trace (or stays the child of the current span). Must be called
/// before `span` is entered. Returns whether a parent was set.
pub fn set_parent(span: &Span, traceparent: Option<&str>) -> bool {
    let Some(remote) = traceparent.and_then(parse) else {
        return false;
    };
    let parent = opentelemetry::Context::new().with_remote_span_context(remote);
    span.set_parent(parent).is_ok()
}

/// Adds a link from `span` to the span of `traceparent` (a span in another trace, or
/// one that caused this one without being its parent).
pub fn link(span: &Span, traceparent: Option<&str>) {
    if let Some(context) = traceparent.and_then(parse) {
        span.add_link(context);
    }
}

/// The `traceparent` that makes a new span a child of `span`: for the outbox row, the
/// AMQP headers, the agency's request. `None` without the OpenTelemetry layer.
pub fn traceparent(span: &Span) -> Option<String> {
    format(span.context().span().span_context())
}

/// The trace id of `span` in lowercase hex, as problem+json bodies, views and log lines
/// show it. `None` without the OpenTelemetry layer.
pub fn trace_id(span: &Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The trace id of a `traceparent` string.
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    parse(traceparent).map(|c| c.trace_id().to_string())
}

/// Records `span`'s trace id in its `trace_id` field (declared by every span of this
/// crate that starts a unit of work), so that every log line written inside it names
/// the trace. Call after [`set_parent`].
pub fn record_trace_id(span: &Span) {
    if let Some(id) = trace_id(span) {
        span.record("trace_id", id.as_str());
    }
}

/// Marks `span` as failed (OpenTelemetry status ERROR) with a short description: never
/// a body, a credential or personal data.
pub fn set_error(span: &Span, description: &str) {
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_message", description);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
