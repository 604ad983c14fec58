//! Group commit on the accept path: requests accepted at the same moment are written
//! in one transaction ([`Store::accept_batch`]); see [`crate::group`].

use std::sync::Arc;
use std::time::Duration;

use super::{AcceptAnswer, Accepted, NewRequest, Pending};
use crate::connect::Store;
use crate::group::{BatchFuture, Batcher, DEFAULT_MAX_BATCH, GroupStats, default_writers};
use crate::outbox::OutboxRow;

/// Accepts requests through group commit. Cheap to clone; the writers start with the
/// first request and stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct GroupCommit(Batcher<AcceptJob, (Accepted, Vec<OutboxRow>)>);

struct AcceptJob {
    new: Arc<NewRequest>,
    lease: Option<Duration>,
    quota_per_day: Option<u64>,
}

impl GroupCommit {
    /// Group commit over `store`, with as many writers as suit its database.
    pub fn new(store: Store) -> GroupCommit {
        let writers = default_writers(&store);
        GroupCommit::with(store, writers, DEFAULT_MAX_BATCH)
    }

    /// Group commit with `writers` writers and at most `max_batch` requests a batch.
    pub fn with(store: Store, writers: usize, max_batch: usize) -> GroupCommit {
        GroupCommit(Batcher::new(store, writers, max_batch, write))
    }

    /// Accepts `new` as [`Store::accept_request_within`] does, in a batch with the
    /// requests accepted at the same moment; answers once the batch has committed.
    pub async fn accept(
        &self,
        new: Arc<NewRequest>,
        lease: Option<Duration>,
        quota_per_day: Option<u64>,
    ) -> AcceptAnswer {
        self.0
            .submit(AcceptJob {
                new,
                lease,
                quota_per_day,
            })
            .await
    }

    /// How the batches went so far.
    pub fn stats(&self) -> GroupStats {
        self.0.stats()
    }
}

fn write(store: Store, jobs: Vec<AcceptJob>) -> BatchFuture<(Accepted, Vec<OutboxRow>)> {
    Box::pin(async move {
        let pending: Vec<Pending<'_>> = jobs
            .iter()
            .map(|job| Pending {
                new: &job.new,
                lease: job.lease,
                quota_per_day: job.quota_per_day,
            })
            .collect();
        store.accept_batch(&pending).await
    })
}
