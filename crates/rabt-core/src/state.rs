//! The request and task state machines. States change only through [`TaskState::apply`]
//! and [`RequestStatus::advance`], which refuse illegal transitions, so a completed task
//! can never be completed a second time. The one way back is an operator replaying a
//! dead-lettered task ([`TaskEvent::Reopened`], [`RequestStatus::reopen`]), with the
//! checks of a composite that were skipped because of it ([`TaskEvent::Unskipped`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// A transition that the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition: {event} in state {from}")]
pub struct IllegalTransition {
    /// The state the record was in.
    pub from: &'static str,
    /// What was attempted.
    pub event: &'static str,
}

/// The stored status of a task, without its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// A check of a composite request waiting for the checks it depends on (its input
    /// comes from their answers).
    Blocked,
    /// Waiting in a queue for a worker (first attempt or a scheduled retry).
    Queued,
    /// A worker is calling the agency.
    Running,
    /// The agency accepted the call and will answer by callback.
    AwaitingCallback,
    /// Terminal: the task has its outcome.
    Completed,
}

impl TaskStatus {
    /// The wire and storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Blocked => "BLOCKED",
            TaskStatus::Queued => "QUEUED",
            TaskStatus::Running => "RUNNING",
            TaskStatus::AwaitingCallback => "AWAITING_CALLBACK",
            TaskStatus::Completed => "COMPLETED",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        [
            TaskStatus::Blocked,
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::AwaitingCallback,
            TaskStatus::Completed,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task's state, with the outcome once it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// See [`TaskStatus::Blocked`].
    Blocked,
    /// See [`TaskStatus::Queued`].
    Queued,
    /// See [`TaskStatus::Running`].
    Running,
    /// See [`TaskStatus::AwaitingCallback`].
    AwaitingCallback,
    /// See [`TaskStatus::Completed`].
    Completed(Outcome),
}

/// Something that happens to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEvent {
    /// The checks a blocked task depends on answered, and its input is known.
    Released,
    /// A blocked task will never run, because a check it depends on did not answer
    /// `OK`: it ends with that check's outcome.
    Skipped(Outcome),
    /// A worker took the task and is about to call the agency. Allowed again while
    /// running: a worker that died mid-call leaves the task running, and the
    /// redelivered message starts it anew.
    Started,
    /// The agency answered (synchronously, or by callback).
    Answered(Outcome),
    /// A transient failure; the task waits in a retry queue.
    RetryScheduled,
    /// The agency accepted the call and will call back.
    Submitted,
    /// The task's deadline passed without an answer.
    DeadlinePassed,
    /// Its message could never be processed (undecodable for the worker, or handed out
    /// more often than the delivery limit) and was moved to the dead letters: a queued
    /// or running task ends `UPSTREAM_ERROR`. A task awaiting its callback is not
    /// ended: the agency has it, and its answer (or the deadline) still ends it.
    DeadLettered,
    /// An operator replays a dead-lettered task: `COMPLETED(UPSTREAM_ERROR)` becomes
    /// `QUEUED` again. The only way out of `COMPLETED`, and deliberately narrow: an
    /// operator correcting an outage is not a late answer (which never reopens a
    /// verdict), so only the outcome a dead letter gives is reopened. The state cannot
    /// tell a dead letter's `UPSTREAM_ERROR` from an agency's; the store allows this
    /// event only for a task marked dead-lettered.
    Reopened,
    /// A check of a composite that was skipped (never run, because a check it waits for
    /// did not answer `OK`) waits again, `BLOCKED`, because an operator replays a
    /// dead-lettered check of the same request: once the replayed check has its
    /// outcome, whether this one runs is decided again. Only from an outcome a skip
    /// gives (never `OK`, and never `TIMEOUT`: a deadline is final).
    Unskipped,
}

impl TaskEvent {
    const fn name(self) -> &'static str {
        match self {
            TaskEvent::Released => "release",
            TaskEvent::Skipped(_) => "skip",
            TaskEvent::Started => "start",
            TaskEvent::Answered(_) => "answer",
            TaskEvent::RetryScheduled => "retry",
            TaskEvent::Submitted => "submit",
            TaskEvent::DeadlinePassed => "deadline",
            TaskEvent::DeadLettered => "dead-letter",
            TaskEvent::Reopened => "reopen",
            TaskEvent::Unskipped => "unskip",
        }
    }
}

impl TaskState {
    /// Rebuilds a state from its stored parts. A completed status needs an outcome,
    /// and only a completed status may have one.
    pub fn from_parts(status: TaskStatus, outcome: Option<Outcome>) -> Option<TaskState> {
        match (status, outcome) {
            (TaskStatus::Blocked, None) => Some(TaskState::Blocked),
            (TaskStatus::Queued, None) => Some(TaskState::Queued),
            (TaskStatus::Running, None) => Some(TaskState::Running),
            (TaskStatus::AwaitingCallback, None) => Some(TaskState::AwaitingCallback),
            (TaskStatus::Completed, Some(o)) => Some(TaskState::Completed(o)),
            _ => None,
        }
    }

    /// The status without the outcome.
    pub const fn status(self) -> TaskStatus {
        match self {
            TaskState::Blocked => TaskStatus::Blocked,
            TaskState::Queued => TaskStatus::Queued,
            TaskState::Running => TaskStatus::Running,
            TaskState::AwaitingCallback => TaskStatus::AwaitingCallback,
            TaskState::Completed(_) => TaskStatus::Completed,
        }
    }

    /// The outcome, once completed.
    pub const fn outcome(self) -> Option<Outcome> {
        match self {
            TaskState::Completed(o) => Some(o),
            _ => None,
        }
    }

    /// Whether the task has its final outcome.
    pub const fn is_terminal(self) -> bool {
        matches!(self, TaskState::Completed(_))
    }

    /// The state after `event`, or why it cannot happen.
    pub fn apply(self, event: TaskEvent) -> Result<TaskState, IllegalTransition> {
        use TaskEvent as E;
        use TaskState as S;
        match (self, event) {
            (S::Blocked, E::Released) => Ok(S::Queued),
            (S::Blocked, E::Skipped(outcome)) => Ok(S::Completed(outcome)),
            (S::Queued | S::Running, E::Started) => Ok(S::Running),
            (S::Running | S::AwaitingCallback, E::Answered(outcome)) => Ok(S::Completed(outcome)),
            (S::Running, E::RetryScheduled) => Ok(S::Queued),
            (S::Running, E::Submitted) => Ok(S::AwaitingCallback),
            (S::Blocked | S::Queued | S::Running | S::AwaitingCallback, E::DeadlinePassed) => {
                Ok(S::Completed(Outcome::Timeout))
            }
            (S::Queued | S::Running, E::DeadLettered) => Ok(S::Completed(Outcome::UpstreamError)),
            (S::Completed(Outcome::UpstreamError), E::Reopened) => Ok(S::Queued),
            (
                S::Completed(
                    Outcome::NotFound
                    | Outcome::Mismatch
                    | Outcome::InvalidInput
                    | Outcome::UpstreamError,
                ),
                E::Unskipped,
            ) => Ok(S::Blocked),
            (
                S::Queued | S::Running | S::AwaitingCallback | S::Completed(_),
                E::Released | E::Skipped(_),
            )
            | (
                S::Blocked | S::Queued | S::AwaitingCallback | S::Completed(_),
                E::Started | E::RetryScheduled | E::Submitted,
            )
            | (S::Blocked | S::Queued | S::Completed(_), E::Answered(_))
            | (S::Completed(_), E::DeadlinePassed)
            | (S::Blocked | S::AwaitingCallback | S::Completed(_), E::DeadLettered)
            | (S::Blocked | S::Queued | S::Running | S::AwaitingCallback, E::Reopened)
            | (
                S::Completed(
                    Outcome::Ok
                    | Outcome::NotFound
                    | Outcome::Mismatch
                    | Outcome::InvalidInput
                    | Outcome::Timeout,
                ),
                E::Reopened,
            )
            | (
                S::Blocked
                | S::Queued
                | S::Running
                | S::AwaitingCallback
                | S::Completed(Outcome::Ok | Outcome::Timeout),
                E::Unskipped,
            ) => Err(IllegalTransition {
                from: self.status().as_str(),
                event: event.name(),
            }),
        }
    }
}

/// The lifecycle of a cooperative's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestStatus {
    /// Stored and queued; no agency has been called yet.
    Accepted,
    /// At least one of its tasks has started.
    Running,
    /// Terminal: every task has its outcome (or the deadline passed) and the request
    /// has its verdict.
    Completed,
}

impl RequestStatus {
    /// The wire and storage name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Accepted => "ACCEPTED",
            RequestStatus::Running => "RUNNING",
            RequestStatus::Completed => "COMPLETED",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<RequestStatus> {
        [
            RequestStatus::Accepted,
            RequestStatus::Running,
            RequestStatus::Completed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// Moves forward to `next`. Requests only move forward; staying `Running` is
    /// allowed (every task start reports it), anything out of `Completed` is not.
    pub fn advance(self, next: RequestStatus) -> Result<RequestStatus, IllegalTransition> {
        use RequestStatus as R;
        match (self, next) {
            (R::Accepted, R::Running | R::Completed) | (R::Running, R::Running | R::Completed) => {
                Ok(next)
            }
            (R::Accepted, R::Accepted) | (R::Running, R::Accepted) | (R::Completed, _) => {
                Err(IllegalTransition {
                    from: self.as_str(),
                    event: next.as_str(),
                })
            }
        }
    }

    /// Whether the request has its verdict.
    pub const fn is_terminal(self) -> bool {
        matches!(self, RequestStatus::Completed)
    }

    /// Reopens a completed request because an operator replayed one of its
    /// dead-lettered tasks ([`TaskEvent::Reopened`]): `COMPLETED` goes back to
    /// `RUNNING`, its verdict is cleared, and it completes again (with a new event)
    /// once the task has run. Kept apart from [`RequestStatus::advance`], which only
    /// moves forward: nothing but an operator's replay takes a request back.
    pub fn reopen(self) -> Result<RequestStatus, IllegalTransition> {
        match self {
            RequestStatus::Completed => Ok(RequestStatus::Running),
            RequestStatus::Accepted | RequestStatus::Running => Err(IllegalTransition {
                from: self.as_str(),
                event: "reopen",
            }),
        }
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [TaskState; 6] = [
        TaskState::Blocked,
        TaskState::Queued,
        TaskState::Running,
        TaskState::AwaitingCallback,
        TaskState::Completed(Outcome::Ok),
        TaskState::Completed(Outcome::Timeout),
    ];
    const EVENTS: [TaskEvent; 8] = [
        TaskEvent::Released,
        TaskEvent::Skipped(Outcome::NotFound),
        TaskEvent::Started,
        TaskEvent::Answered(Outcome::Ok),
        TaskEvent::Answered(Outcome::NotFound),
        TaskEvent::RetryScheduled,
        TaskEvent::Submitted,
        TaskEvent::DeadlinePassed,
    ];

    #[test]
    fn happy_paths() {
        let done = TaskState::Queued
            .apply(TaskEvent::Started)
            .and_then(|s| s.apply(TaskEvent::Answered(Outcome::Ok)))
            .unwrap();
        assert_eq!(done, TaskState::Completed(Outcome::Ok));

        let retried = TaskState::Queued
            .apply(TaskEvent::Started)
            .and_then(|s| s.apply(TaskEvent::RetryScheduled))
            .and_then(|s| s.apply(TaskEvent::Started))
            .and_then(|s| s.apply(TaskEvent::Submitted))
            .and_then(|s| s.apply(TaskEvent::Answered(Outcome::Mismatch)))
            .unwrap();
        assert_eq!(retried.outcome(), Some(Outcome::Mismatch));
    }

    #[test]
    fn nothing_leaves_a_completed_task() {
        for state in STATES.iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                assert!(state.apply(event).is_err(), "{state:?} + {event:?}");
            }
        }
    }

    #[test]
    fn a_dead_letter_ends_a_queued_or_running_task_upstream_error() {
        for state in [TaskState::Queued, TaskState::Running] {
            assert_eq!(
                state.apply(TaskEvent::DeadLettered),
                Ok(TaskState::Completed(Outcome::UpstreamError))
            );
        }
        // Blocked has no message; an agency holds an awaiting task; nothing leaves
        // COMPLETED that way.
        for state in [
            TaskState::Blocked,
            TaskState::AwaitingCallback,
            TaskState::Completed(Outcome::Ok),
            TaskState::Completed(Outcome::UpstreamError),
        ] {
            assert!(state.apply(TaskEvent::DeadLettered).is_err(), "{state:?}");
        }
    }

    #[test]
    fn only_an_upstream_error_is_reopened_and_only_to_queued() {
        assert_eq!(
            TaskState::Completed(Outcome::UpstreamError).apply(TaskEvent::Reopened),
            Ok(TaskState::Queued)
        );
        for outcome in Outcome::ALL {
            if outcome != Outcome::UpstreamError {
                let state = TaskState::Completed(outcome);
                assert!(state.apply(TaskEvent::Reopened).is_err(), "{state:?}");
            }
        }
        for state in STATES.iter().filter(|s| !s.is_terminal()) {
            let err = state.apply(TaskEvent::Reopened).unwrap_err();
            assert_eq!(err.event, "reopen");
        }
    }

    #[test]
    fn deadline_times_out_any_open_task() {
        for state in STATES.iter().filter(|s| !s.is_terminal()) {
            assert_eq!(
                state.apply(TaskEvent::DeadlinePassed),
                Ok(TaskState::Completed(Outcome::Timeout))
            );
        }
    }

    #[test]
    fn a_blocked_task_is_released_or_skipped_and_nothing_else() {
        assert_eq!(
            TaskState::Blocked.apply(TaskEvent::Released),
            Ok(TaskState::Queued)
        );
        assert_eq!(
            TaskState::Blocked.apply(TaskEvent::Skipped(Outcome::Timeout)),
            Ok(TaskState::Completed(Outcome::Timeout))
        );
        for event in [
            TaskEvent::Started,
            TaskEvent::Answered(Outcome::Ok),
            TaskEvent::Submitted,
        ] {
            assert!(TaskState::Blocked.apply(event).is_err(), "{event:?}");
        }
        for state in [
            TaskState::Queued,
            TaskState::Running,
            TaskState::AwaitingCallback,
        ] {
            assert!(state.apply(TaskEvent::Released).is_err(), "{state:?}");
        }
    }

    #[test]
    fn a_queued_task_cannot_be_answered_without_starting() {
        let err = TaskState::Queued
            .apply(TaskEvent::Answered(Outcome::Ok))
            .unwrap_err();
        assert_eq!(err.from, "QUEUED");
    }

    #[test]
    fn stored_parts_round_trip() {
        for state in STATES {
            assert_eq!(
                TaskState::from_parts(state.status(), state.outcome()),
                Some(state)
            );
            assert_eq!(
                TaskStatus::parse(state.status().as_str()),
                Some(state.status())
            );
        }
        assert_eq!(TaskState::from_parts(TaskStatus::Completed, None), None);
        assert_eq!(
            TaskState::from_parts(TaskStatus::Queued, Some(Outcome::Ok)),
            None
        );
    }

    #[test]
    fn requests_only_move_forward() {
        use RequestStatus as R;
        assert_eq!(R::Accepted.advance(R::Running), Ok(R::Running));
        assert_eq!(R::Running.advance(R::Completed), Ok(R::Completed));
        assert_eq!(R::Accepted.advance(R::Completed), Ok(R::Completed));
        assert!(R::Completed.advance(R::Running).is_err());
        assert!(R::Completed.advance(R::Completed).is_err());
        assert!(R::Running.advance(R::Accepted).is_err());
    }

    #[test]
    fn only_what_a_skip_gives_is_unskipped_and_only_to_blocked() {
        for outcome in Outcome::ALL {
            let unskipped = TaskState::Completed(outcome).apply(TaskEvent::Unskipped);
            match outcome {
                Outcome::Ok | Outcome::Timeout => assert!(unskipped.is_err(), "{outcome}"),
                Outcome::NotFound
                | Outcome::Mismatch
                | Outcome::InvalidInput
                | Outcome::UpstreamError => assert_eq!(unskipped, Ok(TaskState::Blocked)),
            }
        }
        for state in STATES.iter().filter(|s| !s.is_terminal()) {
            assert!(state.apply(TaskEvent::Unskipped).is_err(), "{state:?}");
        }
    }

    #[test]
    fn only_a_completed_request_is_reopened() {
        use RequestStatus as R;
        assert_eq!(R::Completed.reopen(), Ok(R::Running));
        assert!(R::Running.reopen().is_err());
        assert!(R::Accepted.reopen().is_err());
    }
}
