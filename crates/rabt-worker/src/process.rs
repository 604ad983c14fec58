//! One delivery, from message to acknowledgement: start the task (one statement that
//! also reads it), call the agency, record the outcome (or schedule a retry), and only
//! then ack.
//!
//! The database decides whether work is new: a redelivered message whose task already
//! completed is acked without calling the agency again, and completing a task is a
//! conditional update that applies at most once.

use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tracing::Instrument;

use chrono::{DateTime, Utc};
use rabt_adapter::{AdapterError, Answer, ServiceCall};
use rabt_core::{Agency, Outcome, RequestId, TaskId, TaskMessage};
use rabt_metrics::metrics;
use rabt_queue::Delivery;
use rabt_store::{Completion, StoreError, Taken, TaskCompletion, TaskRecord};

/// Why a delivery could not be handled now; it is requeued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProcessError {
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The retry could not be published.
    #[error("publishing the retry: {0}")]
    Queue(#[from] rabt_queue::QueueError),
}

use crate::Worker;
use crate::gate::{self, Entry};
use crate::retry::retry_message;

/// What to do with a delivery once its task is handled.
#[derive(Debug, PartialEq)]
pub(crate) enum Disposition {
    /// Done (or a duplicate): remove it from the queue.
    Ack,
    /// It can never be processed: park it in the agency's dead-letter queue.
    DeadLetter(&'static str),
}

impl Worker {
    /// Runs a database operation, waiting out an outage: while the database is
    /// unreachable (or a transaction lost a race) the operation is retried with a capped
    /// backoff, and the delivery stays unacknowledged with the broker — so an outage
    /// neither burns the message's delivery limit nor loses it. Gives up only when the
    /// worker stops.
    pub(crate) async fn with_db<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut pause = Duration::from_millis(100);
        let mut failures = 0u32;
        loop {
            match op().await {
                Err(err)
                    if (err.is_unavailable() || err.is_conflict()) && !self.stop.is_cancelled() =>
                {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(error = %err, failures, "{what}: database unavailable; holding the task and retrying");
                    }
                    tokio::select! {
                        () = self.stop.cancelled() => return Err(err),
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// Handles one delivery and always settles it (ack, dead-letter or requeue), within
    /// its CONSUMER span: the child of the publish whose context the message carries.
    pub(crate) async fn handle(&self, delivery: Delivery) {
        let agency = delivery.agency();
        let span = rabt_trace::consumer(
            rabt_queue::TASKS_EXCHANGE,
            &rabt_queue::task_queue(agency),
            agency.as_str(),
            delivery.message_id(),
            delivery.delivery_count(),
            delivery.header(rabt_trace::TRACEPARENT),
        );
        self.handle_in_span(delivery).instrument(span).await;
    }

    async fn handle_in_span(&self, delivery: Delivery) {
        let message = match serde_json::from_slice::<TaskMessage>(delivery.body()) {
            Ok(message) => message,
            Err(err) => {
                let error = rabt_core::pii::redact(&err.to_string());
                tracing::warn!(%error, message_id = ?delivery.message_id(), "undecodable task message");
                settle(delivery, Disposition::DeadLetter("undecodable message")).await;
                return;
            }
        };
        let result = match &message {
            TaskMessage::V1 {
                task,
                request,
                deadline_at,
                ..
            } => {
                tracing::Span::current().record("rabt.task.id", task.to_string());
                self.process(*task, *request, delivery.agency(), *deadline_at)
                    .await
            }
            TaskMessage::CallbackV1 { callback, .. } => self.apply_callback(*callback).await,
        };
        match result {
            Ok(disposition) => settle(delivery, disposition).await,
            Err(err) => {
                // The store failed for good, or the worker is stopping mid-outage: the
                // outcome is not recorded, so the message must come back. A short pause
                // keeps a persistent failure from spinning through the delivery limit.
                tracing::warn!(subject = %message.subject(), error = %err, "cannot record the outcome; requeueing the message");
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Err(err) = delivery.requeue().await {
                    tracing::debug!(%err, "requeue failed; the broker redelivers after the channel closes");
                }
            }
        }
    }

    /// Runs one task. The pause and the gate need only the agency (the queue the message
    /// came from), so the task is started before it is read: the start's
    /// `UPDATE … RETURNING` gives the worker the task, and a task that cannot start
    /// (completed, awaiting its callback, unknown) says so in the same round trip.
    async fn process(
        &self,
        id: TaskId,
        request: RequestId,
        agency: Agency,
        deadline_at: Option<DateTime<Utc>>,
    ) -> Result<Disposition, ProcessError> {
        let mut pass = match self.admit(id, agency, deadline_at).await? {
            ControlFlow::Continue(pass) => pass,
            ControlFlow::Break(disposition) => return Ok(disposition),
        };
        let taken = self
            .with_db("starting a task", || {
                self.starts.take(request, id, Utc::now())
            })
            .await?;
        let task = match self.not_started(id, taken).await? {
            ControlFlow::Continue(task) => task,
            ControlFlow::Break(disposition) => return Ok(disposition),
        };
        let attempt = task.attempts;
        if !pass.paced(&self.stop).await {
            // Stopping while waiting for the agency's rate limit: the task goes back
            // (RUNNING, which the next delivery may start again), its message carrying
            // the attempts made before this one, as if it had not been started.
            let before = TaskRecord {
                attempts: attempt.saturating_sub(1),
                ..task.clone()
            };
            return self.defer(&before, Duration::ZERO, "worker_stopping").await;
        }
        // A deadline already past leaves no time: zero, and the task times out below.
        let remaining = (task.deadline_at - Utc::now()).to_std().unwrap_or_default();
        if remaining.is_zero() {
            let error = "the deadline passed before the agency could be called";
            self.complete(&task, Outcome::Timeout, None, None, Some(error), None)
                .await?;
            return Ok(Disposition::Ack);
        }
        let (result, latency) = self.attempt(&task, pass, remaining).await;
        self.answered(&task, result, latency).await
    }

    /// Lets a task through to its agency, or says what to do with its delivery: a
    /// paused agency's task waits, unattempted; the gate (a free slot, the circuit
    /// breaker) comes before the attempt counts, and a task it turns away goes back
    /// unattempted (see gate.rs). The deadline bounds the wait, and how long an open
    /// circuit may keep it waiting.
    async fn admit(
        &self,
        id: TaskId,
        agency: Agency,
        deadline_at: Option<DateTime<Utc>>,
    ) -> Result<ControlFlow<Disposition, gate::Pass>, ProcessError> {
        if self.pauses.is_paused(agency) {
            return self
                .turn_away(id, crate::pause::PAUSED_RECHECK, "agency_paused")
                .await
                .map(ControlFlow::Break);
        }
        let deadline_at = match deadline_at {
            Some(at) => at,
            None => match self.deadline_of(id).await? {
                Some(at) => at,
                None => return Ok(ControlFlow::Break(Disposition::DeadLetter("unknown task"))),
            },
        };
        // A deadline already past leaves no time: zero, and the gate says Expired.
        let left = (deadline_at - Utc::now()).to_std().unwrap_or_default();
        let turned = match self
            .gates
            .enter(agency, Instant::now() + left, &self.stop)
            .await
        {
            Entry::Go(pass) => return Ok(ControlFlow::Continue(pass)),
            Entry::Wait(wait) => self.turn_away(id, wait, "circuit_open").await,
            Entry::Stopped => self.turn_away(id, Duration::ZERO, "worker_stopping").await,
            Entry::Expired => self.expire(id).await,
        };
        turned.map(ControlFlow::Break)
    }

    /// Calls the agency once, within `remaining` and the call timeout, in the attempt's
    /// CLIENT span (the adapter forwards its context to the agency and records the HTTP
    /// attributes on it); tells the gate and the metrics how it went. The answer and
    /// how long it took, in milliseconds.
    async fn attempt(
        &self,
        task: &TaskRecord,
        pass: gate::Pass,
        remaining: Duration,
    ) -> (Result<Answer, AdapterError>, i64) {
        let timeout = remaining.min(self.settings.call_timeout);
        let started = Instant::now();
        let span = rabt_trace::agency_call(
            task.agency.as_str(),
            task.service.as_str(),
            &task.id.to_string(),
            task.attempts,
        );
        let traceparent = rabt_trace::traceparent(&span);
        let result = self
            .call(task, task.attempts, timeout, traceparent.as_deref())
            .instrument(span.clone())
            .await;
        span.record("rabt.outcome", call_label(&result));
        if let Err(err) = &result {
            span.record("error.type", err.kind());
            rabt_trace::set_error(&span, err.kind());
        }
        drop(span);
        pass.record(gate::signal(&result));
        metrics().agency_call(
            task.agency,
            task.service.as_str(),
            call_label(&result),
            started.elapsed(),
        );
        let latency = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        (result, latency)
    }

    /// Records what the agency said: its final answer, or its acceptance of a call it
    /// answers later by callback (the deadline sweeper ends the task TIMEOUT if it never
    /// does), or a failure (retried or dead-lettered).
    async fn answered(
        &self,
        task: &TaskRecord,
        result: Result<Answer, AdapterError>,
        latency: i64,
    ) -> Result<Disposition, ProcessError> {
        match result {
            Ok(Answer::Final {
                outcome,
                data,
                upstream_ref,
            }) => {
                self.complete(task, outcome, Some(data), upstream_ref, None, Some(latency))
                    .await?;
            }
            Ok(Answer::Submitted { upstream_ref }) => {
                let id = task.id;
                let recorded = self
                    .with_db("recording a submission", || {
                        self.store.submit_task(id, &upstream_ref, Utc::now())
                    })
                    .await?;
                tracing::info!(task = %id, %upstream_ref, recorded, latency_ms = latency, "agency accepted the call; awaiting its callback");
            }
            Err(err) => return self.failed(task, task.attempts, err, latency).await,
        }
        Ok(Disposition::Ack)
    }

    /// The started task to go on with, or what to do with the delivery of a task that
    /// could not start: a redelivery of a completed task (a composite's check releases
    /// the checks waiting for it) or of one awaiting its callback is acked, a message
    /// for an unknown task dead-lettered.
    async fn not_started(
        &self,
        id: TaskId,
        taken: Taken,
    ) -> Result<ControlFlow<Disposition, TaskRecord>, ProcessError> {
        match taken {
            Taken::Started(task) => Ok(ControlFlow::Continue(task)),
            Taken::AlreadyCompleted(task) => {
                tracing::debug!(task = %id, state = ?task.state, "duplicate delivery of a handled task");
                self.compose_after_redelivery(&task).await?;
                Ok(ControlFlow::Break(Disposition::Ack))
            }
            Taken::AwaitingCallback => {
                tracing::debug!(task = %id, "duplicate delivery of a task awaiting its callback");
                Ok(ControlFlow::Break(Disposition::Ack))
            }
            Taken::NotFound => {
                tracing::warn!(task = %id, "message for an unknown task");
                Ok(ControlFlow::Break(Disposition::DeadLetter("unknown task")))
            }
        }
    }

    /// Calls the adapter, and checks its answer against the service's output schema:
    /// an agency's answer is untrusted input too.
    async fn call(
        &self,
        task: &TaskRecord,
        attempt: u32,
        timeout: Duration,
        traceparent: Option<&str>,
    ) -> Result<Answer, AdapterError> {
        let adapter = self
            .adapters
            .get(&task.agency)
            .ok_or_else(|| AdapterError::UnsupportedService(task.service.clone()))?;
        let call = ServiceCall {
            task: task.id,
            service: &task.service,
            input: &task.input,
            attempt,
            timeout,
            // The agency call's own span when traces are on, else the request's.
            traceparent: traceparent.or(task.traceparent.as_deref()),
        };
        // The adapter applies the timeout to its HTTP calls; this outer bound catches an
        // adapter that does not.
        let guarded = AssertUnwindSafe(adapter.call(call)).catch_unwind();
        let answer = match tokio::time::timeout(timeout + Duration::from_secs(1), guarded).await {
            Err(_) => return Err(AdapterError::Timeout(timeout)),
            // A panicking adapter is a bug of ours, not the agency's: end the task rather
            // than redeliver it until the delivery limit.
            Ok(Err(_panic)) => {
                tracing::error!(task = %task.id, agency = %task.agency, "the adapter panicked");
                return Err(AdapterError::Refused {
                    outcome: Outcome::UpstreamError,
                    reason: "the adapter failed unexpectedly (a bug in Rabt, logged)".to_owned(),
                });
            }
            Ok(Ok(result)) => result?,
        };
        let service = self.catalogue.service(task.service.as_str());
        if let (Answer::Final { data, .. }, Some(service)) = (&answer, service)
            && let Err(violations) = service.validate_output(data)
        {
            let first = violations
                .first()
                .map(|v| format!("{}: {}", v.pointer, v.message.en));
            return Err(AdapterError::Malformed(format!(
                "answer breaks the output schema ({})",
                // A refusal names at least one violation; were it none, the text would
                // only lack its detail, the answer is refused all the same.
                first.unwrap_or_default()
            )));
        }
        Ok(answer)
    }

    /// A failed call: retry later if the error allows it and there is time, else end
    /// the task with the error's outcome.
    async fn failed(
        &self,
        task: &TaskRecord,
        attempt: u32,
        err: AdapterError,
        latency: i64,
    ) -> Result<Disposition, ProcessError> {
        // A task's service was in the catalogue when it was accepted; one removed since
        // (a catalogue change) is retried by the default policy rather than never.
        let policy = self
            .catalogue
            .service(task.service.as_str())
            .map(|s| s.retry)
            .unwrap_or_default();
        // The broker holds a retry for its tier's whole wait, which may be longer than
        // the backoff: decide on the wait that will really happen.
        let delay = self.transport.retry_delay(policy.delay(
            attempt,
            rand::random::<f64>(),
            err.retry_after(),
        ));
        // A deadline already past leaves no time: zero, and no retry.
        let time_left = (task.deadline_at - Utc::now()).to_std().unwrap_or_default();
        if err.is_retryable() && policy.allows_another_after(attempt) && delay < time_left {
            tracing::info!(task = %task.id, attempt, error = %shown(&err), retry_in_ms = delay.as_millis() as u64, "agency call failed; retrying later");
            let failed_at = Utc::now();
            let scheduled = self
                .with_db("scheduling a retry", || {
                    self.store.schedule_retry(task.id, err.kind(), failed_at)
                })
                .await?;
            if scheduled {
                metrics().retry(task.agency, task.service.as_str());
                let failing = TaskRecord {
                    first_failure_at: task.first_failure_at.or(Some(failed_at)),
                    ..task.clone()
                };
                // If this fails the task is QUEUED in the database and the requeued
                // original runs it again.
                self.publish_retry(retry_message(&failing, attempt), delay)
                    .await?;
            }
            return Ok(Disposition::Ack);
        }
        if err.is_retryable() && !policy.allows_another_after(attempt) {
            // Out of attempts: the task goes to the agency's dead letters, where the
            // drain ends it UPSTREAM_ERROR and an operator can replay it once the
            // agency is well again.
            tracing::warn!(task = %task.id, attempt, error = %shown(&err), "agency call failed and no attempt is left; dead-lettering the task");
            return Ok(Disposition::DeadLetter(exhausted_reason(&err)));
        }
        let message = shown(&err);
        tracing::info!(task = %task.id, attempt, error = %message, "agency call failed for good");
        self.complete(
            task,
            err.final_outcome(),
            None,
            None,
            Some(&message),
            Some(latency),
        )
        .await?;
        Ok(Disposition::Ack)
    }

    pub(crate) async fn complete(
        &self,
        task: &TaskRecord,
        outcome: Outcome,
        data: Option<serde_json::Value>,
        upstream_ref: Option<String>,
        error: Option<&str>,
        latency_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let completion = TaskCompletion {
            task: task.id,
            outcome,
            data,
            upstream_ref,
            error: error.map(str::to_owned),
            latency_ms,
            completed_at: Utc::now(),
        };
        // A check of a composite: the checks waiting for it are decided in the same
        // transaction, which this span covers.
        let span = match task.child {
            Some(_) => rabt_trace::composite_decision(&task.request.to_string()),
            None => tracing::Span::none(),
        };
        match self
            .with_db("recording an outcome", || {
                self.completions.complete(task.request, completion.clone())
            })
            .instrument(span.clone())
            .await?
        {
            // A check others waited for was decided in the answer's transaction
            // (`decided`); `checks_waiting` is for stores that do not decide.
            Completion::Applied {
                request_completed,
                decided,
                ..
            } => {
                tracing::info!(task = %task.id, request = %task.request, %outcome, "task completed");
                metrics().task_finished(task.agency, task.service.as_str(), outcome.as_str());
                if let Some(decided) = &decided {
                    self.report_decided(&span, task.request, decided);
                }
                if let Some(done) = request_completed {
                    self.request_completed(done);
                }
            }
            Completion::AlreadyCompleted => {
                tracing::debug!(task = %task.id, "task was already completed; result not applied again");
                self.compose_after_redelivery(task).await?;
            }
        }
        Ok(())
    }

    /// A check of a composite that already has its outcome, met again (a redelivered
    /// message or callback): the worker that recorded the outcome may have died, or
    /// stopped, before releasing the checks waiting for it, and nothing else would
    /// release them before the request's deadline. Deciding again is idempotent.
    pub(crate) async fn compose_after_redelivery(
        &self,
        task: &TaskRecord,
    ) -> Result<(), StoreError> {
        if task.child.is_some() {
            self.compose(task.request).await?;
        }
        Ok(())
    }
}

/// The dead-letter reason of a task whose retryable failures used up its attempts,
/// naming the last failure's kind.
/// An agency call's error as it may be logged and stored: anything in it that looks like
/// an identity number, a mobile or a quoted name (an agency's own message, a parser's
/// complaint about its answer) masked.
pub(crate) fn shown(err: &AdapterError) -> String {
    rabt_core::pii::redact(&err.to_string())
}

fn exhausted_reason(err: &AdapterError) -> &'static str {
    match err {
        AdapterError::Timeout(_) => "attempts exhausted: timeout",
        AdapterError::Malformed(_) => "attempts exhausted: malformed",
        _ => "attempts exhausted: unavailable",
    }
}

/// How a call ended, as the `rabt_agency_calls` metric labels it: the outcome the
/// agency's answer gave, `SUBMITTED` for a call answered later by callback, or the
/// kind of failure (`unavailable`, `timeout`, `malformed`, `refused`, ...).
fn call_label(result: &Result<Answer, AdapterError>) -> &'static str {
    match result {
        Ok(Answer::Final { outcome, .. }) => outcome.as_str(),
        Ok(Answer::Submitted { .. }) => "SUBMITTED",
        Err(err) => err.kind(),
    }
}

async fn settle(delivery: Delivery, disposition: Disposition) {
    let result = match disposition {
        Disposition::Ack => delivery.ack().await,
        Disposition::DeadLetter(reason) => delivery.dead_letter(reason).await,
    };
    if let Err(err) = result {
        // The channel is gone: the broker redelivers, and the task's state in the
        // database turns the redelivery into a plain ack.
        tracing::debug!(%err, "could not settle a delivery");
    }
}
