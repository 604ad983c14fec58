//! The API's edge: how connections are taken and how long a client may take.
//!
//! `axum::serve` keeps a connection as long as the client wants: an idle connection
//! forever, a request line sent a byte a second never cut off, and as many connections
//! as there are file descriptors, after which `accept` fails and normal requests time
//! out (OWASP API4, found in issue 14). Here every connection is served by hyper's
//! HTTP/1 with:
//!
//! - a **header read timeout** ([`EdgeSettings::header_read_timeout`]): the request
//!   line and headers must arrive within it, counted from the first byte hyper waits
//!   for, which for a keep-alive connection is the end of the previous response, so
//!   it is also the **idle timeout**;
//! - a **header size limit** ([`EdgeSettings::max_header_bytes`]): `431` beyond it;
//! - a **body read timeout** ([`read_body`], a middleware): the whole body must arrive
//!   within [`EdgeSettings::body_read_timeout`] (`408`), and may not exceed the body
//!   limit (`413`, before more is read than the limit);
//! - a **connection cap** ([`EdgeSettings::max_connections`]): a connection beyond it
//!   is closed as soon as it is accepted, so the process keeps descriptors for its
//!   database, its broker and the clients it is serving.
//!
//! Shutdown stops accepting, lets requests in flight finish and closes idle
//! connections.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::Layer;

use crate::problem::{ApiError, ProblemKind};

/// How the API's listener treats clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSettings {
    /// Connections served at once; more are closed when accepted.
    pub max_connections: usize,
    /// The request line and headers must arrive within this long; also how long an
    /// idle keep-alive connection is kept.
    pub header_read_timeout: Duration,
    /// The largest request line and headers, in bytes (`431` beyond).
    pub max_header_bytes: usize,
    /// A request body must arrive whole within this long (`408` otherwise).
    pub body_read_timeout: Duration,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            body_read_timeout: Duration::from_secs(15),
        }
    }
}

/// hyper refuses a read buffer smaller than this (its `max_buf_size` panics below).
const MIN_BUFFER: usize = 8192;

/// Serves `router` on `listener` within `edge` until `shutdown`, then lets requests in
/// flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    edge: EdgeSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(edge.max_connections.max(1)));
    let http = http1(&edge);
    let graceful = GracefulShutdown::new();
    let mut refused = 0u64;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors (EMFILE) or the like: pause rather than spin; the
                // cap below keeps this for other programs' doing.
                tracing::warn!(%err, "cannot accept a connection; pausing");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            refuse(stream, refused, &edge);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // The client's address, as `into_make_service_with_connect_info` gives it (the
        // console's login limit counts failures per address).
        let service = Extension(ConnectInfo(peer)).layer(router.clone());
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's: a timeout, a reset, garbage.
            if let Err(err) = connection.await {
                tracing::debug!(%err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// HTTP/1.1 as the edge serves it: headers read within their timeout and size.
fn http1(edge: &EdgeSettings) -> hyper::server::conn::http1::Builder {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(edge.header_read_timeout)
        .max_header_size(edge.max_header_bytes)
        .max_buf_size(edge.max_header_bytes.max(MIN_BUFFER) + MIN_BUFFER);
    http
}

/// Closes a connection over the cap; the first and every thousandth are logged, all
/// counted.
fn refuse(stream: tokio::net::TcpStream, refused: u64, edge: &EdgeSettings) {
    if refused == 1 || refused.is_multiple_of(1000) {
        tracing::warn!(
            max_connections = edge.max_connections,
            refused,
            "too many open connections; closing new ones"
        );
    }
    rabt_metrics::metrics().connection_refused();
    drop(stream);
}

/// The body limit and timeout the [`read_body`] middleware applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    pub(crate) max_bytes: usize,
    pub(crate) timeout: Duration,
}

/// Middleware: reads a request's body whole, within the size limit and the body read
/// timeout, before the handler runs; a client trickling its body is answered `408` and
/// its connection closed; one sending more than the limit `413` (a `Content-Length`
/// above it is refused before anything is read).
pub(crate) async fn read_body(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return closing(ApiError::new(ProblemKind::PayloadTooLarge));
    }
    let (parts, body) = request.into_parts();
    let read = axum::body::to_bytes(body, limits.max_bytes);
    let bytes = match tokio::time::timeout(limits.timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(err)) if is_too_large(&err) => {
            return closing(ApiError::new(ProblemKind::PayloadTooLarge));
        }
        // The client broke the body off, or sent a malformed chunk: nothing to answer
        // that it will read, but say so.
        Ok(Err(_)) => {
            return closing(ApiError::new(ProblemKind::MalformedJson).detail(
                "the request body could not be read",
                "تعذرت قراءة محتوى الطلب",
            ));
        }
        Err(_) => {
            return closing(ApiError::new(ProblemKind::RequestTimeout).detail(
                format!(
                    "the request body did not arrive within {} s",
                    limits.timeout.as_secs()
                ),
                format!("لم يصل محتوى الطلب خلال {} ثانية", limits.timeout.as_secs()),
            ));
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether reading a body failed on the length limit.
fn is_too_large(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The problem, with the connection closed after it: the rest of the body is not read.
/// (A header of the problem, so that rendering it in the caller's language keeps it.)
fn closing(error: ApiError) -> Response {
    error.header(CONNECTION.as_str(), "close").into_response()
}
