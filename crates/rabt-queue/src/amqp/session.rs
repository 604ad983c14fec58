//! One connection's life ([`Session`]) and the reconnect loop that replaces it.
//!
//! lapin's own recovery is left off: it is opt-in, never recovers after a broker
//! restart (lapin#450) and can leave a silent consumer on a half-closed socket
//! (lapin#283). Instead each connection is a session with a generation number; when it
//! dies the supervisor connects again with capped, jittered backoff, re-declares the
//! topology and publishes the new session, and every consumer re-opens on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties, Event};
use tokio::sync::{Mutex, MutexGuard};

use super::{Shared, node_name, topology};
use crate::backoff;
use crate::error::QueueError;
use crate::settings::Settings;

/// Publisher channels per connection. Confirms are matched to batches per channel, so a
/// channel carries one batch at a time; a few of them let concurrent callers overlap.
const PUBLISHER_CHANNELS: usize = 4;
/// Connecting plus declaring the topology must finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the supervisor checks the connection's state. lapin does not always emit
/// an error event (e.g. when the broker closes the connection), so it also polls.
const LIVENESS_POLL: Duration = Duration::from_millis(250);

/// One AMQP connection with its publisher channels.
pub(crate) struct Session {
    /// Increases with every connection; deliveries remember theirs, so nothing is ever
    /// acked on a connection other than the one it came from.
    pub(crate) generation: u64,
    pub(crate) connection: Connection,
    publishers: Vec<Mutex<Option<Channel>>>,
    next_publisher: AtomicUsize,
}

impl Session {
    /// True while the connection is open.
    pub(crate) fn is_alive(&self) -> bool {
        self.connection.status().connected()
    }

    /// A publisher channel slot, for one batch: a free one if any, else the next in
    /// turn. The slot holds `None` until a channel is opened in it (or after one failed).
    pub(crate) async fn publisher(&self) -> MutexGuard<'_, Option<Channel>> {
        for slot in &self.publishers {
            if let Ok(guard) = slot.try_lock() {
                return guard;
            }
        }
        let turn = self.next_publisher.fetch_add(1, Ordering::Relaxed) % self.publishers.len();
        self.publishers[turn].lock().await
    }
}

/// Connects to one node of `uris`, trying them in turn from `start` (each once), and
/// returns its index with the new session; the last node's error if none answers. A
/// node that was never reachable, or went away, costs one failed connect.
pub(crate) async fn open_any(
    uris: &[AMQPUri],
    start: usize,
    settings: &Settings,
    generation: u64,
) -> Result<(usize, Session), QueueError> {
    let mut last = QueueError::NotConnected;
    for offset in 0..uris.len() {
        let index = (start + offset) % uris.len();
        match open(&uris[index], settings, generation).await {
            Ok(session) => return Ok((index, session)),
            Err(error) => {
                if uris.len() > 1 {
                    tracing::warn!(node = %node_name(&uris[index]), error = %error, "cannot connect to this RabbitMQ node; trying the next");
                }
                last = error;
            }
        }
    }
    Err(last)
}

/// Connects, declares the whole topology and returns the new session.
pub(crate) async fn open(
    uri: &AMQPUri,
    settings: &Settings,
    generation: u64,
) -> Result<Session, QueueError> {
    let attempt = async {
        let properties = ConnectionProperties::default()
            // Names the connection in the management UI, so an operator can tell
            // Rabt's processes apart.
            .with_connection_name(format!("rabt pid {}", std::process::id()).into());
        let connection = Connection::connect_uri(uri.clone(), properties).await?;
        let channel = connection.create_channel().await?;
        topology::declare_all(&channel, settings).await?;
        // Closing is a courtesy; the channel closes with the connection anyway.
        let _ = channel.close(200, "OK".into()).await;
        Ok::<_, QueueError>(connection)
    };
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| QueueError::Timeout {
            operation: "connecting to RabbitMQ and declaring the topology",
            after: CONNECT_TIMEOUT,
        })??;
    Ok(Session {
        generation,
        connection,
        publishers: (0..PUBLISHER_CHANNELS).map(|_| Mutex::new(None)).collect(),
        next_publisher: AtomicUsize::new(0),
    })
}

/// The reconnect loop: watches the current session and replaces it when it dies, until
/// the transport is closed.
pub(crate) async fn supervise(shared: Arc<Shared>) {
    loop {
        if let Some(session) = shared.current() {
            tokio::select! {
                () = shared.shutdown.cancelled() => return,
                () = wait_until_lost(&session) => {}
            }
            shared.sessions.send_replace(None);
            tracing::warn!(
                generation = session.generation,
                node = %node_name(&shared.uris[shared.node.load(Ordering::SeqCst)]),
                "connection to RabbitMQ lost; reconnecting"
            );
        }
        let Some(session) = reconnect(&shared).await else {
            return;
        };
        if shared.shutdown.is_cancelled() {
            // close() ran while this connection was being made: it must not outlive it.
            let _ = session.connection.close(200, "OK".into()).await;
            return;
        }
        tracing::info!(
            generation = session.generation,
            node = %node_name(&shared.uris[shared.node.load(Ordering::SeqCst)]),
            "reconnected to RabbitMQ"
        );
        shared.sessions.send_replace(Some(Arc::new(session)));
    }
}

/// Connects until it works; `None` when the transport is closed meanwhile.
async fn reconnect(shared: &Shared) -> Option<Session> {
    let mut attempt = 0u32;
    loop {
        let generation = shared.next_generation();
        // The node after the one just lost first: it is likely still down.
        let start = shared.node.load(Ordering::SeqCst) + 1;
        tokio::select! {
            () = shared.shutdown.cancelled() => return None,
            opened = open_any(&shared.uris, start, &shared.settings, generation) => match opened {
                Ok((node, session)) => {
                    shared.node.store(node % shared.uris.len(), Ordering::SeqCst);
                    return Some(session);
                }
                Err(error) => tracing::warn!(
                    error = %error,
                    attempt,
                    "reconnecting to RabbitMQ failed; will retry"
                ),
            },
        }
        tokio::select! {
            () = shared.shutdown.cancelled() => return None,
            () = tokio::time::sleep(backoff::delay(attempt)) => {}
        }
        attempt = attempt.saturating_add(1);
    }
}

/// Returns once the session's connection is no longer usable: an error event (missed
/// heartbeats, socket errors) or a state other than connected (closed by the broker).
async fn wait_until_lost(session: &Session) {
    let mut events = session.connection.events_listener();
    let mut poll = tokio::time::interval(LIVENESS_POLL);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Error(error)) => {
                    tracing::warn!(error = %error, "RabbitMQ connection error");
                    return;
                }
                Some(_) => {}
                None => return,
            },
            _ = poll.tick() => {
                if !session.is_alive() {
                    return;
                }
            }
        }
    }
}
