//! The notification Rabt sends to a request's `notify_url`, as an OpenAPI 3.1 webhook:
//! its Standard Webhooks headers and its `request.completed` body.

use serde_json::{Value, json};

/// The document's `webhooks` object.
pub(super) fn webhooks() -> Value {
    json!({
        "requestCompleted": {
            "post": {
                "summary": "A request completed",
                "description": "Sent to the request's notify_url when it completes, signed with Standard Webhooks (HMAC-SHA256 over `webhook-id.webhook-timestamp.body` with the cooperative's whsec_ secret). Answer 2xx once stored; anything else is retried with growing waits (about ten attempts over 31 hours) with the same webhook-id, so drop duplicates. No personal data: read the result at links.self.",
                "security": [],
                "parameters": [
                    { "name": "webhook-id", "in": "header", "required": true, "description": "The notification's id, the same on every attempt (deduplicate on it).", "schema": { "type": "string", "pattern": "^ntf_[0-9a-f]{32}$" } },
                    { "name": "webhook-timestamp", "in": "header", "required": true, "description": "Unix seconds when this attempt was signed; refuse it beyond 5 minutes.", "schema": { "type": "string", "pattern": "^[0-9]+$" } },
                    { "name": "webhook-signature", "in": "header", "required": true, "description": "`v1,` and the base64 HMAC-SHA256 (space-separated if several).", "schema": { "type": "string" } },
                ],
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": event() } },
                },
                "responses": {
                    "2XX": { "description": "Received; no further attempt." },
                    "default": { "description": "Not received; tried again later." },
                },
            },
        },
    })
}

fn event() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    json!({
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": { "const": "request.completed" },
            "timestamp": time,
            "data": {
                "type": "object",
                "required": ["id", "service", "status", "verdict", "reference", "completedAt", "links"],
                "properties": {
                    "id": { "type": "string", "pattern": "^req_[0-9a-f]{32}$" },
                    "service": { "type": "string" },
                    "status": { "const": "COMPLETED" },
                    "verdict": { "enum": ["PASS", "FAIL", "PARTIAL"] },
                    "reference": { "type": ["string", "null"], "description": "The cooperative's own reference, if it gave one." },
                    "completedAt": time,
                    "links": { "type": "object", "required": ["self"], "properties": { "self": { "type": "string" } } },
                },
            },
        },
    })
}
