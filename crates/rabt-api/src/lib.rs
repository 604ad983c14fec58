//! Rabt's HTTP face: the REST API cooperatives call (`/v1/requests`, `/v1/services`),
//! the operator API (`/ops/v1`), health and readiness probes, and the OpenAPI document.
//!
//! The API never calls an agency: it validates, stores the request with its tasks and
//! outbox rows in one transaction, and (with `Prefer: wait`) waits for the completion
//! event. It depends on the store, the queue (for readiness and events) and the
//! catalogue, never on adapters.
//!
//! Layout:
//! - [`app`] builds the public router (`api.listen`), [`ops_app`] the operators' one
//!   (`api.ops_listen`: `/ops/v1`, `/metrics`, the console); [`serve`] runs them until
//!   shutdown, within the [`edge`]'s limits (timeouts, header size, connection cap).
//! - `requests`: create, get and list requests; `envelope`: the request body; [`json`]:
//!   reading a body strictly (duplicate keys, NUL, depth and length limits);
//!   `idempotency`: keys and body digests; `wait`: `Prefer: wait`; `query`: list
//!   parameters; `view`: the JSON of requests.
//! - `services`: the catalogue as this caller sees it; `openapi`: the OpenAPI document.
//! - `callbacks`: agencies' signed callbacks.
//! - `audit`: the sealed audit log — checkpoint, key, consistency proofs and a
//!   request's evidence; `subjects`: keyed digests of the people a request concerns.
//! - [`ops`]: the operator API (dead letters), with operator tokens and roles.
//! - [`limits`]: cooperatives' rate limits and daily quotas, across api processes.
//! - [`auth`]: API keys; [`problem`]: RFC 9457 errors in Arabic and English; `lang`:
//!   `Accept-Language`; `health`: probes; [`state`]: what handlers share.

#![forbid(unsafe_code)]

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use rabt_core::{Event, EventV1};
use rabt_queue::Transport;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::{Level, Span};

mod audit;
pub mod auth;
mod callbacks;
mod console;
pub mod edge;
mod envelope;
mod fanout;
mod health;
mod idempotency;
pub mod json;
mod lang;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod problem;
mod query;
mod requests;
mod services;
pub mod state;
mod subjects;
mod view;
mod wait;

pub use state::{ApiSettings, AppState};
pub use wait::Waiters;

/// The public router, on `api.listen`: the REST API cooperatives and agencies call,
/// the OpenAPI document and the probes.
pub fn app(state: AppState) -> Router {
    layered(public_routes(&state), state)
}

/// The operators' router, on `api.ops_listen`: the operator API and `/metrics`. It is
/// kept off the public listener so that the port the internet reaches has no operator
/// surface at all (X-Road serves its admin UI on a port of its own).
pub fn ops_app(state: AppState) -> Router {
    layered(ops_routes(), state)
}

/// Both routers on one listener, for a deployment that set `api.ops_listen` equal to
/// `api.listen`.
pub fn combined_app(state: AppState) -> Router {
    layered(public_routes(&state).merge(ops_routes()), state)
}

fn public_routes(state: &AppState) -> Router<AppState> {
    // Every call of a cooperative counts against its rate limit (crate::limits); on the
    // method routers, so that a wrong method is still a 405 before any key is checked.
    let limited = || middleware::from_fn_with_state(state.clone(), limits::enforce);
    Router::new()
        .route(
            "/v1/requests",
            get(requests::list)
                .post(requests::create)
                .route_layer(limited()),
        )
        .route(
            "/v1/requests/{id}",
            get(requests::get).route_layer(limited()),
        )
        .route(
            "/v1/requests/{id}/evidence",
            get(audit::evidence).route_layer(limited()),
        )
        // The sealed log's public face: no key needed, nothing per cooperative.
        .route("/v1/audit/checkpoint", get(audit::checkpoint))
        .route("/v1/audit/key", get(audit::key))
        .route("/v1/audit/consistency", get(audit::consistency))
        .route("/v1/services", get(services::list).route_layer(limited()))
        .route(
            "/v1/services/{name}",
            get(services::get).route_layer(limited()),
        )
        .route("/v1/callbacks/{agency}", post(callbacks::receive))
        .route("/openapi.json", get(openapi::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}

fn ops_routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics::handler))
        .merge(ops::routes())
        .merge(console::routes())
}

/// The layers every route gets: metrics by route, the body limit and read timeout,
/// localized problems and request tracing.
fn layered(router: Router<AppState>, state: AppState) -> Router {
    let body_limit = state.settings().body_limit;
    let body = edge::BodyLimits {
        max_bytes: body_limit,
        timeout: state.settings().edge.body_read_timeout,
    };
    router
        .route_layer(middleware::from_fn(metrics::record))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(body, edge::read_body))
        .layer(middleware::from_fn(problem::localize))
        // A 5xx is logged where it arises, with its cause (a store failure, an unready
        // broker); the trace layer's own line for it would be a context-free ERROR on
        // every /readyz poll during an outage.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(http_span)
                .on_response(record_status)
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .with_state(state)
}

/// The HTTP server span of a call (rabt-trace): named by the matched route, never the
/// raw path, and continuing the caller's `traceparent` when it sent a valid one.
fn http_span<B>(request: &axum::http::Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str());
    // Two of them is no trace context at all (W3C Trace Context: the caller's is
    // ambiguous); an invalid one is dropped by rabt_trace.
    let mut values = request.headers().get_all(rabt_trace::TRACEPARENT).iter();
    let traceparent = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    };
    rabt_trace::http_server(
        request.method().as_str(),
        route,
        request.uri().path(),
        traceparent,
    )
}

/// Records the answer's status on the HTTP server span; a 5xx marks it failed.
fn record_status<B>(response: &axum::http::Response<B>, _latency: Duration, span: &Span) {
    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        rabt_trace::set_error(span, status.canonical_reason().unwrap_or("server error"));
    }
}

/// Where the API listens.
#[derive(Debug)]
pub struct Listeners {
    /// `api.listen`: the public REST API.
    pub api: TcpListener,
    /// `api.ops_listen`; `None` when it is the same address, and `api` serves both.
    pub ops: Option<TcpListener>,
}

/// Serves the API on its listeners until `shutdown` resolves, then lets in-flight
/// requests finish. Also forwards completion events to `Prefer: wait` waiters.
pub async fn serve(
    listeners: Listeners,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let events = tokio::spawn(forward_completions(
        state.transport().clone(),
        state.waiters().clone(),
        shutdown.clone(),
    ));
    // Each listener has the edge's limits, and a connection cap of its own: a flood of
    // connections to the public port leaves the operators theirs.
    let edge = state.settings().edge;
    let ops = listeners.ops.map(|listener| {
        tokio::spawn(edge::serve(
            listener,
            ops_app(state.clone()),
            edge,
            shutdown.clone(),
        ))
    });
    let public = match ops {
        Some(_) => app(state),
        None => combined_app(state),
    };
    let result = edge::serve(listeners.api, public, edge, shutdown.clone()).await;
    shutdown.cancel();
    let ops_result = match ops {
        Some(handle) => handle
            .await
            .unwrap_or_else(|err| Err(std::io::Error::other(err))),
        None => Ok(()),
    };
    let _ = events.await;
    result.and(ops_result)
}

/// Wakes waiters when their request completes: subscribes to `request.completed.#` on
/// `rabt.events` and re-subscribes after a broker outage.
pub async fn forward_completions(
    transport: Transport,
    waiters: Waiters,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match transport.subscribe_events("request.completed.#").await {
            Ok(mut subscription) => {
                backoff = Duration::from_millis(200);
                loop {
                    let next = tokio::select! {
                        () = shutdown.cancelled() => return,
                        next = subscription.next() => next,
                    };
                    let Some(body) = next else { break };
                    match serde_json::from_slice::<Event>(&body) {
                        Ok(Event::V1(EventV1::RequestCompleted { request, .. })) => {
                            waiters.notify(request)
                        }
                        Err(err) => tracing::warn!(%err, "undecodable event on rabt.events"),
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "cannot subscribe to completion events; retrying"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
