//! The worker's group commits: the starts and the answers of tasks that arrive
//! together share a transaction.
//!
//! Both take the rows of their tasks in the order of the tasks' ids, so that two
//! batches take the rows of the same tasks in one order. Answers are written one task
//! at a time inside the transaction ([`in_task_order`]); starts with one statement for
//! the batch ([`Store::take_all_in`]), unless it holds a task twice.

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, Utc};
use rabt_core::{RequestId, TaskId};

use super::{BatchWrite, Batcher, DEFAULT_MAX_BATCH, GroupStats, default_writers};
use crate::complete::{Completion, TaskCompletion, complete_in};
use crate::connect::{Store, WriteTx};
use crate::error::StoreError;
use crate::tasks::Taken;

/// A step on one task that a batch takes inside its transaction.
pub(crate) trait TaskStep: BatchWrite {
    /// The task it is on.
    fn task(item: &Self::Item) -> TaskId;

    /// Takes the step in `tx`. The inner error is a refusal decided before anything
    /// was written (an unknown task, a state that cannot take it): the transaction goes
    /// on with the others. The outer one is the batch's.
    fn step_in(
        store: &Store,
        tx: &mut WriteTx,
        item: &Self::Item,
    ) -> impl Future<Output = Result<Result<Self::Output, StoreError>, StoreError>> + Send;
}

/// Writes `items` in one transaction, one step at a time in the order of their tasks'
/// ids; an answer per item, in the order given.
pub(crate) async fn in_task_order<S: TaskStep>(
    store: &Store,
    items: &[S::Item],
) -> Result<Vec<Result<S::Output, StoreError>>, StoreError> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| S::task(&items[i]).to_string());
    let mut answers: Vec<Option<Result<S::Output, StoreError>>> =
        items.iter().map(|_| None).collect();
    let mut tx = store.begin_write().await?;
    let mut written = Ok(());
    for i in order {
        match S::step_in(store, &mut tx, &items[i]).await {
            Ok(answer) => answers[i] = Some(answer),
            Err(err) => {
                written = Err(err);
                break;
            }
        }
    }
    tx.settle(written).await?;
    // Each position was filled in the loop over `order`, a permutation of them all.
    Ok(answers
        .into_iter()
        .map(|answer| answer.expect("an answer per item"))
        .collect())
}

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
        in_task_order::<Answers>(store, items).await
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
        // One statement starts them all, which cannot start one task twice: a task
        // redelivered while its first start waited is started step by step.
        let tasks: HashSet<TaskId> = starts.iter().map(|&(id, _)| id).collect();
        if tasks.len() < starts.len() {
            return in_task_order::<Starts>(store, starts).await;
        }
        let mut tx = store.begin_write().await?;
        let taken = store.take_all_in(&mut tx, starts).await;
        let taken = tx.settle(taken).await?;
        Ok(taken.into_iter().map(Ok).collect())
    }

    async fn alone(
        store: &Store,
        &(id, now): &(TaskId, DateTime<Utc>),
    ) -> Result<Taken, StoreError> {
        store.take_task(id, now).await
    }
}

impl TaskStep for Answers {
    fn task(item: &TaskCompletion) -> TaskId {
        item.task
    }

    async fn step_in(
        store: &Store,
        tx: &mut WriteTx,
        item: &TaskCompletion,
    ) -> Result<Result<Completion, StoreError>, StoreError> {
        complete_in(store, tx, item).await
    }
}

impl TaskStep for Starts {
    fn task(&(id, _): &(TaskId, DateTime<Utc>)) -> TaskId {
        id
    }

    async fn step_in(
        store: &Store,
        tx: &mut WriteTx,
        &(id, now): &(TaskId, DateTime<Utc>),
    ) -> Result<Result<Taken, StoreError>, StoreError> {
        // A start that cannot happen is an answer (`Taken`), not a refusal.
        store.take_in(tx, id, now).await.map(Ok)
    }
}
