//! Composite requests (e.g. `cooperative.establishment.check`): when a check ends, the
//! checks waiting for it are released with the input its answer gives them, or skipped
//! with its outcome when it did not answer `OK`. The catalogue declares who waits for
//! whom and how inputs are built; nothing here knows a particular composite.
//!
//! [`CatalogueDecider`] decides; the store applies its decisions inside the transaction
//! that recorded the answer ([`rabt_store::Store::deciding_with`]), so an answer and what
//! it releases commit together. [`Worker::compose`] decides again in a transaction of
//! its own where no answer is being recorded: after a redelivery, a timeout or a
//! dead letter, and at start-up.
//!
//! Deciding is idempotent: every decision is a conditional update of a BLOCKED task, so
//! several workers finishing sibling checks at once each apply a decision at most once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rabt_catalogue::Catalogue;
use rabt_catalogue::composite::{Child, CompositeSpec};
use rabt_core::{Outcome, RequestId, TaskState};
use rabt_store::{Decided, Decider, Release, RequestRecord, StoreError, TaskView};
use serde_json::Value;
use tracing::Instrument;

use crate::Worker;

/// What to do with one blocked check, as the catalogue says.
enum Decision {
    /// Its dependencies have not all ended.
    Wait,
    /// Run it with this input.
    Release(Value),
    /// It can never run: end it with this outcome.
    Skip(Outcome, String),
}

/// Decides a composite's waiting checks from the catalogue, for the store to apply.
#[derive(Debug)]
pub(crate) struct CatalogueDecider {
    catalogue: Arc<Catalogue>,
}

impl CatalogueDecider {
    pub(crate) fn new(catalogue: Arc<Catalogue>) -> Self {
        Self { catalogue }
    }
}

impl Decider for CatalogueDecider {
    fn decide(&self, record: &RequestRecord, now: DateTime<Utc>) -> Vec<rabt_store::Decision> {
        let Some(spec) = self
            .catalogue
            .service(record.service.as_str())
            .and_then(|s| s.composite())
        else {
            return Vec::new();
        };
        record
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Blocked)
            .filter_map(|task| self.decide_check(record, spec, task, now))
            .collect()
    }
}

impl CatalogueDecider {
    /// The decision on one blocked check, `None` while it must wait.
    fn decide_check(
        &self,
        record: &RequestRecord,
        spec: &CompositeSpec,
        task: &TaskView,
        now: DateTime<Utc>,
    ) -> Option<rabt_store::Decision> {
        let skip = |outcome, reason| rabt_store::Decision::Skip {
            task: task.id,
            outcome,
            reason,
        };
        let Some(child) = task.child.as_deref().and_then(|id| spec.child(id)) else {
            let reason = "its catalogue declaration is gone (a catalogue change?)";
            return Some(skip(Outcome::UpstreamError, reason.to_owned()));
        };
        match self.by_dependencies(record, task, child) {
            Decision::Wait => None,
            Decision::Skip(outcome, reason) => Some(skip(outcome, reason)),
            Decision::Release(input) => {
                let deadline = (now
                    + chrono::Duration::from_std(child.deadline).unwrap_or(chrono::Duration::MAX))
                .min(record.deadline_at);
                Some(rabt_store::Decision::Release {
                    check: child.id.clone(),
                    release: Release {
                        task: task.id,
                        input,
                        deadline_at: deadline,
                    },
                })
            }
        }
    }

    /// What the ends of `task`'s dependencies say about it.
    fn by_dependencies(&self, record: &RequestRecord, task: &TaskView, child: &Child) -> Decision {
        let parents: Vec<&TaskView> = record
            .tasks
            .iter()
            .filter(|t| t.child.as_ref().is_some_and(|c| child.after.contains(c)))
            .collect();
        if parents.iter().any(|p| !p.state.is_terminal()) {
            return Decision::Wait;
        }
        if let Some(failed) = parents
            .iter()
            .find(|p| p.state.outcome() != Some(Outcome::Ok))
        {
            let outcome = failed.state.outcome().unwrap_or(Outcome::UpstreamError);
            let name = failed.child.as_deref().unwrap_or("a check");
            return Decision::Skip(outcome, format!("not run: `{name}` answered {outcome}"));
        }
        let output_of = |id: &str| {
            parents
                .iter()
                .find(|p| p.child.as_deref() == Some(id))
                .and_then(|p| p.data.as_ref())
        };
        let item = match child.items(&record.input, output_of) {
            Ok(Some(items)) => match task.index.and_then(|i| items.get(i as usize)) {
                Some(item) => Some(item),
                None => {
                    return Decision::Skip(
                        Outcome::InvalidInput,
                        format!("not run: no element {:?} to check", task.index),
                    );
                }
            },
            Ok(None) => None,
            Err(missing) => {
                return Decision::Skip(Outcome::InvalidInput, format!("not run: {missing}"));
            }
        };
        let input = match child.build_input(&record.input, item, output_of) {
            Ok(input) => input,
            Err(missing) => {
                return Decision::Skip(Outcome::InvalidInput, format!("not run: {missing}"));
            }
        };
        self.checked(child, input)
    }

    /// A built input as its check's service takes it: written and checked like a
    /// cooperative's, since it was built from an agency's answer.
    fn checked(&self, child: &Child, mut input: Value) -> Decision {
        let Some(service) = self.catalogue.service(child.service.as_str()) else {
            return Decision::Release(input);
        };
        service.normalize_input(&mut input);
        if let Err(violations) = service.validate_input(&input) {
            // A refusal names at least one violation; were it none, the reason would
            // only lack its detail, the check is skipped all the same.
            let first = violations
                .first()
                .map(|v| format!("{}: {}", v.pointer, v.message.en))
                .unwrap_or_default();
            return Decision::Skip(
                Outcome::InvalidInput,
                format!("not run: its input is invalid ({first})"),
            );
        }
        Decision::Release(input)
    }
}

impl Worker {
    /// Releases or skips every blocked check of `request` whose dependencies ended,
    /// repeating while skips unblock further checks, in a transaction of its own.
    pub(crate) async fn compose(&self, request: RequestId) -> Result<(), StoreError> {
        let span = rabt_trace::composite_decision(&request.to_string());
        let decided = self
            .with_db("deciding a composite's checks", || {
                self.store
                    .compose(request, self.decider.as_ref(), Utc::now())
            })
            .instrument(span.clone())
            .await?;
        self.report_decided(&span, request, &decided);
        if let Some(done) = decided.request_completed {
            self.request_completed(done);
        }
        Ok(())
    }

    /// Reports what a decision did: its counts on its span, each check it released or
    /// skipped in the log, and the relay woken when it released any (their messages
    /// wait in the outbox). A verdict a skip gave is the caller's to report.
    pub(crate) fn report_decided(
        &self,
        span: &tracing::Span,
        request: RequestId,
        decided: &Decided,
    ) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        span.record("rabt.released", count(decided.released.len()));
        span.record("rabt.skipped", count(decided.skipped.len()));
        for (task, check) in &decided.released {
            tracing::info!(request = %request, task = %task, check = %check, "check released");
        }
        for (task, outcome, reason) in &decided.skipped {
            tracing::info!(request = %request, task = %task, %outcome, reason, "check skipped");
        }
        if !decided.released.is_empty() {
            self.wake_relay();
        }
    }
}
