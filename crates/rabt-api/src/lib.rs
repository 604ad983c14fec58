//! Rabt's HTTP face: the REST API cooperatives call (`/v1/requests`, `/v1/services`),
//! the operator API (`/ops/v1`), health and readiness probes, and the OpenAPI document.
//!
//! The API never calls an agency: it validates, stores the request with its tasks and
//! outbox rows in one transaction, and (with `Prefer: wait`) waits for the completion
//! event. It depends on the store, the queue (for readiness and events) and the
//! catalogue, never on adapters.
//!
//! Layout:
//! - [`app`] builds the router; [`serve`] runs it on a listener until shutdown, within
//!   the [`edge`]'s limits (timeouts, header size, connection cap).
//! - `requests`: create, get and list requests; `envelope`: the request body; [`json`]:
//!   reading a body strictly (duplicate keys, NUL, depth and length limits);
//!   `idempotency`: keys and body digests; `wait`: `Prefer: wait`; `query`: list
//!   parameters; `view`: the JSON of requests.
//! - `services`: the catalogue as this caller sees it; `openapi`: the OpenAPI document.
//! - `callbacks`: agencies' signed callbacks.
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
use tracing::Level;

pub mod auth;
mod callbacks;
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
mod view;
mod wait;

pub use state::{ApiSettings, AppState};
pub use wait::Waiters;

/// The router of the API.
pub fn app(state: AppState) -> Router {
    let body_limit = state.settings().body_limit;
    let body = edge::BodyLimits {
        max_bytes: body_limit,
        timeout: state.settings().edge.body_read_timeout,
    };
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
        .route("/v1/services", get(services::list).route_layer(limited()))
        .route(
            "/v1/services/{name}",
            get(services::get).route_layer(limited()),
        )
        .route("/v1/callbacks/{agency}", post(callbacks::receive))
        .route("/openapi.json", get(openapi::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::handler))
        .merge(ops::routes())
        .route_layer(middleware::from_fn(metrics::record))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(body, edge::read_body))
        .layer(middleware::from_fn(problem::localize))
        // A 5xx is logged where it arises, with its cause (a store failure, an unready
        // broker); the trace layer's own line for it would be a context-free ERROR on
        // every /readyz poll during an outage.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then lets in-flight
/// requests finish. Also forwards completion events to `Prefer: wait` waiters.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let events = tokio::spawn(forward_completions(
        state.transport().clone(),
        state.waiters().clone(),
        shutdown.clone(),
    ));
    let edge = state.settings().edge;
    let result = edge::serve(listener, app(state), edge, shutdown.clone()).await;
    shutdown.cancel();
    let _ = events.await;
    result
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
