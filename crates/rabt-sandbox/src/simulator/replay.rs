//! What a simulated agency remembers of the calls it accepted, by `X-Request-Id`, so
//! that a retried submission gets the same answer again instead of starting a second
//! inspection or batch, and a request id reused for another request is refused, as the
//! asynchronous agencies' APIs do.

use std::collections::{HashMap, VecDeque};

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

    /// [`Replays::recall`], then, for a new call with a request id, [`Replays::remember`]
    /// with `answer`: one step, for a caller that holds the lock across both so that two
    /// copies of one call racing in cannot both be new.
    pub fn recall_or_remember(
        &mut self,
        request_id: Option<&str>,
        request: &R,
        answer: &A,
    ) -> Recall<A>
    where
        R: Clone,
    {
        let recalled = self.recall(request_id, request);
        if let (Recall::New, Some(id)) = (&recalled, request_id) {
            self.remember(id, request.clone(), answer.clone());
        }
        recalled
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

    #[test]
    fn a_request_id_keeps_its_answer() {
        let mut memory = Replays::new(CAPACITY);
        let (a, b) = ("batch a", "batch b");
        assert_eq!(
            memory.recall_or_remember(Some("task_1"), &a, &"REF-1"),
            Recall::New
        );
        assert_eq!(
            memory.recall_or_remember(Some("task_1"), &a, &"REF-2"),
            Recall::Same("REF-1")
        );
        assert_eq!(
            memory.recall_or_remember(Some("task_1"), &b, &"REF-3"),
            Recall::Conflict
        );
        assert_eq!(memory.recall_or_remember(None, &a, &"REF-4"), Recall::New);
        assert_eq!(memory.recall_or_remember(None, &a, &"REF-5"), Recall::New);
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
                memory.recall_or_remember(Some(&id), &a, &"REF-1"),
                Recall::New
            );
        }
        assert_eq!(memory.len(), CAPACITY);
        assert_eq!(
            memory.recall_or_remember(Some("task_0"), &a, &"REF-2"),
            Recall::New,
            "forgotten"
        );
        assert!(matches!(
            memory.recall_or_remember(Some(&format!("task_{CAPACITY}")), &a, &"REF-3"),
            Recall::Same(_)
        ));
    }
}
