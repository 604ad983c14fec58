//! The worker's group commits: the starts and the answers of tasks that arrive
//! together share a transaction.

use chrono::{DateTime, Utc};
use rabt_core::{RequestId, TaskId};

use super::{BatchWrite, Batcher, DEFAULT_MAX_BATCH, GroupStats, default_writers};
use crate::complete::{Completion, TaskCompletion};
use crate::connect::Store;
use crate::error::StoreError;
use crate::tasks::Taken;

/// Records agencies' answers through group commit: the answers that arrive at the same
/// moment are recorded in one transaction ([`Store::complete_tasks`]); each caller gets
/// its result once it has committed. Keyed by request: the answers to one request's
/// checks, which all update the request's row, are written by one writer, together
/// when they arrive together, never in two transactions queueing for that row's lock.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct CompletionGroup(Batcher<Answers>);

impl CompletionGroup {
    /// Group commit of answers over `store`, with as many writers as suit its database.
    pub fn new(store: Store) -> CompletionGroup {
        let writers = default_writers(&store);
        CompletionGroup(Batcher::keyed(store, writers, DEFAULT_MAX_BATCH))
    }

    /// Records `completion`, an answer to a task of `request`, as
    /// [`Store::complete_task`] does, in a batch with the answers that arrive at the same
    /// moment.
    pub async fn complete(
        &self,
        request: RequestId,
        completion: TaskCompletion,
    ) -> Result<Completion, StoreError> {
        self.0.submit_keyed(&request, completion).await
    }

    /// How the batches went so far.
    pub fn stats(&self) -> GroupStats {
        self.0.stats()
    }
}

/// Agencies' answers, as group commit writes them.
pub(crate) struct Answers;

impl BatchWrite for Answers {
    type Item = TaskCompletion;
    type Output = Completion;

    async fn together(
        store: &Store,
        items: &[TaskCompletion],
    ) -> Result<Vec<Result<Completion, StoreError>>, StoreError> {
        store.complete_together(items).await
    }

    async fn alone(store: &Store, item: &TaskCompletion) -> Result<Completion, StoreError> {
        store.complete_task(item).await
    }
}

/// Takes tasks through group commit: the starts that arrive at the same moment share
/// one transaction ([`Store::take_tasks`]). Keyed by request, as [`CompletionGroup`]:
/// the checks a composite releases together arrive together, and start together.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct StartGroup(Batcher<Starts>);

impl StartGroup {
    /// Group commit of starts over `store`, with as many writers as suit its database.
    pub fn new(store: Store) -> StartGroup {
        let writers = default_writers(&store);
        StartGroup(Batcher::keyed(store, writers, DEFAULT_MAX_BATCH))
    }

    /// Takes task `id` of `request` as [`Store::take_task`] does, in a batch with the
    /// starts that arrive at the same moment.
    pub async fn take(
        &self,
        request: RequestId,
        id: TaskId,
        now: DateTime<Utc>,
    ) -> Result<Taken, StoreError> {
        self.0.submit_keyed(&request, (id, now)).await
    }

    /// How the batches went so far.
    pub fn stats(&self) -> GroupStats {
        self.0.stats()
    }
}

/// Tasks' starts, as group commit writes them.
#[derive(Debug)]
pub(crate) struct Starts;

impl BatchWrite for Starts {
    type Item = (TaskId, DateTime<Utc>);
    type Output = Taken;

    async fn together(
        store: &Store,
        starts: &[(TaskId, DateTime<Utc>)],
    ) -> Result<Vec<Result<Taken, StoreError>>, StoreError> {
        store.take_together(starts).await
    }

    async fn alone(
        store: &Store,
        &(id, now): &(TaskId, DateTime<Utc>),
    ) -> Result<Taken, StoreError> {
        store.take_task(id, now).await
    }
}
