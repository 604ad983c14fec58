//! The RabbitMQ transport: the only place in Rabt that names lapin.
//!
//! Layout:
//! - [`session`]: one connection's life and the reconnect loop;
//! - [`topology`]: exchanges, queues, bindings and their arguments;
//! - [`publish`]: batches with publisher confirms and `mandatory`;
//! - [`consume`]: consumers and event subscriptions that survive reconnects;
//! - [`settle`]: acks, requeues and dead letters on the delivery's own channel;
//! - [`headers`]: our string headers and AMQP field tables.

mod consume;
mod headers;
mod publish;
mod session;
mod settle;
mod topology;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use rabt_core::Agency;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::QueueDepth;
use crate::error::QueueError;
use crate::message::{Delivery, OutgoingMessage, delayed_agency};
use crate::names::{dead_queue, retry_queue, task_queue};
use crate::settings::Settings;

pub(crate) use consume::Feeder;
use session::Session;
pub(crate) use settle::AmqpSettle;

/// Lets a graceful connection close finish, but never holds `close()` for long.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many events may wait for a slow subscriber before the consumer task pauses.
const EVENT_BUFFER: usize = 1024;

/// State shared by the transport's clones, its supervisor and its consumer tasks.
pub(crate) struct Shared {
    /// The nodes of the cluster, in the order given. Hold the password: never logged
    /// (only [`node_name`]), never in a `Debug` output.
    uris: Vec<AMQPUri>,
    /// The index in `uris` of the node of the current (or last) session: a reconnect
    /// starts with the next one, so a node that went away is tried last.
    node: AtomicUsize,
    pub(crate) settings: Settings,
    /// The current session; `None` while reconnecting.
    sessions: watch::Sender<Option<Arc<Session>>>,
    generation: AtomicU64,
    /// Cancelled by `close()`: stops the supervisor and every consumer task.
    pub(crate) shutdown: CancellationToken,
}

impl Shared {
    pub(crate) fn current(&self) -> Option<Arc<Session>> {
        self.sessions.borrow().clone()
    }

    fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The current session if it is usable now; never waits.
    pub(crate) fn live_session(&self) -> Result<Arc<Session>, QueueError> {
        if self.shutdown.is_cancelled() {
            return Err(QueueError::Closed);
        }
        self.current()
            .filter(|s| s.is_alive())
            .ok_or(QueueError::NotConnected)
    }

    /// Waits for a usable session; `None` once `cancel` fires.
    pub(crate) async fn wait_session(&self, cancel: &CancellationToken) -> Option<Arc<Session>> {
        let mut sessions = self.sessions.subscribe();
        loop {
            let current = sessions.borrow_and_update().clone();
            if let Some(session) = current.filter(|s| s.is_alive()) {
                return Some(session);
            }
            tokio::select! {
                () = cancel.cancelled() => return None,
                changed = sessions.changed() => if changed.is_err() {
                    return None;
                },
            }
        }
    }
}

/// The broker URLs of `urls`, one node each, separated by commas (a comma inside a
/// password is written `%2C`). Fails on an empty list or a URL that does not parse;
/// the error never quotes a URL.
pub(crate) fn parse_urls(urls: &str, heartbeat: Duration) -> Result<Vec<AMQPUri>, QueueError> {
    // Heartbeats find a dead peer (or a half-open socket) within two intervals.
    let heartbeat = u16::try_from(heartbeat.as_secs()).unwrap_or(u16::MAX);
    let uris = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .enumerate()
        .map(|(n, url)| {
            let mut uri: AMQPUri = url
                .parse()
                .map_err(|e| QueueError::InvalidUrl(format!("broker URL {}: {e}", n + 1)))?;
            uri.query.heartbeat = Some(heartbeat);
            Ok(uri)
        })
        .collect::<Result<Vec<_>, QueueError>>()?;
    if uris.is_empty() {
        return Err(QueueError::InvalidUrl("no broker URL".to_owned()));
    }
    Ok(uris)
}

/// A node as logs name it: host and port, never the credentials or the vhost.
pub(crate) fn node_name(uri: &AMQPUri) -> String {
    format!("{}:{}", uri.authority.host, uri.authority.port)
}

/// Connects to the first node that answers, declares the topology and starts the
/// supervisor.
pub(crate) async fn connect(urls: &str, settings: Settings) -> Result<Arc<Shared>, QueueError> {
    let uris = parse_urls(urls, settings.heartbeat)?;
    let (node, first) = session::open_any(&uris, 0, &settings, 1).await?;
    let shared = Arc::new(Shared {
        uris,
        node: AtomicUsize::new(node),
        settings,
        sessions: watch::Sender::new(Some(Arc::new(first))),
        generation: AtomicU64::new(1),
        shutdown: CancellationToken::new(),
    });
    tokio::spawn(session::supervise(Arc::clone(&shared)));
    Ok(shared)
}

pub(crate) async fn publish(
    shared: &Shared,
    messages: &[OutgoingMessage],
) -> Result<(), QueueError> {
    let batch = messages
        .iter()
        .map(publish::prepare)
        .collect::<Result<Vec<_>, _>>()?;
    publish::publish(shared, &batch).await
}

/// Publishes to the agency's retry queue for the tier, through the default exchange;
/// the queue's TTL and dead-letter exchange bring it back to `rabt.tasks`.
pub(crate) async fn publish_delayed(
    shared: &Shared,
    message: &OutgoingMessage,
    delay: Duration,
) -> Result<(), QueueError> {
    let agency = delayed_agency(message)?;
    let tier = shared.settings.tier_for(delay).ok_or_else(|| {
        QueueError::InvalidSettings("publish_delayed needs at least one retry tier".to_owned())
    })?;
    let mut prepared = publish::prepare(message)?;
    prepared.exchange = "".into();
    prepared.routing_key = retry_queue(agency, tier).as_str().into();
    publish::publish(shared, &[prepared]).await
}

pub(crate) async fn consume(
    shared: &Arc<Shared>,
    agency: Agency,
    prefetch: u16,
    dead_letters: bool,
) -> Result<Feeder<Delivery>, QueueError> {
    let feed = consume::Tasks {
        agency,
        prefetch,
        dead_letters,
    };
    // Room for a whole prefetch window, so the broker's window is the only limit.
    consume::start(shared, feed, usize::from(prefetch).max(64)).await
}

pub(crate) async fn subscribe(
    shared: &Arc<Shared>,
    binding_key: &str,
) -> Result<Feeder<Vec<u8>>, QueueError> {
    crate::message::check_short("the binding key", binding_key)?;
    let feed = consume::Events {
        binding_key: binding_key.to_owned(),
    };
    consume::start(shared, feed, EVENT_BUFFER).await
}

pub(crate) fn is_ready(shared: &Shared) -> bool {
    shared.live_session().is_ok()
}

/// Ready-message counts of the agency's task, dead-letter and retry-tier queues
/// (passive declares: RabbitMQ answers with the ready count and the consumers).
pub(crate) async fn depth(shared: &Shared, agency: Agency) -> Result<QueueDepth, QueueError> {
    let mut depths = depths(shared, &[agency]).await?;
    depths
        .pop()
        .map(|(_, depth)| depth)
        .ok_or(QueueError::NotConnected)
}

/// The depths of `agencies`' task, dead-letter and retry-tier queues, through one
/// channel.
pub(crate) async fn depths(
    shared: &Shared,
    agencies: &[Agency],
) -> Result<Vec<(Agency, QueueDepth)>, QueueError> {
    let session = shared.live_session()?;
    let channel = session.connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut depths = Vec::with_capacity(agencies.len());
    for &agency in agencies {
        let tasks = channel
            .queue_declare(
                task_queue(agency).as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await?;
        let dead = channel
            .queue_declare(
                dead_queue(agency).as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await?;
        let mut retry = Vec::new();
        for tier in &shared.settings.retry_tiers {
            let name = crate::names::retry_queue(agency, *tier);
            let queue = channel
                .queue_declare(name.as_str().into(), passive, FieldTable::default())
                .await?;
            retry.push((*tier, queue.message_count()));
        }
        depths.push((
            agency,
            QueueDepth {
                ready: tasks.message_count(),
                dead: dead.message_count(),
                consumers: tasks.consumer_count(),
                retry,
            },
        ));
    }
    let _ = channel.close(200, "OK".into()).await;
    Ok(depths)
}

pub(crate) async fn close(shared: &Shared) {
    shared.shutdown.cancel();
    if let Some(session) = shared.sessions.send_replace(None) {
        let closing = session.connection.close(200, "OK".into());
        if let Ok(Err(error)) = tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
            tracing::debug!(error = %error, "closing the RabbitMQ connection");
        }
    }
}
