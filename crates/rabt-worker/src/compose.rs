//! Composite requests (e.g. `cooperative.establishment.check`): when a check ends, the
//! checks waiting for it are released with the input its answer gives them, or skipped
//! with its outcome when it did not answer `OK`. The catalogue declares who waits for
//! whom and how inputs are built; nothing here knows a particular composite.
//!
//! Deciding is idempotent: every decision is a conditional update of a BLOCKED task, so
//! several workers finishing sibling checks at once each apply a decision at most once.

use chrono::Utc;
use rabt_catalogue::composite::{Child, CompositeSpec};
use rabt_core::{Outcome, RequestId, TaskState};
use rabt_store::{Release, RequestRecord, StoreError, TaskView};
use serde_json::Value;
use tracing::Instrument;

use crate::Worker;

/// One pass over a composite's blocked checks.
struct Round<'a> {
    /// The checks to release, each with its name in the catalogue.
    releases: Vec<(&'a str, Release)>,
    /// How many were skipped.
    skipped: u32,
    /// Whether a skip left checks waiting, which it may have unblocked.
    look_again: bool,
}

/// What to do with one blocked check.
enum Decision {
    /// Its dependencies have not all ended.
    Wait,
    /// Run it with this input.
    Release(Value),
    /// It can never run: end it with this outcome.
    Skip(Outcome, String),
}

impl Worker {
    /// Releases or skips every blocked check of `request` whose dependencies ended,
    /// repeating while skips unblock further checks.
    pub(crate) async fn compose(&self, request: RequestId) -> Result<(), StoreError> {
        let span = rabt_trace::composite_decision(&request.to_string());
        let counted = self.decide_all(request).instrument(span.clone()).await;
        if let Ok((released, skipped)) = &counted {
            span.record("rabt.released", i64::from(*released));
            span.record("rabt.skipped", i64::from(*skipped));
        }
        counted.map(drop)
    }

    /// [`Worker::compose`] within its span; how many checks it released and skipped.
    async fn decide_all(&self, request: RequestId) -> Result<(u32, u32), StoreError> {
        let (mut released, mut skipped) = (0u32, 0u32);
        loop {
            let Some(record) = self
                .with_db("reading a composite request", || {
                    self.store.request_for_work(request)
                })
                .await?
            else {
                return Ok((released, skipped));
            };
            let Some(spec) = self
                .catalogue
                .service(record.service.as_str())
                .and_then(|s| s.composite())
            else {
                return Ok((released, skipped));
            };
            let round = self.decide_round(&record, spec).await?;
            skipped += round.skipped;
            // The checks this answer unblocked go in one transaction.
            released += self.release(request, round.releases).await?;
            // A skip completes a check, which may unblock others (the last skip, the
            // latest view, says whether any still wait).
            if !round.look_again {
                return Ok((released, skipped));
            }
        }
    }

    /// Decides each blocked check of `record` once: skips those that can never run
    /// (now), and returns those to release.
    async fn decide_round<'a>(
        &self,
        record: &RequestRecord,
        spec: &'a CompositeSpec,
    ) -> Result<Round<'a>, StoreError> {
        let mut round = Round {
            releases: Vec::new(),
            skipped: 0,
            look_again: false,
        };
        for task in record
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Blocked)
        {
            let Some(child) = task.child.as_deref().and_then(|id| spec.child(id)) else {
                let reason = "its catalogue declaration is gone (a catalogue change?)";
                round.look_again = self.skip(task, Outcome::UpstreamError, reason).await?;
                round.skipped += 1;
                continue;
            };
            match self.decide(record, task, child) {
                Decision::Wait => {}
                Decision::Skip(outcome, reason) => {
                    round.look_again = self.skip(task, outcome, &reason).await?;
                    round.skipped += 1;
                }
                Decision::Release(input) => {
                    let deadline = (Utc::now()
                        + chrono::Duration::from_std(child.deadline)
                            .unwrap_or(chrono::Duration::MAX))
                    .min(record.deadline_at);
                    let release = Release {
                        task: task.id,
                        input,
                        deadline_at: deadline,
                    };
                    round.releases.push((child.id.as_str(), release));
                }
            }
        }
        Ok(round)
    }

    /// Releases `releases` (each with its check's name, for the log) in one
    /// transaction; how many were still blocked and so released now.
    async fn release(
        &self,
        request: RequestId,
        releases: Vec<(&str, Release)>,
    ) -> Result<u32, StoreError> {
        if releases.is_empty() {
            return Ok(0);
        }
        let (checks, releases): (Vec<&str>, Vec<Release>) = releases.into_iter().unzip();
        let done = self
            .with_db("releasing checks", || {
                self.store.release_tasks(&releases, Utc::now())
            })
            .await?;
        let mut released = 0;
        for ((check, release), done) in checks.iter().zip(&releases).zip(&done) {
            if *done {
                tracing::info!(request = %request, task = %release.task, check = %check, "check released");
                released += 1;
            }
        }
        if released > 0 {
            self.wake_relay();
        }
        Ok(released)
    }

    fn decide(&self, record: &RequestRecord, task: &TaskView, child: &Child) -> Decision {
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

    /// Ends a blocked check with `outcome`; whether checks of its request still wait
    /// (and so may be unblocked by this one).
    async fn skip(
        &self,
        task: &TaskView,
        outcome: Outcome,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .with_db("skipping a check", || {
                self.store.skip_task(task.id, outcome, reason, Utc::now())
            })
            .await?;
        tracing::info!(task = %task.id, %outcome, reason, "check skipped");
        match result {
            rabt_store::Completion::Applied {
                request_completed: Some(done),
                ..
            } => {
                tracing::info!(request = %done.request, verdict = %done.verdict, "request completed");
                self.wake_relay();
                Ok(false)
            }
            rabt_store::Completion::Applied { checks_waiting, .. } => Ok(checks_waiting),
            // Another worker ended it meanwhile: look again, as that one may not have.
            rabt_store::Completion::AlreadyCompleted => Ok(true),
        }
    }
}
