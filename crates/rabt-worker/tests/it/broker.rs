//! The broker side of the rig: publishing by hand, as a relay or an operator would, and
//! reading dead letters.

use rabt_core::{Agency, RequestId, ServiceName, TaskId, TaskMessage};
use rabt_queue::OutgoingMessage;
use rabt_test_support::must::{eventually, within};

use crate::fixtures::SERVICE;
use crate::rig::{Rig, Submitted, TRACEPARENT};

impl Rig {
    /// Publishes `message` to its agency's task queue by hand (a duplicate delivery).
    pub(crate) async fn publish_message(&self, message: &TaskMessage) {
        let outgoing = OutgoingMessage::task(
            message.agency(),
            message.subject(),
            serde_json::to_vec(message).unwrap(),
        )
        .with_header("traceparent", TRACEPARENT);
        self.transport.publish(&[outgoing]).await.unwrap();
    }

    /// Publishes a task's message again, as a relay that published it twice would;
    /// in the form written before messages carried their deadline, so the worker's
    /// path for those (it reads the task for it) is tested too.
    pub(crate) async fn publish_again(&self, submitted: Submitted) {
        let message = TaskMessage::V1 {
            task: submitted.task,
            request: submitted.request,
            agency: Agency::SaudiPost,
            service: ServiceName::parse(SERVICE).unwrap(),
            deadline_at: None,
        };
        self.publish_message(&message).await;
    }

    /// Publishes a message to Saudi Post's task queue by hand.
    pub(crate) async fn publish_raw(&self, message_id: &str, body: Vec<u8>) {
        let message = OutgoingMessage::task(Agency::SaudiPost, message_id, body);
        self.transport.publish(&[message]).await.unwrap();
    }

    /// Publishes, to Saudi Post's task queue, the message of a task no database holds
    /// (a poison message); its message id.
    pub(crate) async fn publish_unknown_task(&self) -> String {
        let unknown = TaskMessage::V1 {
            task: TaskId::new(),
            request: RequestId::new(),
            agency: Agency::SaudiPost,
            service: ServiceName::parse(SERVICE).unwrap(),
            deadline_at: None,
        };
        self.publish_raw(&unknown.subject(), serde_json::to_vec(&unknown).unwrap())
            .await;
        unknown.subject()
    }

    /// Waits for `count` dead letters in Saudi Post's dead-letter queue and returns
    /// their `(message id, reason)`, sorted.
    pub(crate) async fn dead_letters(&self, count: usize) -> Vec<(String, String)> {
        let mut letters: Vec<(String, String)> =
            match self.transport.dead_letters(Agency::SaudiPost) {
                // The embedded broker lets us look without taking.
                Some(_) => eventually("dead letters", || async {
                    let letters = self.transport.dead_letters(Agency::SaudiPost)?;
                    (letters.len() >= count).then_some(letters)
                })
                .await
                .into_iter()
                .map(|d| (d.message_id, d.reason))
                .collect(),
                // RabbitMQ: read them as the operator's tools do. Each is held unsettled
                // until all are read (a dropped delivery goes back to the queue and would
                // be read twice), then they all go back.
                None => {
                    let mut consumer = self
                        .transport
                        .consume_dead_letters(Agency::SaudiPost, 100)
                        .await
                        .unwrap();
                    let mut held = Vec::new();
                    for _ in 0..count {
                        held.push(within("a dead letter", consumer.next()).await.unwrap());
                    }
                    held.iter()
                        .map(|d| {
                            let id = d.message_id().unwrap_or_default().to_owned();
                            (id, d.dead_reason().unwrap_or_default().to_owned())
                        })
                        .collect()
                }
            };
        letters.sort();
        letters
    }

    /// Messages in Saudi Post's dead-letter queue now.
    pub(crate) async fn dead_letter_count(&self) -> u32 {
        self.dead_letter_count_of(Agency::SaudiPost).await
    }

    /// Messages in `agency`'s dead-letter queue now.
    pub(crate) async fn dead_letter_count_of(&self, agency: Agency) -> u32 {
        self.transport.depth(agency).await.unwrap().dead
    }
}
