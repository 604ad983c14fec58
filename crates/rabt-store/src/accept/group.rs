//! Group commit on the accept path: requests accepted at the same moment are written
//! in one transaction ([`Store::accept_batch`]); see [`crate::group`].

use std::sync::Arc;
use std::time::Duration;

use super::{AcceptAnswer, Accepted, NewRequest, Pending};
use crate::connect::Store;
use crate::error::StoreError;
use crate::group::{BatchWrite, Batcher, DEFAULT_MAX_BATCH, GroupStats, default_writers};
use crate::outbox::OutboxRow;

/// Accepts requests through group commit. Cheap to clone; the writers start with the
/// first request and stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct GroupCommit(Batcher<Accepts>);

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
        GroupCommit(Batcher::new(store, writers, max_batch))
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

/// Accepted requests, as group commit writes them.
struct Accepts;

impl BatchWrite for Accepts {
    type Item = AcceptJob;
    type Output = (Accepted, Vec<OutboxRow>);

    async fn together(store: &Store, jobs: &[AcceptJob]) -> Result<Vec<AcceptAnswer>, StoreError> {
        let pending: Vec<Pending<'_>> = jobs.iter().map(AcceptJob::pending).collect();
        Ok(store.accept_batch(&pending).await)
    }

    async fn alone(store: &Store, job: &AcceptJob) -> AcceptAnswer {
        let pending = job.pending();
        store
            .accept_batch(std::slice::from_ref(&pending))
            .await
            .pop()
            .expect("one answer for one request")
    }
}

impl AcceptJob {
    fn pending(&self) -> Pending<'_> {
        Pending {
            new: &self.new,
            lease: self.lease,
            quota_per_day: self.quota_per_day,
        }
    }
}
