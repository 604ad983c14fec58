//! Sending a task back through a retry tier: its message again, with the attempt and
//! first failure in headers, published within a PRODUCER span of the current trace.

use std::time::Duration;

use rabt_core::TaskMessage;
use rabt_queue::{OutgoingMessage, QueueError};
use rabt_store::TaskRecord;
use tracing::Instrument;

use crate::Worker;

impl Worker {
    /// Publishes `message` to the retry tier for `delay` (see
    /// [`rabt_queue::Transport::publish_delayed`]), as a PRODUCER span child of the
    /// current one (the delivery being processed), whose context replaces the message's
    /// `traceparent`: the task's next delivery continues the same trace.
    pub(crate) async fn publish_retry(
        &self,
        mut message: OutgoingMessage,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let agency = message.routing_key.parse().ok();
        let destination = agency.map_or_else(
            || rabt_queue::TASKS_EXCHANGE.to_owned(),
            |agency| rabt_queue::retry_queue(agency, self.transport.retry_delay(delay)),
        );
        let span = rabt_trace::producer(
            &destination,
            &message.routing_key,
            &message.message_id,
            None,
        );
        if let Some(traceparent) = rabt_trace::traceparent(&span) {
            message
                .headers
                .retain(|(name, _)| name != rabt_trace::TRACEPARENT);
            message
                .headers
                .push((rabt_trace::TRACEPARENT.to_owned(), traceparent));
        }
        let published = self
            .transport
            .publish_delayed(&message, delay)
            .instrument(span.clone())
            .await;
        if published.is_err() {
            rabt_trace::set_error(&span, "not confirmed by the broker");
        }
        published
    }
}

/// The task's message again, for the retry tier, with the attempt that failed and the
/// time of the task's first failure (both recorded on the task too; the headers let an
/// operator reading the broker see them).
pub(crate) fn retry_message(task: &TaskRecord, attempt: u32) -> OutgoingMessage {
    let message = TaskMessage::V1 {
        task: task.id,
        request: task.request,
        agency: task.agency,
        service: task.service.clone(),
        deadline_at: Some(task.deadline_at),
    };
    let mut headers = vec![("x-rabt-attempt".to_owned(), attempt.to_string())];
    if let Some(first) = task.first_failure_at {
        headers.push((
            "x-rabt-first-failure".to_owned(),
            first.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ));
    }
    if let Some(traceparent) = &task.traceparent {
        headers.push((rabt_trace::TRACEPARENT.to_owned(), traceparent.clone()));
    }
    OutgoingMessage {
        exchange: rabt_queue::TASKS_EXCHANGE.to_owned(),
        routing_key: task.agency.as_str().to_owned(),
        message_id: task.id.to_string(),
        // A task message is ids, names and a timestamp: serialising it cannot fail (no
        // map, no float, no custom serialiser), and an empty body must never go out.
        body: serde_json::to_vec(&message).expect("a task message serialises"),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rabt_core::{Agency, CooperativeId, RequestId, ServiceName, TaskId, TaskState};

    use super::*;

    fn task(first_failure_at: Option<chrono::DateTime<Utc>>) -> TaskRecord {
        TaskRecord {
            id: TaskId::new(),
            request: RequestId::new(),
            cooperative: CooperativeId::new(),
            agency: Agency::Labor,
            service: ServiceName::parse("labor.establishment.compliance").expect("a name"),
            input: serde_json::json!({}),
            state: TaskState::Queued,
            attempts: 2,
            deadline_at: Utc::now(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            child: None,
            first_failure_at,
        }
    }

    fn header<'m>(message: &'m OutgoingMessage, name: &str) -> Option<&'m str> {
        message
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_retry_carries_its_attempt_and_first_failure() {
        let first = Utc
            .with_ymd_and_hms(2026, 11, 29, 3, 4, 5)
            .single()
            .expect("a time");
        let message = retry_message(&task(Some(first)), 2);
        assert_eq!(header(&message, "x-rabt-attempt"), Some("2"));
        assert_eq!(
            header(&message, "x-rabt-first-failure"),
            Some("2026-11-29T03:04:05.000Z")
        );
        assert!(header(&message, "traceparent").is_some());
        assert_eq!(message.routing_key, "labor");
    }

    #[test]
    fn a_task_that_never_failed_has_no_first_failure_header() {
        let message = retry_message(&task(None), 1);
        assert_eq!(header(&message, "x-rabt-first-failure"), None);
    }
}
