//! The body of a notification: a Standard Webhooks event (`type`, `timestamp`,
//! `data`) saying which request completed and how, with a link to fetch the result.
//! No personal data: the cooperative reads the checks' data with its API key.

use chrono::SecondsFormat;
use rabt_store::DueNotification;
use serde_json::{Value, json};

/// The event type of a completed request.
pub const REQUEST_COMPLETED: &str = "request.completed";

/// The JSON of the event. The same bytes on every attempt: only the signature's
/// timestamp changes.
pub(crate) fn body(due: &DueNotification) -> Vec<u8> {
    let completed_at = due
        .completed_at
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let event = json!({
        "type": REQUEST_COMPLETED,
        "timestamp": completed_at,
        "data": {
            "id": due.request.to_string(),
            "service": due.service.as_str(),
            "status": "COMPLETED",
            "verdict": due.verdict.map(|v| v.as_str()),
            "reference": due.reference,
            "completedAt": completed_at,
            "links": { "self": format!("/v1/requests/{}", due.request) },
        },
    });
    // A Value of strings and nulls always serialises.
    serde_json::to_vec(&event).unwrap_or_else(|_| Value::Null.to_string().into_bytes())
}
