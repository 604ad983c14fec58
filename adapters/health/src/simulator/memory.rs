//! What the simulated ministry remembers of past submissions: the batch each
//! `X-Request-Id` started, so a retried submission gets the same batch back.

use std::collections::{HashMap, VecDeque};

use crate::wire::{MohBatchAccepted, MohBatchRequest};

/// How many submissions are remembered; the oldest are forgotten first, so a simulator
/// that runs for weeks does not grow without bound.
const REMEMBERED: usize = 4096;

/// What an earlier submission with the same request id says about this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Recall {
    /// Nothing: a new batch, now remembered.
    New,
    /// The same batch was accepted before: this acceptance.
    Same(MohBatchAccepted),
    /// The id started another batch.
    Conflict,
}

#[derive(Debug, Default)]
pub(super) struct Submissions {
    by_request_id: HashMap<String, (MohBatchRequest, MohBatchAccepted)>,
    order: VecDeque<String>,
}

impl Submissions {
    /// Looks `request_id` up; if it is new, remembers it with `accepted`. Without a
    /// request id every submission is new.
    pub(super) fn recall_or_remember(
        &mut self,
        request_id: Option<&str>,
        request: &MohBatchRequest,
        accepted: &MohBatchAccepted,
    ) -> Recall {
        let Some(id) = request_id else {
            return Recall::New;
        };
        if let Some((earlier, answer)) = self.by_request_id.get(id) {
            return if earlier == request {
                Recall::Same(answer.clone())
            } else {
                Recall::Conflict
            };
        }
        if self.order.len() >= REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_request_id.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.by_request_id
            .insert(id.to_owned(), (request.clone(), accepted.clone()));
        Recall::New
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::wire::{MohBatchStatus, MohWorkerRef};

    fn request(id: &str) -> MohBatchRequest {
        MohBatchRequest {
            establishment_license_number: "4000067890".to_owned(),
            workers: vec![MohWorkerRef {
                id_number: id.to_owned(),
            }],
        }
    }

    fn accepted(reference: &str) -> MohBatchAccepted {
        MohBatchAccepted {
            batch_id: "HB-2025-00000001".to_owned(),
            reference: reference.to_owned(),
            status: MohBatchStatus::Accepted,
            establishment_license_number: "4000067890".to_owned(),
            workers_count: 1,
            accepted_at: Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_request_id_keeps_its_batch() {
        let mut memory = Submissions::default();
        let (a, b) = (request("1000000057"), request("2000000006"));
        assert_eq!(
            memory.recall_or_remember(Some("task_1"), &a, &accepted("REF-1")),
            Recall::New
        );
        assert_eq!(
            memory.recall_or_remember(Some("task_1"), &a, &accepted("REF-2")),
            Recall::Same(accepted("REF-1"))
        );
        assert_eq!(
            memory.recall_or_remember(Some("task_1"), &b, &accepted("REF-3")),
            Recall::Conflict
        );
        assert_eq!(
            memory.recall_or_remember(None, &a, &accepted("REF-4")),
            Recall::New
        );
        assert_eq!(
            memory.recall_or_remember(None, &a, &accepted("REF-5")),
            Recall::New
        );
    }

    #[test]
    fn the_oldest_are_forgotten_first() {
        let mut memory = Submissions::default();
        let a = request("1000000057");
        for i in 0..=REMEMBERED {
            let id = format!("task_{i}");
            assert_eq!(
                memory.recall_or_remember(Some(&id), &a, &accepted("REF-1")),
                Recall::New
            );
        }
        assert_eq!(memory.by_request_id.len(), REMEMBERED);
        assert_eq!(
            memory.recall_or_remember(Some("task_0"), &a, &accepted("REF-2")),
            Recall::New,
            "forgotten"
        );
        assert!(matches!(
            memory.recall_or_remember(Some(&format!("task_{REMEMBERED}")), &a, &accepted("REF-3")),
            Recall::Same(_)
        ));
    }
}
