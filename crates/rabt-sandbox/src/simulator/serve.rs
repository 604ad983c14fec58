//! Serving a simulator on a port of its own, and stopping it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::serve::Listener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[cfg(doc)]
use super::Fault;

/// How long [`ShutdownHandle::shutdown`] waits for the server to close before it
/// aborts it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Stops a spawned simulator: [`ShutdownHandle::shutdown`] gracefully, or by dropping
/// the handle. Either way, calls still in flight (one hanging under
/// [`Fault::Timeout`], say) are answered 503 at once rather than held for the hour.
#[derive(Debug)]
pub struct ShutdownHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
}

impl ShutdownHandle {
    /// Stops accepting calls, cuts the ones in flight, and waits (briefly) for the
    /// server to close.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for ShutdownHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        self.task.abort();
    }
}

/// Serves `router` on `127.0.0.1` at a port the system picks.
pub async fn spawn(router: Router) -> io::Result<(SocketAddr, ShutdownHandle)> {
    spawn_at(SocketAddr::from(([127, 0, 0, 1], 0)), router).await
}

/// Serves `router` at `addr` (for `rabt simulate`, which puts each agency on a known
/// port).
pub async fn spawn_at(
    addr: SocketAddr,
    router: Router,
) -> io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, router)
}

/// Serves `router` on any axum [`Listener`]: a TLS listener, for the simulator of an
/// agency that requires mutual TLS, where [`spawn_at`] serves plain TCP. Must be called
/// within a Tokio runtime; the returned handle stops the server as [`spawn_at`]'s does.
pub fn serve_on<L>(listener: L, router: Router) -> io::Result<(L::Addr, ShutdownHandle)>
where
    L: Listener,
    L::Addr: fmt::Debug,
{
    let local = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    // axum runs each connection in a task of its own, out of our reach, and a graceful
    // shutdown waits for in-flight calls: race every call against the stop signal so
    // that a hanging call ends when the simulator does.
    let on_stop = stopped.clone();
    let router = router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let mut stopped = on_stop.clone();
            async move {
                tokio::select! {
                    response = next.run(request) => response,
                    _ = stopped.wait_for(|stop| *stop) => {
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    }
                }
            }
        },
    ));
    let task = tokio::spawn(async move {
        let mut stopped = stopped;
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                // An error means the handle is gone, which also means stop.
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok((local, ShutdownHandle { stop, task }))
}
