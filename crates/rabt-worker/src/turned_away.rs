//! What becomes of a task the pause or its agency's gate turned away before it was
//! started: it goes back through the retry tier unattempted (marked
//! [`DEFERRED_HEADER`]), ends as TIMEOUT when its deadline passed while it waited, or,
//! read in this rare path only, turns out to be a redelivery of a handled task.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rabt_core::{Outcome, TaskId, TaskState};
use rabt_store::TaskRecord;

use crate::Worker;
use crate::gate::DEFERRED_HEADER;
use crate::process::{Disposition, ProcessError};
use crate::retry::retry_message;

impl Worker {
    /// A task the pause or the gate turned away: read (a rare path, so the common one
    /// needs no read) to tell a task still to run, which goes back unattempted, from a
    /// redelivery of a handled one, acked as ever.
    pub(crate) async fn turn_away(
        &self,
        id: TaskId,
        wait: Duration,
        why: &'static str,
    ) -> Result<Disposition, ProcessError> {
        match self.open_task(id).await? {
            Ok(task) => self.defer(&task, wait, why).await,
            Err(handled) => Ok(handled),
        }
    }

    /// The task's deadline passed while its agency's gate held it (an open circuit):
    /// it ends as TIMEOUT. The deadline came with the message; a task replayed or
    /// reopened since has a later one, and goes back to wait for its agency instead.
    pub(crate) async fn expire(&self, id: TaskId) -> Result<Disposition, ProcessError> {
        let task = match self.open_task(id).await? {
            Ok(task) => task,
            Err(handled) => return Ok(handled),
        };
        if task.deadline_at > Utc::now() {
            return self.defer(&task, Duration::ZERO, "circuit_open").await;
        }
        // The deadline sweeper may have ended it already: completing is conditional,
        // so whichever comes first counts.
        let error = "the deadline passed while the agency's circuit was open";
        self.complete(&task, Outcome::Timeout, None, None, Some(error), None)
            .await?;
        Ok(Disposition::Ack)
    }

    /// The deadline of a task whose message did not carry it (written before messages
    /// did); `None` for an unknown task.
    pub(crate) async fn deadline_of(
        &self,
        id: TaskId,
    ) -> Result<Option<DateTime<Utc>>, ProcessError> {
        let task = self
            .with_db("reading a task", || self.store.task_for_work(id))
            .await?;
        if task.is_none() {
            tracing::warn!(task = %id, "message for an unknown task");
        }
        Ok(task.map(|task| task.deadline_at))
    }

    /// Reads a task the gate turned away: the task if it is still to run, or what to do
    /// with its message if it is unknown (dead-lettered) or already handled (a
    /// redelivery: acked, a composite's check releasing its dependants).
    async fn open_task(&self, id: TaskId) -> Result<Result<TaskRecord, Disposition>, ProcessError> {
        let Some(task) = self
            .with_db("reading a task", || self.store.task_for_work(id))
            .await?
        else {
            tracing::warn!(task = %id, "message for an unknown task");
            return Ok(Err(Disposition::DeadLetter("unknown task")));
        };
        match task.state {
            TaskState::Completed(_) | TaskState::AwaitingCallback => {
                tracing::debug!(task = %id, state = ?task.state, "duplicate delivery of a handled task");
                if task.state.is_terminal() {
                    self.compose_after_redelivery(&task).await?;
                }
                Ok(Err(Disposition::Ack))
            }
            TaskState::Blocked | TaskState::Queued | TaskState::Running => Ok(Ok(task)),
        }
    }

    /// Sends a task its gate turned away back through the retry tier, unattempted: its
    /// message again, acked here. `why` goes in the [`DEFERRED_HEADER`].
    pub(crate) async fn defer(
        &self,
        task: &TaskRecord,
        wait: Duration,
        why: &'static str,
    ) -> Result<Disposition, ProcessError> {
        // Back no later than the cooldown ends (a tier rounded up could hold it for
        // minutes past a cooldown of seconds).
        let delay = self.transport.retry_delay_within(wait);
        let message = retry_message(task, task.attempts).with_header(DEFERRED_HEADER, why);
        self.publish_retry(message, delay).await?;
        self.gates.count_deferral(task.agency);
        tracing::debug!(task = %task.id, agency = %task.agency, why, wait_ms = delay.as_millis() as u64, "task sent back unattempted");
        Ok(Disposition::Ack)
    }
}
