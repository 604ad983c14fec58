//! The spans of one request's work, with OpenTelemetry's semantic conventions
//! (<https://opentelemetry.io/docs/specs/semconv/>): HTTP for the API and the agencies,
//! messaging for RabbitMQ. `otel.name` and `otel.kind` are read by
//! `tracing-opentelemetry` as the span's name and kind; fields declared `Empty` are
//! recorded later (the answer's status, the outcome, the trace id). Numbers are given
//! and recorded as `i64`: `tracing-opentelemetry` turns unsigned ones into text.
//!
//! Attributes never hold personal data: ids, names of agencies and services, hosts,
//! statuses — no body, no query string, no national ID.

use tracing::Span;
use tracing::field::Empty;

/// The HTTP server span of one API call: `POST /v1/requests`. Its parent is the
/// caller's `traceparent` when it sent a valid one; otherwise it starts a new trace.
/// Record `http.response.status_code` (and [`crate::set_error`] on a 5xx) when the
/// answer is known.
pub fn http_server(
    method: &str,
    route: Option<&str>,
    path: &str,
    traceparent: Option<&str>,
) -> Span {
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let span = tracing::info_span!(
        "http.server",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_message = Empty,
        http.request.method = %method,
        http.route = route,
        url.path = %path,
        url.scheme = "http",
        http.response.status_code = Empty,
        trace_id = Empty,
    );
    crate::set_parent(&span, traceparent);
    crate::record_trace_id(&span);
    span
}

/// The accept transaction of `POST /v1/requests`: the request, its tasks, the
/// idempotency record, the outbox rows and the audit entries in one transaction. The
/// outbox rows carry this span's context, so every publish of the request's tasks is
/// its child.
pub fn accept(request: &str, service: &str) -> Span {
    tracing::info_span!(
        "accept",
        otel.name = "accept request",
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_message = Empty,
        rabt.request.id = %request,
        rabt.service = %service,
        db.operation.name = "accept",
    )
}

/// A PRODUCER span per message published: `publish rabt.tasks`, child of the span that
/// wrote the outbox row (`traceparent`). Its own context goes into the message's
/// `traceparent` header.
pub fn producer(
    exchange: &str,
    routing_key: &str,
    message_id: &str,
    traceparent: Option<&str>,
) -> Span {
    let span = tracing::info_span!(
        "messaging.publish",
        otel.name = %format!("publish {exchange}"),
        otel.kind = "producer",
        otel.status_code = Empty,
        otel.status_message = Empty,
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = %exchange,
        messaging.rabbitmq.destination.routing_key = %routing_key,
        messaging.message.id = %message_id,
    );
    crate::set_parent(&span, traceparent);
    span
}

/// A CONSUMER span per delivery processed: `process rabt.tasks`, child of the PRODUCER
/// span whose context the message carries (`traceparent`); a message without one (a
/// poison message) starts a trace of its own.
pub fn consumer(
    exchange: &str,
    queue: &str,
    routing_key: &str,
    message_id: Option<&str>,
    delivery_count: u32,
    traceparent: Option<&str>,
) -> Span {
    let span = tracing::info_span!(
        "messaging.process",
        otel.name = %format!("process {exchange}"),
        otel.kind = "consumer",
        otel.status_code = Empty,
        otel.status_message = Empty,
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %exchange,
        messaging.destination.subscription.name = %queue,
        messaging.rabbitmq.destination.routing_key = %routing_key,
        messaging.message.id = message_id,
        messaging.message.delivery_count = i64::from(delivery_count),
        rabt.task.id = Empty,
        trace_id = Empty,
    );
    crate::set_parent(&span, traceparent);
    crate::record_trace_id(&span);
    span
}

/// A CLIENT span per agency call (one attempt of a task), child of the current span
/// (the delivery being processed). The adapter records the HTTP attributes declared here
/// on the current span with plain `tracing` — `http.request.method`, `server.address`,
/// `server.port`, `url.scheme`, `http.response.status_code` — and the worker records
/// `rabt.outcome` (OK, NOT_FOUND, …, SUBMITTED, or the failure's kind).
pub fn agency_call(agency: &str, service: &str, task: &str, attempt: u32) -> Span {
    tracing::info_span!(
        "agency.call",
        otel.name = %format!("call {agency}"),
        otel.kind = "client",
        otel.status_code = Empty,
        otel.status_message = Empty,
        rabt.agency = %agency,
        rabt.service = %service,
        rabt.task.id = %task,
        rabt.attempt = i64::from(attempt),
        rabt.outcome = Empty,
        // Semantic conventions count resends of one request: attempt 1 is no resend.
        http.request.resend_count = i64::from(attempt.saturating_sub(1)),
        http.request.method = Empty,
        server.address = Empty,
        server.port = Empty,
        url.scheme = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
    )
}

/// An agency callback received for a task: child of the task's request trace
/// (`traceparent`, the context stored with the request), linked to the HTTP server span
/// it arrived in (`http`), which belongs to the agency's trace or a new one.
pub fn callback(
    agency: &str,
    callback: &str,
    task: &str,
    traceparent: Option<&str>,
    http: Option<&str>,
) -> Span {
    let span = tracing::info_span!(
        "callback",
        otel.name = %format!("callback {agency}"),
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_message = Empty,
        rabt.agency = %agency,
        rabt.callback.id = %callback,
        rabt.task.id = %task,
    );
    if crate::set_parent(&span, traceparent) {
        crate::link(&span, http);
    }
    span
}

/// A notification to a cooperative's `notify_url`: a CLIENT span (HTTP POST), child of
/// the request's trace (`traceparent`).
pub fn notification(
    notification: &str,
    request: &str,
    attempt: u32,
    traceparent: Option<&str>,
) -> Span {
    let span = tracing::info_span!(
        "notification.send",
        otel.name = "POST",
        otel.kind = "client",
        otel.status_code = Empty,
        otel.status_message = Empty,
        http.request.method = "POST",
        server.address = Empty,
        http.response.status_code = Empty,
        http.request.resend_count = i64::from(attempt.saturating_sub(1)),
        rabt.notification.id = %notification,
        rabt.request.id = %request,
        trace_id = Empty,
    );
    crate::set_parent(&span, traceparent);
    crate::record_trace_id(&span);
    span
}

/// A composite's decision after one of its checks completed: which waiting checks are
/// released and which skipped. Child of the current span (the delivery or callback
/// that completed the check); record `rabt.released` and `rabt.skipped`. A check's
/// answer and the decision it leads to are one transaction, so this span covers the
/// recording of every answer to a composite's check (both counts zero when it decided
/// nothing); a decision made apart (after a redelivery or a timeout) has its own.
pub fn composite_decision(request: &str) -> Span {
    tracing::info_span!(
        "composite.decide",
        otel.name = "decide composite",
        otel.kind = "internal",
        otel.status_code = Empty,
        otel.status_message = Empty,
        rabt.request.id = %request,
        rabt.released = Empty,
        rabt.skipped = Empty,
    )
}
