//! Applying an agency's callback. The API checked its signature, timestamp, replay and
//! schema, correlated its reference to a task and stored it; here the agency's adapter
//! reads it (`Adapter::callback`) and each answer it carries completes its task — or,
//! for a task that already timed out, is kept beside it as a late answer.

use chrono::Utc;
use rabt_core::{CallbackId, Outcome};
use rabt_store::{CallbackRecord, TaskRecord};

use crate::Worker;
use crate::process::{Disposition, ProcessError};

impl Worker {
    /// Applies one stored callback; a callback applied before is acknowledged as is.
    pub(crate) async fn apply_callback(&self, id: CallbackId) -> Result<Disposition, ProcessError> {
        let Some(callback) = self
            .with_db("reading a callback", || self.store.callback(id))
            .await?
        else {
            tracing::warn!(callback = %id, "message for an unknown callback");
            return Ok(Disposition::DeadLetter("unknown callback"));
        };
        if callback.applied_at.is_some() {
            tracing::debug!(callback = %id, "duplicate delivery of an applied callback");
            return Ok(Disposition::Ack);
        }
        let Some(adapter) = self.adapters.get(&callback.agency) else {
            return Ok(Disposition::DeadLetter(
                "no adapter for the callback's agency",
            ));
        };
        match adapter.callback(&callback.body) {
            Ok(answers) => {
                for answer in answers {
                    self.apply_answer(&callback, &answer.upstream_ref, answer.outcome, answer.data)
                        .await?;
                }
            }
            Err(err) => {
                // The body passed the agency's schema but the adapter cannot read it: the
                // task the API correlated it to ends UPSTREAM_ERROR rather than waiting
                // for a deadline.
                let error = crate::process::shown(&err);
                tracing::warn!(callback = %id, agency = %callback.agency, %error, "unusable callback");
                if let Some(task) = self.task(&callback, &callback.reference).await? {
                    self.complete(
                        &task,
                        Outcome::UpstreamError,
                        None,
                        None,
                        Some(&error),
                        None,
                    )
                    .await?;
                }
            }
        }
        self.with_db("marking a callback applied", || {
            self.store.mark_callback_applied(id, Utc::now())
        })
        .await?;
        Ok(Disposition::Ack)
    }

    async fn apply_answer(
        &self,
        callback: &CallbackRecord,
        reference: &str,
        outcome: Outcome,
        data: serde_json::Value,
    ) -> Result<(), ProcessError> {
        let Some(task) = self.task(callback, reference).await? else {
            tracing::warn!(callback = %callback.id, reference, "callback answer for an unknown reference; ignored");
            return Ok(());
        };
        let latency = (Utc::now() - callback.received_at).num_milliseconds();
        // The agency's answer is untrusted input: it must fit the service's output.
        let checked = self
            .catalogue
            .service(task.service.as_str())
            .map(|s| s.validate_output(&data))
            .unwrap_or(Ok(()));
        match checked {
            Ok(()) => {
                self.complete(
                    &task,
                    outcome,
                    Some(data),
                    Some(reference.to_owned()),
                    None,
                    Some(latency.max(0)),
                )
                .await?;
            }
            Err(violations) => {
                let first = violations
                    .first()
                    .map(|v| format!("{}: {}", v.pointer, v.message.en))
                    .unwrap_or_else(|| "no violation named".to_owned());
                let error = format!("the agency's callback breaks the output schema ({first})");
                tracing::warn!(callback = %callback.id, task = %task.id, %error);
                self.complete(
                    &task,
                    Outcome::UpstreamError,
                    None,
                    Some(reference.to_owned()),
                    Some(&error),
                    None,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The task an answer of this callback refers to.
    async fn task(
        &self,
        callback: &CallbackRecord,
        reference: &str,
    ) -> Result<Option<TaskRecord>, ProcessError> {
        if reference == callback.reference {
            return Ok(self
                .with_db("reading a task", || self.store.task_for_work(callback.task))
                .await?);
        }
        Ok(self
            .with_db("finding a task by reference", || {
                self.store.task_by_upstream_ref(callback.agency, reference)
            })
            .await?)
    }
}
