//! The operator API's part of the OpenAPI document: its paths, the `DeadLetter` schema
//! and the `operatorToken` security scheme, merged into the document by
//! [`crate::openapi::document`].

use serde_json::{Map, Value, json};

/// The name of the operator token's security scheme.
pub const SECURITY_SCHEME: &str = "operatorToken";

/// The security scheme of operator tokens.
pub fn security_scheme() -> Value {
    json!({
        "type": "http",
        "scheme": "bearer",
        "description": "An operator's token (rabt_op_…), from `rabt operator add`. Roles: viewer < operator < admin.",
    })
}

/// The `DeadLetter` schema.
pub fn dead_letter_schema() -> Value {
    let time = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "type": "object",
        "required": ["id", "agency", "state", "reason", "replayable", "deadAt", "links"],
        "properties": {
            "id": { "type": "string", "pattern": "^dl_[0-9a-f]{32}$" },
            "agency": { "enum": ["interior", "health", "labor", "municipal", "chambers", "saudi-post"] },
            "state": { "enum": ["open", "replayed", "purged"] },
            "reason": { "type": "string", "description": "Why it was dead-lettered: `delivery_limit` (the broker), or Rabt's own (`undecodable message`, `unknown task`, `unknown callback`…)." },
            "messageId": { "type": ["string", "null"] },
            "task": { "type": ["string", "null"], "description": "The task its message names, when that task exists." },
            "request": { "type": ["string", "null"] },
            "callback": { "type": ["string", "null"], "description": "When it names no task: the stored agency callback its message carries (a replay queues it again while it is not applied)." },
            "replayable": { "type": "boolean", "description": "Open, and its task ended UPSTREAM_ERROR because of it (a replay runs the task again), or its callback is not applied yet (a replay queues it again)." },
            "deadAt": { "type": "string", "format": "date-time" },
            "replayedAt": time, "replayedBy": { "type": ["string", "null"] }, "purgedAt": time,
            "body": { "type": "string", "contentEncoding": "base64", "description": "Only when read one at a time: the message body as received (at most 64 KiB)." },
            "bodyText": { "type": ["string", "null"], "description": "The body as text, when it is UTF-8." },
            "headers": { "type": "object", "additionalProperties": { "type": "string" } },
            "links": { "type": "object" },
        },
    })
}

/// The paths under `/ops/v1`. `problem_ref` names a shared problem response.
pub fn paths(problem_ref: impl Fn(&str) -> Value) -> Map<String, Value> {
    let security = json!([{ SECURITY_SCHEME: [] }]);
    let letter =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/DeadLetter" } } });
    let id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let auth = |mut responses: Value| {
        responses["401"] = problem_ref("operator-unauthorized");
        responses["403"] = problem_ref("role-forbidden");
        responses["503"] = problem_ref("unavailable");
        responses
    };
    let mut paths = Map::new();
    paths.insert("/ops/v1/dead-letters".into(), json!({
        "get": {
            "operationId": "listDeadLetters",
            "summary": "Dead letters, newest first (viewer)",
            "security": security,
            "parameters": [
                { "name": "agency", "in": "query", "schema": { "enum": ["interior", "health", "labor", "municipal", "chambers", "saudi-post", ""] } },
                { "name": "state", "in": "query", "schema": { "enum": ["open", "replayed", "purged", "all", ""], "default": "open" } },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } },
                { "name": "cursor", "in": "query", "schema": { "type": "string", "pattern": "^(dl_[0-9a-f]{32})?$" }, "description": "From the `next` link." },
            ],
            "responses": auth(json!({
                "200": { "description": "A page of dead letters (without bodies): `items` and `links.next`." },
                "400": problem_ref("invalid-query"),
            })),
        },
    }));
    paths.insert("/ops/v1/dead-letters/{id}".into(), json!({
        "get": {
            "operationId": "getDeadLetter",
            "summary": "One dead letter with its body and headers (viewer)",
            "security": security, "parameters": [id],
            "responses": auth(json!({ "200": { "description": "The dead letter.", "content": letter }, "404": problem_ref("not-found") })),
        },
        "delete": {
            "operationId": "purgeDeadLetter",
            "summary": "Purge: discard an open dead letter (admin; audited)",
            "security": security, "parameters": [id],
            "responses": auth(json!({
                "200": { "description": "Purged.", "content": letter },
                "404": problem_ref("not-found"),
                "409": problem_ref("dead-letter-closed"),
            })),
        },
    }));
    paths.insert("/ops/v1/dead-letters/{id}/replay".into(), json!({
        "post": {
            "operationId": "replayDeadLetter",
            "summary": "Replay: run the dead letter's task again (operator; audited)",
            "description": "In one transaction the task goes back to QUEUED (attempts counted afresh, a new deadline as long as its first one), its request to RUNNING with its verdict cleared, its message to the outbox, and this and the task's other open dead letters are marked replayed by the operator. The request completes again, with a new completion event. Concurrent replays of one dead letter reopen its task once; the others get 409.",
            "security": security, "parameters": [id],
            "responses": auth(json!({
                "200": { "description": "Replayed.", "content": letter },
                "404": problem_ref("not-found"),
                "409": problem_ref("dead-letter-closed"),
            })),
        },
    }));
    paths.insert("/ops/v1/dead-letters/replay".into(), json!({
        "post": {
            "operationId": "replayDeadLetters",
            "summary": "Replay every open dead letter of one agency, or of all (operator; each audited)",
            "security": security,
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object", "additionalProperties": false,
                "properties": { "agency": { "enum": ["interior", "health", "labor", "municipal", "chambers", "saudi-post"] }, "all": { "const": true } },
                "oneOf": [{ "required": ["agency"] }, { "required": ["all"] }],
            } } } },
            "responses": auth(json!({
                "200": { "description": "`replayed`: [{id, task, request}] (or {id, callback, task} for a callback queued again); `skipped`: [{id, problem, detail}] for those that cannot be replayed (no task of ours, or their task did not end by a dead letter)." },
                "400": problem_ref("malformed-json"),
                "415": problem_ref("unsupported-media-type"),
                "422": problem_ref("validation-failed"),
            })),
        },
    }));
    paths.extend(super::limits::paths(&security, &auth, &problem_ref));
    paths
}
