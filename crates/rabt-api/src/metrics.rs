//! `GET /metrics`: the process's Prometheus figures (see `rabt-metrics`), with the
//! queue depths measured at scrape time, and the middleware that counts every answered
//! request by its matched route.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rabt_metrics::metrics;
use rabt_queue::Transport;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::AppState;

/// How long a scrape waits for the broker's queue depths before answering without
/// them: a scrape during a broker outage must still answer, promptly.
const DEPTH_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn handler(State(state): State<AppState>) -> Response {
    scrape(state.transport()).await
}

/// Serves `/metrics` alone on `listener` until `shutdown`, for processes that serve no
/// API (worker-only `rabt serve` with `worker.metrics_listen`).
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let transport = transport.clone();
            async move { scrape(&transport).await }
        }),
    );
    // The same edge as the API's: an unauthenticated port needs its timeouts and cap.
    crate::edge::serve(
        listener,
        app,
        crate::edge::EdgeSettings::default(),
        shutdown,
    )
    .await
}

async fn scrape(transport: &Transport) -> Response {
    measure_queues(transport).await;
    (
        [(CONTENT_TYPE, rabt_metrics::CONTENT_TYPE)],
        metrics().encode(),
    )
        .into_response()
}

/// How long measured queue depths are shown before the broker is asked again: scrapes
/// are unauthenticated, and each measurement opens a broker channel.
pub const DEPTH_CACHE: Duration = Duration::from_secs(5);

/// When the depths were last measured (or tried). One lock for the process: concurrent
/// scrapes wait for the measurement in progress instead of asking the broker too.
static LAST_MEASURED: tokio::sync::Mutex<Option<Instant>> = tokio::sync::Mutex::const_new(None);

/// Sets the queue-depth gauges from the broker, at most every [`DEPTH_CACHE`]. A queue
/// that cannot be measured keeps its last value; the broker's own metrics and `/readyz`
/// say when it is down.
async fn measure_queues(transport: &Transport) {
    let mut last = LAST_MEASURED.lock().await;
    if last.is_some_and(|at| at.elapsed() < DEPTH_CACHE) {
        return;
    }
    *last = Some(Instant::now());
    match tokio::time::timeout(DEPTH_TIMEOUT, transport.depths()).await {
        Ok(Ok(depths)) => {
            let m = metrics();
            for (agency, depth) in depths {
                m.queue_depth(&rabt_queue::task_queue(agency), u64::from(depth.ready));
                m.queue_depth(&rabt_queue::dead_queue(agency), u64::from(depth.dead));
            }
        }
        Ok(Err(err)) => tracing::debug!(error = %err, "cannot measure queue depths"),
        Err(_) => tracing::debug!("queue depths took too long to measure; scraped without them"),
    }
}

/// Counts an answered request by method, matched route template and status.
pub(crate) async fn record(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics().http_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
