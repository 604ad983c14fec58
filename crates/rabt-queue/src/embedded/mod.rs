//! The in-process transport used by `rabt demo`: the same semantics as the RabbitMQ
//! topology, held in memory.
//!
//! - one FIFO queue per agency for tasks and one for its dead letters;
//! - publishing to `rabt.tasks` with a routing key that names no agency is
//!   [`QueueError::Unroutable`], as `mandatory` makes it on the broker;
//! - a delivery handed back (requeue, or dropped unsettled) returns to the head of its
//!   queue marked redelivered, its delivery count one higher; past the delivery limit it
//!   moves to the dead letters with the reason `delivery_limit`;
//! - `publish_delayed` waits the same retry tier the broker would, on a tokio timer;
//! - events go to every subscriber whose binding key matches (topic rules).
//!
//! Nothing survives the process: that is the point of the demo, and the database is the
//! source of truth anyway.

mod queue;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rabt_core::Agency;
use tokio::sync::{Notify, mpsc};

use crate::error::QueueError;
use crate::message::{OutgoingMessage, check_outgoing, delayed_agency};
use crate::names::{DEAD_EXCHANGE, EVENTS_EXCHANGE, TASKS_EXCHANGE, dead_queue, task_queue};
use crate::settings::Settings;
use crate::{DeadLetter, QueueDepth, topic};

pub(crate) use queue::{EmbeddedConsumer, EmbeddedSettle};

/// How many events a subscriber may fall behind before further events are dropped for
/// it: events are hints, and a stuck listener must not grow memory without bound.
const EVENT_BUFFER: usize = 1024;

/// A message at rest in an embedded queue.
#[derive(Clone)]
pub(crate) struct Stored {
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) message_id: String,
    pub(crate) redelivered: bool,
    pub(crate) delivery_count: u32,
    /// Set once the message is in a dead-letter queue.
    pub(crate) dead_reason: Option<String>,
}

impl Stored {
    fn from_outgoing(message: &OutgoingMessage) -> Self {
        Stored {
            body: message.body.clone(),
            headers: message.headers.clone(),
            message_id: message.message_id.clone(),
            redelivered: false,
            delivery_count: 0,
            dead_reason: None,
        }
    }
}

struct Subscriber {
    binding_key: String,
    sender: mpsc::Sender<Vec<u8>>,
}

#[derive(Default)]
struct State {
    closed: bool,
    /// Task and dead-letter queues, by their broker names.
    queues: HashMap<String, VecDeque<Stored>>,
    subscribers: Vec<Subscriber>,
}

/// The in-process broker behind [`crate::Transport::embedded`].
pub(crate) struct Broker {
    settings: Settings,
    state: Mutex<State>,
    /// Woken on every change a waiting consumer may care about (a message queued, a
    /// delivery settled, the broker closed); consumers then look again.
    changed: Notify,
}

impl Broker {
    /// The settings it runs with.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn new(settings: Settings) -> Arc<Broker> {
        let mut state = State::default();
        for agency in Agency::ALL {
            state.queues.insert(task_queue(agency), VecDeque::new());
            state.queues.insert(dead_queue(agency), VecDeque::new());
        }
        Arc::new(Broker {
            settings,
            state: Mutex::new(state),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queues half-updated in a way
        // that matters more than losing the demo, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes every message; returns the first error after trying them all, as the
    /// broker delivers the routable messages of a batch that also holds a bad one.
    pub(crate) fn publish(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        let mut first_error = None;
        {
            let mut state = self.lock();
            if state.closed {
                return Err(QueueError::Closed);
            }
            for message in messages {
                let routed = check_outgoing(message).and_then(|()| route(&mut state, message));
                if let Err(e) = routed {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.changed.notify_waiters();
        first_error.map_or(Ok(()), Err)
    }

    /// Queues the task again after the retry tier the broker would use for `delay`.
    pub(crate) fn publish_delayed(
        self: &Arc<Self>,
        message: &OutgoingMessage,
        delay: Duration,
    ) -> Result<(), QueueError> {
        check_outgoing(message)?;
        let agency = delayed_agency(message)?;
        if self.lock().closed {
            return Err(QueueError::Closed);
        }
        let wait = self.settings.tier_for(delay).unwrap_or(delay);
        let stored = Stored::from_outgoing(message);
        let broker = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            {
                let mut state = broker.lock();
                if state.closed {
                    return;
                }
                if let Some(queue) = state.queues.get_mut(&task_queue(agency)) {
                    queue.push_back(stored);
                }
            }
            broker.changed.notify_waiters();
        });
        Ok(())
    }

    pub(crate) fn consume(
        self: &Arc<Self>,
        agency: Agency,
        prefetch: u16,
        dead_letters: bool,
    ) -> Result<EmbeddedConsumer, QueueError> {
        if self.lock().closed {
            return Err(QueueError::Closed);
        }
        Ok(EmbeddedConsumer::new(
            Arc::clone(self),
            agency,
            prefetch,
            dead_letters,
        ))
    }

    pub(crate) fn subscribe(
        &self,
        binding_key: &str,
    ) -> Result<mpsc::Receiver<Vec<u8>>, QueueError> {
        crate::message::check_short("the binding key", binding_key)?;
        let mut state = self.lock();
        if state.closed {
            return Err(QueueError::Closed);
        }
        let (sender, receiver) = mpsc::channel(EVENT_BUFFER);
        state.subscribers.push(Subscriber {
            binding_key: binding_key.to_owned(),
            sender,
        });
        Ok(receiver)
    }

    pub(crate) fn depth(&self, agency: Agency) -> Result<QueueDepth, QueueError> {
        let state = self.lock();
        let len = |name: String| {
            state
                .queues
                .get(&name)
                .map_or(0, |q| u32::try_from(q.len()).unwrap_or(u32::MAX))
        };
        Ok(QueueDepth {
            ready: len(task_queue(agency)),
            dead: len(dead_queue(agency)),
            consumers: 0,
            retry: Vec::new(),
        })
    }

    pub(crate) fn dead_letters(&self, agency: Agency) -> Vec<DeadLetter> {
        let state = self.lock();
        state
            .queues
            .get(&dead_queue(agency))
            .map(|queue| {
                queue
                    .iter()
                    .map(|m| DeadLetter {
                        message_id: m.message_id.clone(),
                        reason: m.dead_reason.clone().unwrap_or_default(),
                        body: m.body.clone(),
                        headers: m.headers.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn close(&self) {
        {
            let mut state = self.lock();
            state.closed = true;
            // Dropping the senders ends every subscription.
            state.subscribers.clear();
        }
        self.changed.notify_waiters();
    }
}

/// Puts one message where the broker would, or says why it cannot.
fn route(state: &mut State, message: &OutgoingMessage) -> Result<(), QueueError> {
    let queue_name = match message.exchange.as_str() {
        EVENTS_EXCHANGE => {
            broadcast(state, message);
            return Ok(());
        }
        TASKS_EXCHANGE => message.routing_key.parse().ok().map(task_queue),
        DEAD_EXCHANGE => message.routing_key.parse().ok().map(dead_queue),
        // The default exchange routes by queue name.
        "" => Some(message.routing_key.clone()),
        _ => None,
    };
    let queue = queue_name.and_then(|name| state.queues.get_mut(&name));
    match queue {
        Some(queue) => {
            let mut stored = Stored::from_outgoing(message);
            if message.exchange == DEAD_EXCHANGE {
                stored.dead_reason = stored
                    .headers
                    .iter()
                    .find(|(n, _)| n == crate::DEAD_REASON_HEADER)
                    .map(|(_, v)| v.clone());
            }
            queue.push_back(stored);
            Ok(())
        }
        None => Err(QueueError::Unroutable {
            message_id: message.message_id.clone(),
            exchange: message.exchange.clone(),
            routing_key: message.routing_key.clone(),
            reply: "NO_ROUTE".to_owned(),
        }),
    }
}

/// Events are hints: with no subscriber they are dropped, as on the broker, and a
/// subscriber that fell far behind misses some rather than stalling the publisher.
fn broadcast(state: &mut State, message: &OutgoingMessage) {
    state.subscribers.retain(|s| !s.sender.is_closed());
    for subscriber in &state.subscribers {
        if topic::matches(&subscriber.binding_key, &message.routing_key)
            && subscriber.sender.try_send(message.body.clone()).is_err()
        {
            tracing::warn!(
                binding_key = %subscriber.binding_key,
                "event subscriber is {EVENT_BUFFER} events behind; dropping an event"
            );
        }
    }
}
