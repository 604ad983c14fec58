//! Several accepted requests written in one transaction (group commit's store half):
//! each statement of the accept path is written once for the batch, with a row per
//! request, task or message, and the batch commits once. Each request still gets its
//! own answer: a replayed key, a key in flight or a spent quota is told apart inside
//! the batch, and a batch that the database refuses as a whole because of one of its
//! requests (a constraint) is written again one request at a time, so only that
//! request fails.

use std::collections::HashSet;
use std::time::Duration;

use super::write::{
    claim_keys, count_against_quota, existing_key, insert_requests, insert_subjects, insert_tasks,
    release_key, try_key_locks,
};
use super::{Accepted, KeyInFlight, NewRequest, accepted_audit, lease_until, task_message};
use crate::codec::now;
use crate::connect::{Dialect, Store, WriteTx};
use crate::error::StoreError;
use crate::group::{BatchWrite, write_batch};
use crate::outbox::{OutboxRow, QueuedMessage, insert_task_messages};

/// One request to accept, and how: `lease` claims its outbox rows for this process's
/// relay (see [`Store::accept_request_leased`]), `quota_per_day` counts it against its
/// cooperative's daily quota (see [`Store::accept_request_within`]).
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    /// The request.
    pub new: &'a NewRequest,
    /// How long its outbox rows are claimed for this process's relay.
    pub lease: Option<Duration>,
    /// Its cooperative's daily quota, if it has one.
    pub quota_per_day: Option<u64>,
}

/// The answer to one request of a batch: how it was accepted and the outbox rows
/// written for it (claimed for the relay when it had a lease).
pub type AcceptAnswer = Result<(Accepted, Vec<OutboxRow>), StoreError>;

impl Store {
    /// Accepts `batch` in one transaction, answering each request, in order, as
    /// [`Store::accept_request_within`] would have alone. Two requests of the batch
    /// with one cooperative and key: the later is told the key is in flight (409), as
    /// it would be beside the first in two transactions.
    pub async fn accept_batch(&self, batch: &[Pending<'_>]) -> Vec<AcceptAnswer> {
        let mut answers: Vec<Option<AcceptAnswer>> = Vec::with_capacity(batch.len());
        let mut live = Vec::with_capacity(batch.len());
        let mut keys = HashSet::new();
        // Held until the batch is written (SQLite: see KeyInFlight).
        let mut in_flight = Vec::new();
        for pending in batch {
            match self.admit(pending.new, &mut keys) {
                Ok(guard) => {
                    in_flight.extend(guard);
                    live.push(*pending);
                    answers.push(None);
                }
                Err(refused) => answers.push(Some(Err(refused))),
            }
        }
        let mut written = write_batch::<Live<'_>>(self, &live).await.into_iter();
        let answers = answers
            .into_iter()
            .map(|answer| match answer {
                Some(answer) => answer,
                // write_batch answers each request of `live`, in order: one per
                // `None` pushed above.
                None => written.next().expect("an answer per request written"),
            })
            .collect();
        drop(in_flight);
        answers
    }

    /// What can be refused without the database: a request without tasks, a key used
    /// twice in the batch, and (SQLite) a key another call of this process is storing.
    fn admit(
        &self,
        new: &NewRequest,
        keys: &mut HashSet<(String, String)>,
    ) -> Result<Option<KeyInFlight>, StoreError> {
        if new.tasks.is_empty() {
            return Err(StoreError::EmptyRequest);
        }
        if !keys.insert((new.cooperative.to_string(), new.idempotency.key.clone())) {
            return Err(StoreError::KeyInFlight);
        }
        match self.dialect() {
            Dialect::Sqlite => KeyInFlight::take(self, new).map(Some),
            Dialect::Postgres => Ok(None),
        }
    }

    /// One transaction for the whole batch: the keys' locks (PostgreSQL), the keys
    /// claimed, the quotas counted, then one multi-row statement each for the requests,
    /// their subjects, tasks, outbox messages and audit entries. A failure rolls it all
    /// back at once (`WriteTx::settle`), so the keys' locks are free for whoever
    /// writes the batch's requests next.
    async fn write_together(&self, batch: &[Pending<'_>]) -> Result<Vec<AcceptAnswer>, StoreError> {
        let mut tx = self.begin_write().await?;
        let written = self.write_in(&mut tx, batch).await;
        tx.settle(written).await
    }

    async fn write_in(
        &self,
        tx: &mut WriteTx,
        batch: &[Pending<'_>],
    ) -> Result<Vec<AcceptAnswer>, StoreError> {
        let mut answers: Vec<Option<AcceptAnswer>> = batch.iter().map(|_| None).collect();
        let news: Vec<&NewRequest> = batch.iter().map(|pending| pending.new).collect();
        self.answer_existing(tx, batch, &news, &mut answers).await?;
        let created = unanswered(&answers);
        let mut outbox = create(tx, batch, &news, &created).await?.into_iter();
        // Those not answered above were created, in the order their messages were
        // written.
        Ok(answers
            .into_iter()
            .zip(&news)
            .map(|(answer, new)| {
                answer.unwrap_or_else(|| {
                    let messages = new.tasks.iter().filter(|task| !task.blocked).count();
                    Ok((Accepted::Created, outbox.by_ref().take(messages).collect()))
                })
            })
            .collect())
    }

    /// Answers the requests of `batch` that are not to be created: a key in flight
    /// (409), a key already used (its stored answer), a spent quota. Those left
    /// unanswered are to be created.
    async fn answer_existing(
        &self,
        tx: &mut WriteTx,
        batch: &[Pending<'_>],
        news: &[&NewRequest],
        answers: &mut [Option<AcceptAnswer>],
    ) -> Result<(), StoreError> {
        // A second call with a key while the first is being stored is told so (409)
        // rather than kept waiting for it.
        if self.dialect() == Dialect::Postgres {
            let held = try_key_locks(tx.conn(), news).await?;
            for (answer, held) in answers.iter_mut().zip(held) {
                if !held {
                    *answer = Some(Err(StoreError::KeyInFlight));
                }
            }
        }
        let open = unanswered(answers);
        let claiming: Vec<&NewRequest> = open.iter().map(|&i| news[i]).collect();
        for (&i, claimed) in open.iter().zip(claim_keys(tx.conn(), &claiming).await?) {
            if !claimed {
                let existing = existing_key(tx.conn(), news[i]).await?;
                answers[i] = Some(Ok((existing, Vec::new())));
            }
        }
        for i in unanswered(answers) {
            if let Some(quota) = batch[i].quota_per_day
                && !count_against_quota(tx.conn(), news[i], quota).await?
            {
                release_key(tx.conn(), news[i]).await?;
                answers[i] = Some(Err(StoreError::QuotaExceeded));
            }
        }
        Ok(())
    }
}

/// Writes the requests at `created` (positions in `batch`): their rows, subjects,
/// tasks, outbox rows and audit entries, one statement each for all of them. The
/// outbox rows, in the order of the requests and their tasks.
async fn create(
    tx: &mut WriteTx,
    batch: &[Pending<'_>],
    news: &[&NewRequest],
    created: &[usize],
) -> Result<Vec<OutboxRow>, StoreError> {
    if created.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    let accepted: Vec<&NewRequest> = created.iter().map(|&i| news[i]).collect();
    insert_requests(tx.conn(), &accepted).await?;
    insert_subjects(tx.conn(), &accepted).await?;
    insert_tasks(tx.conn(), &accepted).await?;
    let mut queued = Vec::new();
    for &i in created {
        let new = news[i];
        let lease_until = lease_until(at, batch[i].lease);
        queued.extend(
            new.tasks
                .iter()
                .filter(|task| !task.blocked)
                .map(|task| QueuedMessage {
                    message: task_message(new, task),
                    traceparent: new.traceparent.as_deref(),
                    lease_until,
                }),
        );
    }
    let outbox = insert_task_messages(tx.conn(), &queued, at).await?;
    let audit: Vec<_> = accepted
        .iter()
        .flat_map(|new| accepted_audit(new))
        .collect();
    tx.audits(audit, at);
    Ok(outbox)
}

/// The positions of the requests not answered yet.
fn unanswered(answers: &[Option<AcceptAnswer>]) -> Vec<usize> {
    answers
        .iter()
        .enumerate()
        .filter_map(|(i, answer)| answer.is_none().then_some(i))
        .collect()
}

/// The requests of a batch that passed [`Store::admit`], as [`write_batch`] writes
/// them: together, or one at a time when the database refused the batch for one of
/// them.
struct Live<'a>(std::marker::PhantomData<&'a ()>);

impl<'a> BatchWrite for Live<'a> {
    type Item = Pending<'a>;
    type Output = (Accepted, Vec<OutboxRow>);

    async fn together(
        store: &Store,
        batch: &[Pending<'a>],
    ) -> Result<Vec<AcceptAnswer>, StoreError> {
        store.write_together(batch).await
    }

    async fn alone(store: &Store, pending: &Pending<'a>) -> AcceptAnswer {
        let mut answers = store.write_together(std::slice::from_ref(pending)).await?;
        // write_together answers each request it is given: one here.
        answers.pop().expect("one answer for one request")
    }
}
