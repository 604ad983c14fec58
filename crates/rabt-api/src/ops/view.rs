//! How dead letters look to an operator: a summary in lists, and in full (body and
//! headers) when read one at a time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use rabt_core::DeadLetterId;
use rabt_store::DeadLetter;
use serde_json::{Map, Value, json};

/// The path of a dead letter.
pub(crate) fn dead_letter_path(id: DeadLetterId) -> String {
    format!("/ops/v1/dead-letters/{id}")
}

fn time(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(time).unwrap_or(Value::Null)
}

/// A dead letter in a list: where it came from, why, and what it is about.
pub(crate) fn summary(letter: &DeadLetter) -> Value {
    let path = dead_letter_path(letter.id);
    let mut links = json!({ "self": path });
    if letter.replayable {
        links["replay"] = json!(format!("{path}/replay"));
    }
    json!({
        "id": letter.id.to_string(),
        "agency": letter.agency.as_str(),
        "state": letter.state().as_str(),
        "reason": letter.reason,
        "messageId": letter.message_id,
        "task": letter.task.map(|t| t.to_string()),
        "request": letter.request.map(|r| r.to_string()),
        "callback": letter.callback.map(|c| c.to_string()),
        "replayable": letter.replayable,
        "deadAt": time(letter.dead_at),
        "replayedAt": opt_time(letter.replayed_at),
        "replayedBy": letter.replayed_by,
        "purgedAt": opt_time(letter.purged_at),
        "links": links,
    })
}

/// A dead letter with its body (base64, and as text when it is UTF-8) and headers.
pub(crate) fn full(letter: &DeadLetter) -> Value {
    let mut view = summary(letter);
    view["body"] = json!(BASE64.encode(&letter.body));
    view["bodyText"] = match std::str::from_utf8(&letter.body) {
        Ok(text) => json!(text),
        Err(_) => Value::Null,
    };
    let headers: Map<String, Value> = letter
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    view["headers"] = Value::Object(headers);
    view
}
