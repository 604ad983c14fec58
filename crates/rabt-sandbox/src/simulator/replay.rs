//! The agencies that accept a call now and call back later (municipal inspections,
//! health certificate batches), as their simulators share them: [`Submissions`]
//! remembers the calls accepted by `X-Request-Id` ([`Replays`]), so that a retried
//! submission gets the same answer again instead of starting a second inspection or
//! batch and a request id reused for another request is refused, as those agencies'
//! APIs do; and it hands each new acceptance's callback to the [`CallbackSender`].
//!
//! One behaviour for every such simulator when the callback it announces cannot be
//! written (a wire type that does not serialise): the submission fails as the agency's
//! server error, and nothing is remembered or sent, so a retried submission is new. An
//! acceptance whose callback can never come would leave Rabt's task waiting for its
//! deadline with nothing in the logs of the agency's side to say why.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::callback::CallbackSender;

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted<A> {
    /// A new call, accepted now with this answer; its callback is on its way (after the
    /// knobs' `callback_delay`, or never under `never_call_back`).
    Accepted(A),
    /// The same request came before under this request id: the earlier answer again,
    /// and no second callback.
    Again(A),
    /// The request id came before with another request.
    Conflict,
    /// The callback could not be written: nothing was accepted, remembered or sent. The
    /// agency answers its server error.
    Failed,
}

/// A simulated agency's accepted submissions and the sender of their callbacks.
#[derive(Debug)]
pub struct Submissions<R, A> {
    replays: Mutex<Replays<R, A>>,
    callbacks: CallbackSender,
}

impl<R: PartialEq, A: Clone> Submissions<R, A> {
    /// Remembers at most `capacity` request ids; callbacks go through `callbacks`.
    pub fn new(capacity: usize, callbacks: CallbackSender) -> Self {
        Self {
            replays: Mutex::new(Replays::new(capacity)),
            callbacks,
        }
    }

    /// Accepts `request` once per request id. For a new call, `accept` gives the answer
    /// and the callback body it announces; the callback is scheduled and the answer
    /// remembered. The lock is held from the recall to the memory, so that two copies
    /// of one submission racing in cannot both start an inspection.
    pub fn submit<C: Serialize>(
        &self,
        request_id: Option<&str>,
        request: R,
        accept: impl FnOnce(&R) -> (A, C),
    ) -> Submitted<A> {
        // A panic while holding the lock cannot leave the memory half updated in a way
        // that matters: at worst one request id is forgotten.
        let mut replays = self.replays.lock().unwrap_or_else(PoisonError::into_inner);
        match replays.recall(request_id, &request) {
            Recall::New => {}
            Recall::Same(answer) => return Submitted::Again(answer),
            Recall::Conflict => return Submitted::Conflict,
        }
        let (answer, callback) = accept(&request);
        let body = match serde_json::to_value(&callback) {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(error = %err, "simulator: the callback cannot be written");
                return Submitted::Failed;
            }
        };
        if let Some(id) = request_id {
            replays.remember(id, request, answer.clone());
        }
        self.callbacks.send_later(body);
        Submitted::Accepted(answer)
    }
}

/// What an earlier call with the same request id says about this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recall<A> {
    /// Nothing: a new call.
    New,
    /// The same request was accepted before, with this answer: answer it again.
    Same(A),
    /// The request id came before with another request.
    Conflict,
}

/// The requests accepted so far and their answers, by request id; the oldest are
/// forgotten first once `capacity` are remembered, so a simulator that runs for weeks
/// does not grow without bound.
#[derive(Debug)]
pub struct Replays<R, A> {
    capacity: usize,
    by_request_id: HashMap<String, (R, A)>,
    order: VecDeque<String>,
}

impl<R: PartialEq, A: Clone> Replays<R, A> {
    /// Remembers at most `capacity` request ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            by_request_id: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// What an earlier call with `request_id` says about `request`. Without a request
    /// id every call is new.
    pub fn recall(&self, request_id: Option<&str>, request: &R) -> Recall<A> {
        let Some((earlier, answer)) = request_id.and_then(|id| self.by_request_id.get(id)) else {
            return Recall::New;
        };
        if earlier == request {
            Recall::Same(answer.clone())
        } else {
            Recall::Conflict
        }
    }

    /// Remembers that `request_id` was answered `answer` for `request`, forgetting the
    /// oldest if need be.
    pub fn remember(&mut self, request_id: &str, request: R, answer: A) {
        if self.by_request_id.contains_key(request_id) {
            self.order.retain(|id| id != request_id);
        } else if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_request_id.remove(&oldest);
        }
        self.order.push_back(request_id.to_owned());
        self.by_request_id
            .insert(request_id.to_owned(), (request, answer));
    }

    /// How many request ids are remembered.
    pub fn len(&self) -> usize {
        self.by_request_id.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.by_request_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPACITY: usize = 16;

    /// Recalls, then remembers a new call with a request id, as [`Submissions`] does.
    fn recall_or_remember(
        memory: &mut Replays<&'static str, &'static str>,
        request_id: Option<&str>,
        request: &&'static str,
        answer: &&'static str,
    ) -> Recall<&'static str> {
        let recalled = memory.recall(request_id, request);
        if let (Recall::New, Some(id)) = (&recalled, request_id) {
            memory.remember(id, request, answer);
        }
        recalled
    }

    #[test]
    fn a_request_id_keeps_its_answer() {
        let mut memory = Replays::new(CAPACITY);
        let (a, b) = ("batch a", "batch b");
        assert_eq!(
            recall_or_remember(&mut memory, Some("task_1"), &a, &"REF-1"),
            Recall::New
        );
        assert_eq!(
            recall_or_remember(&mut memory, Some("task_1"), &a, &"REF-2"),
            Recall::Same("REF-1")
        );
        assert_eq!(
            recall_or_remember(&mut memory, Some("task_1"), &b, &"REF-3"),
            Recall::Conflict
        );
        assert_eq!(
            recall_or_remember(&mut memory, None, &a, &"REF-4"),
            Recall::New
        );
        assert_eq!(
            recall_or_remember(&mut memory, None, &a, &"REF-5"),
            Recall::New
        );
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn recalling_alone_remembers_nothing() {
        let mut memory = Replays::new(CAPACITY);
        assert_eq!(memory.recall(Some("task_1"), &"a"), Recall::<&str>::New);
        assert!(memory.is_empty());
        memory.remember("task_1", "a", "REF-1");
        assert_eq!(memory.recall(Some("task_1"), &"a"), Recall::Same("REF-1"));
        assert_eq!(memory.recall(Some("task_1"), &"b"), Recall::Conflict);
        assert_eq!(memory.recall(None, &"a"), Recall::New);
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let mut memory = Replays::new(CAPACITY);
        let a = "batch a";
        for i in 0..=CAPACITY {
            let id = format!("task_{i}");
            assert_eq!(
                recall_or_remember(&mut memory, Some(&id), &a, &"REF-1"),
                Recall::New
            );
        }
        assert_eq!(memory.len(), CAPACITY);
        assert_eq!(
            recall_or_remember(&mut memory, Some("task_0"), &a, &"REF-2"),
            Recall::New,
            "forgotten"
        );
        assert!(matches!(
            recall_or_remember(&mut memory, Some(&format!("task_{CAPACITY}")), &a, &"REF-3"),
            Recall::Same(_)
        ));
    }
}

#[cfg(test)]
mod submissions_tests {
    use std::collections::HashMap;

    use rabt_core::Agency;

    use super::*;
    use crate::callback::CallbackTarget;
    use crate::simulator::{Knobs, KnobsHandle};

    /// Submissions whose callbacks are never sent (the knob), so no test posts anywhere.
    fn submissions() -> Submissions<&'static str, &'static str> {
        let knobs = KnobsHandle::new();
        knobs.set(Knobs {
            never_call_back: true,
            ..Knobs::default()
        });
        let target = CallbackTarget {
            base_url: url::Url::parse("http://127.0.0.1:9/").unwrap(),
            secrets: Vec::new(),
        };
        Submissions::new(4, CallbackSender::new(Agency::Health, target, knobs))
    }

    #[test]
    fn a_request_id_is_accepted_once_and_recalled_after() {
        let memory = submissions();
        let accept = |answer| move |_: &&str| (answer, serde_json::json!({"ok": true}));
        assert_eq!(
            memory.submit(Some("task_1"), "a", accept("REF-1")),
            Submitted::Accepted("REF-1")
        );
        assert_eq!(
            memory.submit(Some("task_1"), "a", accept("REF-2")),
            Submitted::Again("REF-1")
        );
        assert_eq!(
            memory.submit(Some("task_1"), "b", accept("REF-3")),
            Submitted::Conflict
        );
        assert_eq!(
            memory.submit(None, "a", accept("REF-4")),
            Submitted::Accepted("REF-4")
        );
    }

    #[test]
    fn a_callback_that_cannot_be_written_accepts_and_remembers_nothing() {
        let memory = submissions();
        // JSON object keys must be strings: this map cannot be written.
        let unwritable = |_: &&str| ("REF-1", HashMap::from([((1, 2), 3)]));
        assert_eq!(
            memory.submit(Some("task_1"), "a", unwritable),
            Submitted::Failed
        );
        let writable = |_: &&str| ("REF-2", serde_json::json!({}));
        assert_eq!(
            memory.submit(Some("task_1"), "a", writable),
            Submitted::Accepted("REF-2"),
            "the failed submission was not remembered"
        );
    }
}
