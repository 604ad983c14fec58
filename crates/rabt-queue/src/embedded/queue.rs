//! Consuming from the embedded broker: handing out deliveries within the prefetch and
//! taking them back when they are settled or dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rabt_core::Agency;

use super::{Broker, Stored};
use crate::error::QueueError;
use crate::message::{Delivery, Received, Settle, with_dead_reason};
use crate::names::{DELIVERY_LIMIT_REASON, dead_queue, task_queue};

/// A consumer of one embedded queue.
pub(crate) struct EmbeddedConsumer {
    broker: Arc<Broker>,
    agency: Agency,
    queue: String,
    dead_letters: bool,
    prefetch: usize,
    /// Deliveries handed out and not settled yet; shared with their settle handles.
    unacked: Arc<AtomicUsize>,
}

enum Take {
    Closed,
    Wait,
    Got(Box<Delivery>),
}

impl EmbeddedConsumer {
    pub(super) fn new(
        broker: Arc<Broker>,
        agency: Agency,
        prefetch: u16,
        dead_letters: bool,
    ) -> Self {
        let queue = if dead_letters {
            dead_queue(agency)
        } else {
            task_queue(agency)
        };
        EmbeddedConsumer {
            broker,
            agency,
            queue,
            dead_letters,
            prefetch: usize::from(prefetch),
            unacked: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The next message, waiting while the queue is empty or the prefetch is used up;
    /// `None` once the broker is closed.
    pub(crate) async fn next(&mut self) -> Option<Delivery> {
        loop {
            // Register for a wake-up before looking, so a change between the look and
            // the wait is not missed.
            let changed = self.broker.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.try_take() {
                Take::Closed => return None,
                Take::Got(delivery) => return Some(*delivery),
                Take::Wait => changed.await,
            }
        }
    }

    fn try_take(&self) -> Take {
        let mut state = self.broker.lock();
        if state.closed {
            return Take::Closed;
        }
        // Prefetch 0 means "no limit", as in AMQP's basic.qos.
        if self.prefetch != 0 && self.unacked.load(Ordering::SeqCst) >= self.prefetch {
            return Take::Wait;
        }
        let Some(stored) = state
            .queues
            .get_mut(&self.queue)
            .and_then(|q| q.pop_front())
        else {
            return Take::Wait;
        };
        self.unacked.fetch_add(1, Ordering::SeqCst);
        let received = Received {
            body: stored.body.clone(),
            headers: stored.headers.clone(),
            message_id: Some(stored.message_id.clone()),
            redelivered: stored.redelivered,
            delivery_count: stored.delivery_count,
            agency: self.agency,
            dead_reason: stored.dead_reason.clone(),
        };
        let settle = EmbeddedSettle {
            broker: Arc::clone(&self.broker),
            agency: self.agency,
            queue: self.queue.clone(),
            dead_letters: self.dead_letters,
            message: Some(stored),
            unacked: Arc::clone(&self.unacked),
        };
        Take::Got(Box::new(Delivery {
            received,
            settle: Settle::Embedded(settle),
        }))
    }
}

/// The embedded side of a [`Delivery`]: settling it, or handing it back when dropped.
pub(crate) struct EmbeddedSettle {
    broker: Arc<Broker>,
    agency: Agency,
    queue: String,
    dead_letters: bool,
    /// `Some` until settled; a handle dropped with it still set hands it back.
    message: Option<Stored>,
    unacked: Arc<AtomicUsize>,
}

impl EmbeddedSettle {
    pub(crate) fn ack(mut self) -> Result<(), QueueError> {
        self.message.take();
        self.release()
    }

    pub(crate) fn requeue(mut self) -> Result<(), QueueError> {
        if let Some(message) = self.message.take() {
            self.hand_back(message);
        }
        self.release()
    }

    pub(crate) fn dead_letter(mut self, _: Received, reason: &str) -> Result<(), QueueError> {
        if let Some(mut message) = self.message.take() {
            with_dead_reason(&mut message.headers, reason);
            self.bury(message, reason);
        }
        self.release()
    }

    /// Returns the message to the head of its queue, or buries it past the limit.
    fn hand_back(&self, mut message: Stored) {
        message.redelivered = true;
        message.delivery_count = message.delivery_count.saturating_add(1);
        // Like a quorum queue's x-delivery-limit: dead-lettered once it has been
        // returned more times than the limit. Dead-letter queues have no limit.
        if !self.dead_letters && message.delivery_count > self.broker.settings.delivery_limit {
            self.bury(message, DELIVERY_LIMIT_REASON);
            return;
        }
        let mut state = self.broker.lock();
        if let Some(queue) = state.queues.get_mut(&self.queue) {
            queue.push_front(message);
        }
    }

    fn bury(&self, mut message: Stored, reason: &str) {
        // A new queue starts a new count, as on the broker.
        message.redelivered = false;
        message.delivery_count = 0;
        message.dead_reason = Some(reason.to_owned());
        let mut state = self.broker.lock();
        if let Some(queue) = state.queues.get_mut(&dead_queue(self.agency)) {
            queue.push_back(message);
        }
    }

    /// Frees the prefetch slot and wakes consumers.
    fn release(&self) -> Result<(), QueueError> {
        self.unacked.fetch_sub(1, Ordering::SeqCst);
        self.broker.changed.notify_waiters();
        if self.broker.lock().closed {
            return Err(QueueError::Closed);
        }
        Ok(())
    }
}

impl Drop for EmbeddedSettle {
    fn drop(&mut self) {
        if let Some(message) = self.message.take() {
            // Dropped unsettled: like a consumer that died, the message comes back.
            self.hand_back(message);
            self.unacked.fetch_sub(1, Ordering::SeqCst);
            self.broker.changed.notify_waiters();
        }
    }
}
