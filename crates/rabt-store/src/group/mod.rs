//! Group commit: operations that arrive at the same moment are written in one
//! transaction, and each caller gets its answer when that transaction has committed.
//!
//! A few writers take turns at a queue. An operation that finds a writer free is written
//! at once by its own caller, alone: at low load that is every operation, and it waits
//! for nothing and passes through no other task. Operations that arrive while every
//! writer is busy wait; the first writer to finish takes all of them (up to a batch's
//! bound) into its next transaction, in a task of its own, and so on until nothing
//! waits. Under load the batches grow by themselves, up to what arrives while a commit
//! is in flight. Nothing is answered before its transaction has committed, as without
//! batches. The accept path ([`crate::GroupCommit`]) and the worker's starts and
//! completions ([`crate::StartGroup`], [`crate::CompletionGroup`]) use it.
//!
//! A keyed group gives each writer a queue of its own and sends every operation of one
//! key (the worker's: a request) to the same writer. The operations of one request then
//! never wait for each other's row locks in two transactions: those that arrive
//! together share one, and the others follow in turn.

pub(crate) mod worker;

use std::collections::VecDeque;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use futures_util::FutureExt;
use tokio::sync::oneshot;

use crate::connect::{Dialect, Store};
use crate::error::StoreError;
use crate::kept::Kept;

/// How many operations one transaction takes at most: enough that a commit is shared
/// widely, few enough that a batch's statements stay small.
pub(crate) const DEFAULT_MAX_BATCH: usize = 64;

/// How many writers a store gets: on PostgreSQL four (a batch in flight on each of four
/// connections); on SQLite one, since it has one writer at a time.
pub(crate) fn default_writers(store: &Store) -> usize {
    match store.dialect() {
        Dialect::Postgres => 4,
        Dialect::Sqlite => 1,
    }
}

/// One kind of operation written in batches: all of a batch in one transaction, or
/// one at a time when the database refused the batch for one item's data.
pub(crate) trait BatchWrite: Send + Sync {
    /// What is written.
    type Item: Send + Sync;
    /// The answer to one item.
    type Output: Send;

    /// Writes `items` in one transaction: an answer per item, in order, or the
    /// failure of the whole transaction (nothing written).
    fn together(
        store: &Store,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Result<Self::Output, StoreError>>, StoreError>> + Send;

    /// Writes one item in a transaction of its own.
    fn alone(
        store: &Store,
        item: &Self::Item,
    ) -> impl Future<Output = Result<Self::Output, StoreError>> + Send;
}

/// Writes `items` together; if the database refused the batch for the data of one of
/// them (a constraint), writes each alone, so that only that one fails. A failure of
/// the database itself (a lost race, an outage) is every item's: writing them one by
/// one would only repeat it, as many times.
pub(crate) async fn write_batch<W: BatchWrite>(
    store: &Store,
    items: &[W::Item],
) -> Vec<Result<W::Output, StoreError>> {
    if items.len() > 1 {
        match W::together(store, items).await {
            Ok(answers) => return answers,
            Err(err) if err.is_conflict() || err.is_unavailable() => {
                return shared_failure(err, items.len());
            }
            Err(err) => {
                tracing::debug!(error = %err, items = items.len(), "a batch was refused; writing its items one by one");
            }
        }
    }
    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        answers.push(W::alone(store, item).await);
    }
    answers
}

/// The queue and writers of one kind of operation.
pub(crate) struct Batcher<W: BatchWrite>(Arc<Inner<W>>);

impl<W: BatchWrite> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Batcher(Arc::clone(&self.0))
    }
}

impl<W: BatchWrite> Batcher<W> {
    pub(crate) fn stats(&self) -> GroupStats {
        let stats = &self.0.stats;
        GroupStats {
            queued: stats.queued.load(Ordering::Relaxed),
            batches: stats.batches.load(Ordering::Relaxed),
            requests: stats.items.load(Ordering::Relaxed),
            largest: stats.largest.load(Ordering::Relaxed),
        }
    }
}

impl<W: BatchWrite> std::fmt::Debug for Batcher<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("writers", &self.0.writers)
            .field("max_batch", &self.0.max_batch)
            .field("stats", &self.stats())
            .finish()
    }
}

struct Inner<W: BatchWrite> {
    store: Store,
    writers: usize,
    max_batch: usize,
    /// The queues: one that all writers share, or one per writer when keyed.
    lanes: Vec<Lane<W>>,
    stats: Stats,
}

#[derive(Debug, Default)]
struct Stats {
    queued: AtomicU64,
    batches: AtomicU64,
    items: AtomicU64,
    largest: AtomicU64,
}

/// How group commit has batched so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// Operations given to the writers.
    pub queued: u64,
    /// Transactions written.
    pub batches: u64,
    /// Operations they held.
    pub requests: u64,
    /// The most operations one held.
    pub largest: u64,
}

struct Job<W: BatchWrite> {
    item: W::Item,
    answer: oneshot::Sender<Result<W::Output, StoreError>>,
}

/// A queue and its writers. A writer is the right to write one transaction at a time,
/// with the connection it keeps ([`crate::kept`]); it is not a task.
struct Lane<W: BatchWrite>(std::sync::Mutex<LaneState<W>>);

struct LaneState<W: BatchWrite> {
    /// The writers not writing now. There is none while operations wait: a writer that
    /// finishes takes what waits before it rests.
    idle: Vec<Arc<Kept>>,
    waiting: VecDeque<Job<W>>,
}

/// What an operation finds when it comes to its lane.
enum Entered<W: BatchWrite> {
    /// A writer was free: the operation's caller writes it, alone, at once.
    Writer(Arc<Kept>, W::Item),
    /// Every writer is busy: the operation waits for the next batch.
    Queued(oneshot::Receiver<Result<W::Output, StoreError>>),
}

impl<W: BatchWrite> Lane<W> {
    fn new(writers: usize) -> Self {
        Lane(std::sync::Mutex::new(LaneState {
            idle: (0..writers).map(|_| Arc::default()).collect(),
            waiting: VecDeque::new(),
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LaneState<W>> {
        // Nothing panics while holding it (pushes and pops), so a poisoned lock's
        // state is whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enter(&self, item: W::Item) -> Entered<W> {
        let mut state = self.state();
        if let Some(writer) = state.idle.pop() {
            return Entered::Writer(writer, item);
        }
        let (answer, answered) = oneshot::channel();
        state.waiting.push_back(Job { item, answer });
        Entered::Queued(answered)
    }

    /// The batch `writer` writes next (everything waiting, up to `max_batch`), or
    /// `None` if nothing waits: then the writer rests.
    fn next(&self, writer: Arc<Kept>, max_batch: usize) -> Option<(Arc<Kept>, Vec<Job<W>>)> {
        let mut state = self.state();
        if state.waiting.is_empty() {
            state.idle.push(writer);
            return None;
        }
        let take = state.waiting.len().min(max_batch);
        Some((writer, state.waiting.drain(..take).collect()))
    }
}

impl<W> Batcher<W>
where
    W: BatchWrite + 'static,
    W::Item: 'static,
    W::Output: 'static,
{
    /// A group whose writers take from one queue: any free writer takes what waits.
    pub(crate) fn new(store: Store, writers: usize, max_batch: usize) -> Self {
        let writers = writers.max(1);
        Self::with_lanes(store, writers, max_batch, vec![Lane::new(writers)])
    }

    /// A group whose writers each have a queue of their own: the operations of one key
    /// ([`Batcher::submit_keyed`]) are all written by the same writer, in turn.
    pub(crate) fn keyed(store: Store, writers: usize, max_batch: usize) -> Self {
        let writers = writers.max(1);
        let lanes = (0..writers).map(|_| Lane::new(1)).collect();
        Self::with_lanes(store, writers, max_batch, lanes)
    }

    fn with_lanes(store: Store, writers: usize, max_batch: usize, lanes: Vec<Lane<W>>) -> Self {
        Batcher(Arc::new(Inner {
            store,
            writers,
            max_batch: max_batch.max(1),
            lanes,
            stats: Stats::default(),
        }))
    }

    /// Writes `item` in a batch with those that arrive at the same moment; answers
    /// once the batch has committed.
    pub(crate) async fn submit(&self, item: W::Item) -> Result<W::Output, StoreError> {
        self.submit_keyed(&(), item).await
    }

    /// [`Batcher::submit`], by the writer that `key` belongs to when the group is keyed.
    ///
    /// When a writer is free, the caller writes its operation itself, at once: no
    /// hand-off to another task and back, which is most operations at low load. When
    /// none is, the operation waits, and the writer that finishes first writes it with
    /// everything else waiting, in a task of its own.
    pub(crate) async fn submit_keyed(
        &self,
        key: &impl Hash,
        item: W::Item,
    ) -> Result<W::Output, StoreError> {
        let lane = self.lane_of(key);
        self.0.stats.queued.fetch_add(1, Ordering::Relaxed);
        match self.0.lanes[lane].enter(item) {
            Entered::Writer(writer, item) => {
                let turn = Turn {
                    group: Arc::clone(&self.0),
                    lane,
                    writer,
                };
                turn.write_own(item).await
            }
            // A batch that panicked (a bug: it was logged) drops its answers; whether
            // it committed is not known, so the caller is told so.
            Entered::Queued(answered) => answered.await.unwrap_or(Err(StoreError::Interrupted)),
        }
    }

    fn lane_of(&self, key: &impl Hash) -> usize {
        let count = self.0.lanes.len();
        if count == 1 {
            return 0;
        }
        // The key's writer, the same for the process's life (the hasher's keys are
        // fixed, so one key always hashes alike).
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        usize::try_from(hash % u64::try_from(count).unwrap_or(u64::MAX)).unwrap_or(0)
    }
}

/// A caller's turn as its lane's writer. However the turn ends (written, failed,
/// panicked, or the caller gone mid-write), the writer is passed on: to the operations
/// that queued meanwhile, or back to rest.
struct Turn<W>
where
    W: BatchWrite + 'static,
    W::Item: 'static,
    W::Output: 'static,
{
    group: Arc<Inner<W>>,
    lane: usize,
    writer: Arc<Kept>,
}

impl<W> Turn<W>
where
    W: BatchWrite + 'static,
    W::Item: 'static,
    W::Output: 'static,
{
    async fn write_own(self, item: W::Item) -> Result<W::Output, StoreError> {
        self.group.stats.record(1);
        let store = self.group.store.keeping(&self.writer);
        let mut answers = written::<W>(&store, &[item]).await;
        answers.pop().unwrap_or(Err(StoreError::Interrupted))
    }
}

impl<W> Drop for Turn<W>
where
    W: BatchWrite + 'static,
    W::Item: 'static,
    W::Output: 'static,
{
    fn drop(&mut self) {
        let writer = Arc::clone(&self.writer);
        let Some((writer, batch)) = self.group.lanes[self.lane].next(writer, self.group.max_batch)
        else {
            return;
        };
        tokio::spawn(drain(Arc::clone(&self.group), self.lane, writer, batch));
    }
}

/// Writes the batches of a lane one after another until nothing waits.
async fn drain<W>(group: Arc<Inner<W>>, lane: usize, mut writer: Arc<Kept>, mut batch: Vec<Job<W>>)
where
    W: BatchWrite + 'static,
    W::Item: 'static,
    W::Output: 'static,
{
    loop {
        group.stats.record(batch.len());
        let (items, answers): (Vec<W::Item>, Vec<_>) =
            batch.into_iter().map(|job| (job.item, job.answer)).unzip();
        let results = written::<W>(&group.store.keeping(&writer), &items).await;
        for (answer, result) in answers.into_iter().zip(results) {
            // A caller that is gone needs no answer: its operation is written or not
            // as any other.
            let _ = answer.send(result);
        }
        match group.lanes[lane].next(writer, group.max_batch) {
            Some((next_writer, next_batch)) => (writer, batch) = (next_writer, next_batch),
            None => return,
        }
    }
}

/// [`write_batch`], a panic (a bug) costing the batch its answers (none: its callers
/// are told they were interrupted), not the writer.
async fn written<W: BatchWrite>(
    store: &Store,
    items: &[W::Item],
) -> Vec<Result<W::Output, StoreError>> {
    match AssertUnwindSafe(write_batch::<W>(store, items))
        .catch_unwind()
        .await
    {
        Ok(results) => results,
        Err(_) => {
            tracing::error!(
                "a group commit's batch panicked; its callers are told it was interrupted"
            );
            Vec::new()
        }
    }
}

impl Stats {
    fn record(&self, size: usize) {
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
    }
}

/// The answers to a batch whose items all failed the same way (a lost race, an
/// unreachable database): each gets the one error, shared.
pub(crate) fn shared_failure<T>(err: StoreError, items: usize) -> Vec<Result<T, StoreError>> {
    let shared = Arc::new(err);
    (0..items)
        .map(|_| Err(StoreError::Shared(Arc::clone(&shared))))
        .collect()
}
