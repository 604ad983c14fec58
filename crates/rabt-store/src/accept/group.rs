//! Group commit on the accept path: requests accepted at the same moment are written
//! in one transaction ([`Store::accept_batch`]), and each caller gets its answer when
//! its batch has committed.
//!
//! A few writers take turns at a queue. A writer takes every request waiting (up to a
//! batch's bound) and writes them; the requests that arrive meanwhile wait for the next
//! free writer. At low load a writer is free when a request arrives, so its batch is
//! that one request and it waits for nothing; under load the batches grow by
//! themselves, up to what arrives while a commit is in flight. Nothing is answered
//! before its transaction has committed, as without batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::{AcceptAnswer, NewRequest, Pending};
use crate::connect::{Dialect, Store};
use crate::error::StoreError;

/// How many requests one transaction takes at most: enough that a batch's commit is
/// shared widely, few enough that one batch's statements stay small (a composite of
/// nine checks is ten rows of tasks, messages and audit entries per request).
pub const DEFAULT_MAX_BATCH: usize = 64;

/// Accepts requests through group commit. Cheap to clone; the writers start with the
/// first request and stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct GroupCommit(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Store,
    writers: usize,
    max_batch: usize,
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
    stats: Stats,
}

#[derive(Debug, Default)]
struct Stats {
    queued: AtomicU64,
    batches: AtomicU64,
    requests: AtomicU64,
    largest: AtomicU64,
}

/// How group commit has batched so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// Requests given to the writers.
    pub queued: u64,
    /// Transactions written.
    pub batches: u64,
    /// Requests they held.
    pub requests: u64,
    /// The most requests one held.
    pub largest: u64,
}

#[derive(Debug)]
struct Job {
    new: Arc<NewRequest>,
    lease: Option<Duration>,
    quota_per_day: Option<u64>,
    answer: oneshot::Sender<AcceptAnswer>,
}

impl GroupCommit {
    /// Group commit over `store`: on PostgreSQL four writers (a batch in flight on
    /// each of four connections); on SQLite one, since it has one writer at a time.
    pub fn new(store: Store) -> GroupCommit {
        let writers = match store.dialect() {
            Dialect::Postgres => 4,
            Dialect::Sqlite => 1,
        };
        GroupCommit::with(store, writers, DEFAULT_MAX_BATCH)
    }

    /// Group commit with `writers` writers and at most `max_batch` requests a batch.
    pub fn with(store: Store, writers: usize, max_batch: usize) -> GroupCommit {
        GroupCommit(Arc::new(Inner {
            store,
            writers: writers.max(1),
            max_batch: max_batch.max(1),
            queue: OnceLock::new(),
            stats: Stats::default(),
        }))
    }

    /// Accepts `new` as [`Store::accept_request_within`] does, in a batch with the
    /// requests accepted at the same moment; answers once the batch has committed.
    pub async fn accept(
        &self,
        new: Arc<NewRequest>,
        lease: Option<Duration>,
        quota_per_day: Option<u64>,
    ) -> AcceptAnswer {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            new,
            lease,
            quota_per_day,
            answer,
        };
        if self.queue().send(job).is_err() {
            return Err(StoreError::Interrupted);
        }
        self.0.stats.queued.fetch_add(1, Ordering::Relaxed);
        // A writer that failed mid-batch (a bug: it logged the panic) drops the answer;
        // whether the batch committed is not known, so the caller is told so.
        answered.await.unwrap_or(Err(StoreError::Interrupted))
    }

    /// How the batches went so far.
    pub fn stats(&self) -> GroupStats {
        let stats = &self.0.stats;
        GroupStats {
            queued: stats.queued.load(Ordering::Relaxed),
            batches: stats.batches.load(Ordering::Relaxed),
            requests: stats.requests.load(Ordering::Relaxed),
            largest: stats.largest.load(Ordering::Relaxed),
        }
    }

    fn queue(&self) -> &mpsc::UnboundedSender<Job> {
        self.0.queue.get_or_init(|| {
            let (queue, jobs) = mpsc::unbounded_channel();
            let jobs = Arc::new(Mutex::new(jobs));
            for _ in 0..self.0.writers {
                // The writers hold no clone of the group: they end when its queue's
                // sender, owned by the group, is dropped with its last clone.
                let writer = Writer {
                    store: self.0.store.clone(),
                    jobs: Arc::clone(&jobs),
                    max_batch: self.0.max_batch,
                    group: Arc::downgrade(&self.0),
                };
                tokio::spawn(writer.run());
            }
            queue
        })
    }
}

struct Writer {
    store: Store,
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    max_batch: usize,
    group: std::sync::Weak<Inner>,
}

impl Writer {
    async fn run(self) {
        while let Some(batch) = self.next_batch().await {
            if let Some(group) = self.group.upgrade() {
                group.stats.record(batch.len());
            }
            // In a task of its own, so that a panic (a bug) costs this batch its
            // answers, not the process its writer.
            let store = self.store.clone();
            if let Err(err) = tokio::spawn(write(store, batch)).await {
                tracing::error!(error = %err, "a group commit's batch failed; its requests are answered as interrupted");
            }
        }
    }

    /// Waits for a request, then takes those waiting behind it, up to a batch's bound.
    async fn next_batch(&self) -> Option<Vec<Job>> {
        let mut jobs = self.jobs.lock().await;
        let first = jobs.recv().await?;
        let mut batch = vec![first];
        while batch.len() < self.max_batch {
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
        self.requests.fetch_add(size, Ordering::Relaxed);
        self.largest.fetch_max(size, Ordering::Relaxed);
    }
}

async fn write(store: Store, batch: Vec<Job>) {
    let pending: Vec<Pending<'_>> = batch
        .iter()
        .map(|job| Pending {
            new: &job.new,
            lease: job.lease,
            quota_per_day: job.quota_per_day,
        })
        .collect();
    let answers = store.accept_batch(&pending).await;
    drop(pending);
    for (job, answer) in batch.into_iter().zip(answers) {
        // A caller that is gone (its client hung up) needs no answer: its request is
        // stored or not as for any other.
        let _ = job.answer.send(answer);
    }
}
