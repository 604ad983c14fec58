//! Group commit: operations that arrive at the same moment are written in one
//! transaction, and each caller gets its answer when that transaction has committed.
//!
//! A few writers take turns at a queue. A writer takes every operation waiting (up to
//! a batch's bound) and writes them; those that arrive meanwhile wait for the next free
//! writer. At low load a writer is free when an operation arrives, so its batch is that
//! one operation and it waits for nothing; under load the batches grow by themselves,
//! up to what arrives while a commit is in flight. Nothing is answered before its
//! transaction has committed, as without batches. The accept path
//! ([`crate::GroupCommit`]) and the worker's starts and completions
//! ([`crate::StartGroup`], [`crate::CompletionGroup`]) use it.
//!
//! A keyed group gives each writer a queue of its own and sends every operation of one
//! key (the worker's: a request) to the same writer. The operations of one request then
//! never wait for each other's row locks in two transactions: those that arrive
//! together share one, and the others follow in turn.

pub(crate) mod worker;

use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use futures_util::FutureExt;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::connect::{Dialect, Lent, Store};
use crate::error::StoreError;

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
    /// How many queues the writers take from: one that all share, or one each when
    /// keyed.
    queue_count: usize,
    queues: OnceLock<Vec<mpsc::UnboundedSender<Job<W>>>>,
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

impl<W> Batcher<W>
where
    W: BatchWrite + 'static,
    W::Item: 'static,
    W::Output: 'static,
{
    /// A group whose writers take from one queue: any free writer takes what waits.
    pub(crate) fn new(store: Store, writers: usize, max_batch: usize) -> Self {
        Self::with_queues(store, writers, max_batch, false)
    }

    /// A group whose writers each have a queue of their own: the operations of one key
    /// ([`Batcher::submit_keyed`]) are all written by the same writer, in turn.
    pub(crate) fn keyed(store: Store, writers: usize, max_batch: usize) -> Self {
        Self::with_queues(store, writers, max_batch, true)
    }

    fn with_queues(store: Store, writers: usize, max_batch: usize, keyed: bool) -> Self {
        let writers = writers.max(1);
        Batcher(Arc::new(Inner {
            store,
            writers,
            max_batch: max_batch.max(1),
            queue_count: if keyed { writers } else { 1 },
            queues: OnceLock::new(),
            stats: Stats::default(),
        }))
    }

    /// Writes `item` in a batch with those that arrive at the same moment; answers
    /// once the batch has committed.
    pub(crate) async fn submit(&self, item: W::Item) -> Result<W::Output, StoreError> {
        self.submit_keyed(&(), item).await
    }

    /// [`Batcher::submit`], by the writer that `key` belongs to when the group is keyed.
    pub(crate) async fn submit_keyed(
        &self,
        key: &impl Hash,
        item: W::Item,
    ) -> Result<W::Output, StoreError> {
        let (answer, answered) = oneshot::channel();
        if self.queue_of(key).send(Job { item, answer }).is_err() {
            return Err(StoreError::Interrupted);
        }
        self.0.stats.queued.fetch_add(1, Ordering::Relaxed);
        // A writer that failed mid-batch (a bug: it logged the panic) drops the answer;
        // whether the batch committed is not known, so the caller is told so.
        answered.await.unwrap_or(Err(StoreError::Interrupted))
    }

    fn queue_of(&self, key: &impl Hash) -> &mpsc::UnboundedSender<Job<W>> {
        let queues = self.0.queues.get_or_init(|| self.start_writers());
        if let [queue] = queues.as_slice() {
            return queue;
        }
        // The key's writer, the same for the process's life (the hasher's keys are
        // fixed, so one key always hashes alike).
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        let count = u64::try_from(queues.len()).unwrap_or(u64::MAX);
        &queues[usize::try_from(hash % count).unwrap_or(0)]
    }

    /// Spawns the writers; writer `i` takes from queue `i % queue_count`.
    fn start_writers(&self) -> Vec<mpsc::UnboundedSender<Job<W>>> {
        let (queues, receivers): (Vec<_>, Vec<_>) = (0..self.0.queue_count)
            .map(|_| {
                let (queue, jobs) = mpsc::unbounded_channel();
                (queue, Arc::new(Mutex::new(jobs)))
            })
            .unzip();
        for i in 0..self.0.writers {
            // The writers hold the group weakly: they end when its queues' senders,
            // owned by the group, are dropped with its last clone.
            let writer = Writer {
                jobs: Arc::clone(&receivers[i % receivers.len()]),
                group: Arc::downgrade(&self.0),
                lent: Arc::default(),
            };
            tokio::spawn(writer.run());
        }
        queues
    }
}

struct Writer<W: BatchWrite> {
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job<W>>>>,
    group: Weak<Inner<W>>,
    /// The connection kept from one batch to the next while batches follow each other.
    lent: Arc<Lent>,
}

impl<W> Writer<W>
where
    W: BatchWrite + 'static,
    W::Item: 'static,
    W::Output: 'static,
{
    async fn run(self) {
        while let Some(batch) = self.next_batch().await {
            let Some(group) = self.group.upgrade() else {
                return;
            };
            group.stats.record(batch.len());
            let (items, answers): (Vec<W::Item>, Vec<_>) =
                batch.into_iter().map(|job| (job.item, job.answer)).unzip();
            let store = group.store.lending(&self.lent);
            drop(group);
            // A panic (a bug) costs this batch its answers, not the process its writer.
            // Caught here rather than in a task of its own: a task per batch was one
            // more hand-off between threads for every transaction.
            let written = AssertUnwindSafe(write_batch::<W>(&store, &items)).catch_unwind();
            match written.await {
                Ok(results) => {
                    for (answer, result) in answers.into_iter().zip(results) {
                        // A caller that is gone needs no answer: its operation is
                        // written or not as any other.
                        let _ = answer.send(result);
                    }
                }
                Err(_) => {
                    tracing::error!(
                        "a group commit's batch panicked; its callers are told it was interrupted"
                    );
                }
            }
        }
    }

    /// Waits for an operation, then takes those waiting behind it, up to the bound. A
    /// writer that has to wait (its queue is empty, or another writer is waiting at it)
    /// first gives its kept connection back to the pool: an idle writer holds none.
    async fn next_batch(&self) -> Option<Vec<Job<W>>> {
        let max_batch = self.group.upgrade()?.max_batch;
        let mut jobs = match self.jobs.try_lock() {
            Ok(jobs) => jobs,
            Err(_) => {
                self.lent.release();
                self.jobs.lock().await
            }
        };
        let first = match jobs.try_recv() {
            Ok(job) => job,
            Err(_) => {
                self.lent.release();
                jobs.recv().await?
            }
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        Some(batch)
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
