//! The operator API's part of the OpenAPI document: its paths, the `DeadLetter` schema
//! and the `operatorToken` security scheme, merged into the document by
//! [`crate::openapi::document`].

use rabt_core::Agency;
use serde_json::{Map, Value, json};

use crate::openapi::{NOT_BLANK, SERVICE_FILTER};

/// Free text an operator gives (a reason, a name): 1 to 200 characters, not all blank,
/// no NUL.
fn text_field() -> Value {
    let pattern = format!("^[^\\u0000]*{NOT_BLANK}[^\\u0000]*$");
    json!({ "type": "string", "minLength": 1, "maxLength": 200, "pattern": pattern })
}

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

/// The schema of an agency's wire name: an enum of [`Agency::ALL`], so that a new agency
/// is in the document without an edit here.
fn agency_enum() -> Value {
    json!({ "enum": Agency::wire_names() })
}

/// An agency filter: an agency's name, or empty (which filters nothing).
fn agency_filter() -> Value {
    let mut names: Vec<Value> = Agency::wire_names().into_iter().map(Value::from).collect();
    names.push(Value::from(""));
    json!({ "enum": names })
}

/// The `DeadLetter` schema.
pub fn dead_letter_schema() -> Value {
    let time = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "type": "object",
        "required": ["id", "agency", "state", "reason", "replayable", "deadAt", "links"],
        "properties": {
            "id": { "type": "string", "pattern": "^dl_[0-9a-f]{32}$" },
            "agency": agency_enum(),
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

/// The paths under `/ops/v1`. `problem_ref` names a shared problem response; `services`
/// are the catalogue's service names.
pub fn paths(problem_ref: impl Fn(&str) -> Value, services: &[&str]) -> Map<String, Value> {
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
                { "name": "agency", "in": "query", "schema": agency_filter() },
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
                "properties": { "agency": agency_enum(), "all": { "const": true } },
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
    cooperative_paths(&mut paths, &security, &auth, &problem_ref, services);
    agency_paths(&mut paths, &security, &auth, &problem_ref);
    reading_paths(&mut paths, &security, &auth, &problem_ref);
    // Every operation that reads a JSON body refuses another media type and broken JSON
    // before anything else.
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|p| p.values_mut())
    {
        if operation.get("requestBody").is_some() {
            let responses = &mut operation["responses"];
            if responses.get("400").is_none() {
                responses["400"] = problem_ref("malformed-json");
            }
            responses["415"] = problem_ref("unsupported-media-type");
        }
    }
    paths
}

/// What the console reads: the overview, every cooperative's requests, the audit log.
fn reading_paths(
    paths: &mut Map<String, Value>,
    security: &Value,
    auth: &dyn Fn(Value) -> Value,
    problem_ref: &dyn Fn(&str) -> Value,
) {
    let q = |name: &str, schema: Value| json!({ "name": name, "in": "query", "schema": schema });
    // What the server takes: an empty value filters nothing.
    let id = |prefix: &str| json!({ "type": "string", "pattern": format!("^({prefix}_[0-9a-f]{{32}})?$") });
    let short_text = json!({ "type": "string", "maxLength": 64, "pattern": "^[^\\u0000]*$" });
    let time =
        json!({ "type": "string", "anyOf": [{ "format": "date-time" }, { "maxLength": 0 }] });
    let window = json!({ "enum": ["15m", "1h", "24h", ""] });
    let limit = json!({ "type": "integer", "minimum": 1, "maximum": 100 });
    paths.insert("/ops/v1/overview".into(), json!({ "get": {
        "summary": "The deployment at a glance, across every process: per agency tasks ended (5 and 60 min), latency, circuit and calls in flight from the workers' heartbeats, queue depths, dead letters, pause; requests per service; outbox; readiness. A source that fails is marked `error` in its part only (viewer)",
        "security": security,
        "responses": auth(json!({ "200": { "description": "The overview." } })),
    } }));
    paths.insert("/ops/v1/requests".into(), json!({ "get": {
        "summary": "Every cooperative's requests, newest first, filtered (viewer)",
        "security": security,
        "parameters": [q("cooperative", id("coop")),
            q("service", json!({ "type": "string", "maxLength": 64, "pattern": SERVICE_FILTER })),
            q("status", json!({ "enum": ["ACCEPTED", "RUNNING", "COMPLETED", ""] })),
            q("verdict", json!({ "enum": ["PASS", "FAIL", "PARTIAL", ""] })), q("window", window.clone()),
            q("since", time.clone()), q("until", time.clone()), q("id", id("req")),
            q("limit", limit.clone()), q("cursor", id("req"))],
        "responses": auth(json!({ "200": { "description": "`items` and `next` (the cursor of the next page)." }, "400": problem_ref("invalid-query") })),
    } }));
    paths.insert("/ops/v1/requests/{id}".into(), json!({ "get": {
        "summary": "One request with its checks and its timeline from the audit log; identifiers and names masked (viewer)",
        "security": security,
        "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
        "responses": auth(json!({ "200": { "description": "The request, `masked: true`." }, "404": problem_ref("not-found") })),
    } }));
    paths.insert("/ops/v1/requests/{id}/reveal".into(), json!({ "post": {
        "summary": "The request with its values unmasked; audited (request.revealed) with the reason first (admin)",
        "security": security,
        "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
        "requestBody": { "required": true, "content": { "application/json": { "schema": {
            "type": "object", "additionalProperties": false, "required": ["reason"],
            "properties": { "reason": text_field() },
        } } } },
        "responses": auth(json!({ "200": { "description": "The request, `masked: false` (Cache-Control: no-store)." }, "404": problem_ref("not-found"), "422": problem_ref("validation-failed") })),
    } }));
    paths.insert("/ops/v1/audit".into(), json!({ "get": {
        "summary": "The audit log, newest first, filtered (viewer)",
        "security": security,
        "parameters": [q("request", id("req")), q("cooperative", id("coop")), q("operator", short_text.clone()),
            q("action", short_text), q("window", window), q("since", time.clone()), q("until", time),
            q("limit", limit), q("cursor", json!({ "type": "integer", "minimum": 1 }))],
        "responses": auth(json!({ "200": { "description": "`items` and `next`." }, "400": problem_ref("invalid-query") })),
    } }));
}

fn agency_paths(
    paths: &mut Map<String, Value>,
    security: &Value,
    auth: &dyn Fn(Value) -> Value,
    problem_ref: &dyn Fn(&str) -> Value,
) {
    let agency = json!({ "name": "agency", "in": "path", "required": true,
        "schema": agency_enum() });
    paths.insert("/ops/v1/agencies".into(), json!({ "get": {
        "summary": "Every agency: its settings as running (never a secret) and its pause (viewer)",
        "security": security,
        "responses": auth(json!({ "200": { "description": "`items`: agency, settings, services, paused ({reason, pausedBy, pausedAt, expectedEnd} or null)." } })),
    } }));
    paths.insert("/ops/v1/agencies/{agency}/pause".into(), json!({ "post": {
        "summary": "Pause for maintenance: the agency's tasks wait unattempted, and do not time out, until resumed (operator; audited)",
        "security": security, "parameters": [agency],
        "requestBody": { "required": true, "content": { "application/json": { "schema": {
            "type": "object", "additionalProperties": false, "required": ["reason"],
            "properties": {
                "reason": text_field(),
                "expectedEnd": { "type": ["string", "null"], "format": "rabt-future-date-time", "description": "An RFC 3339 date and time in the future (null: not known); shown to cooperatives in a waiting check." },
            },
        } } } },
        "responses": auth(json!({
            "200": { "description": "Paused." }, "404": problem_ref("not-found"),
            "409": problem_ref("agency-pause-state"), "422": problem_ref("validation-failed"),
        })),
    } }));
    paths.insert("/ops/v1/agencies/{agency}/resume".into(), json!({ "post": {
        "summary": "Resume: the waiting tasks run, with the time they spent paused added to their deadlines (operator; audited)",
        "security": security, "parameters": [agency],
        "responses": auth(json!({
            "200": { "description": "Resumed: `extendedTasks`." }, "404": problem_ref("not-found"),
            "409": problem_ref("agency-pause-state"),
        })),
    } }));
}

/// The `Cooperative` schema (as listed and read; `apiKey` and `webhookSecret` only in
/// the answer that creates them).
pub fn cooperative_schema() -> Value {
    let time = json!({ "type": ["string", "null"], "format": "date-time" });
    json!({
        "type": "object",
        "required": ["id", "name", "unifiedNumber", "active", "services", "createdAt", "activity"],
        "properties": {
            "id": { "type": "string", "pattern": "^coop_[0-9a-f]{32}$" },
            "name": { "type": "string" },
            "unifiedNumber": { "type": "string", "pattern": "^7[0-9]{9}$" },
            "active": { "type": "boolean", "description": "false: its keys answer 403 cooperative-inactive." },
            "services": { "type": "array", "items": { "type": "string" } },
            "createdAt": { "type": "string", "format": "date-time" },
            "activity": { "type": "object", "description": "Its requests of the last 24 hours: requests, completed, failed (FAIL), partial (PARTIAL: a check did not answer), errorRate = partial / completed (null without completed requests)." },
            "keys": { "type": "array", "items": { "type": "object", "properties": {
                "id": { "type": "string", "pattern": "^key_[0-9a-f]{16}$" }, "label": { "type": "string" },
                "state": { "enum": ["active", "expiring", "expired", "revoked"] },
                "createdAt": { "type": "string", "format": "date-time" }, "expiresAt": time, "revokedAt": time,
            } } },
            "apiKey": { "type": "string", "description": "Only in the answer that creates it: shown once, stored as a digest." },
            "webhookSecret": { "type": "string", "description": "Only when onboarded: shown once." },
            "links": { "type": "object" },
        },
    })
}

fn cooperative_paths(
    paths: &mut Map<String, Value>,
    security: &Value,
    auth: &dyn Fn(Value) -> Value,
    problem_ref: &dyn Fn(&str) -> Value,
    services: &[&str],
) {
    let service_list =
        json!({ "type": "array", "minItems": 1, "items": { "type": "string", "enum": services } });
    let coop =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/Cooperative" } } });
    let id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let body = |properties: Value, required: Value| {
        json!({ "required": true, "content": { "application/json": { "schema": {
            "type": "object", "additionalProperties": false, "properties": properties, "required": required,
        } } } })
    };
    let reason = json!({ "reason": text_field() });
    let changed = |summary: &str, body: Value| {
        json!({ "post": {
            "summary": summary, "security": security, "parameters": [id], "requestBody": body,
            "responses": auth(json!({
                "200": { "description": "The cooperative now.", "content": coop },
                "404": problem_ref("not-found"), "422": problem_ref("validation-failed"),
            })),
        } })
    };
    paths.insert("/ops/v1/cooperatives".into(), json!({
        "get": {
            "summary": "Every cooperative with its last 24 hours (viewer)", "security": security,
            "responses": auth(json!({ "200": { "description": "`items`: cooperatives." } })),
        },
        "post": {
            "summary": "Onboard a cooperative; its API key and webhook secret are in the answer, once (operator; audited)",
            "security": security,
            "requestBody": body(json!({
                "name": text_field(),
                "unifiedNumber": { "type": "string", "pattern": "^7[0-9]{9}$" },
                "services": service_list.clone(),
            }), json!(["name", "unifiedNumber", "services"])),
            "responses": auth(json!({
                "201": { "description": "Onboarded (Cache-Control: no-store).", "content": coop },
                "409": problem_ref("cooperative-exists"), "422": problem_ref("validation-failed"),
            })),
        },
    }));
    paths.insert("/ops/v1/cooperatives/{id}".into(), json!({ "get": {
        "summary": "One cooperative with its keys (viewer)", "security": security, "parameters": [id],
        "responses": auth(json!({ "200": { "description": "The cooperative.", "content": coop }, "404": problem_ref("not-found") })),
    } }));
    paths.insert("/ops/v1/cooperatives/{id}/keys".into(), json!({ "post": {
        "summary": "Rotate: a new API key, in the answer once; the other valid keys stop after the overlap (operator; audited)",
        "security": security, "parameters": [id],
        "requestBody": { "required": false, "content": { "application/json": { "schema": {
            "type": "object", "additionalProperties": false,
            "properties": { "overlapSeconds": { "type": "integer", "minimum": 0, "maximum": 2592000 } },
        } } } },
        "responses": auth(json!({
            "201": { "description": "`key` (its id), `apiKey`, `expiring` (ids), `until`." },
            "404": problem_ref("not-found"), "422": problem_ref("validation-failed"),
        })),
    } }));
    paths.insert("/ops/v1/cooperatives/{id}/keys/{key}/revoke".into(), json!({ "post": {
        "summary": "Revoke a key at once, on every api process (admin; audited)",
        "security": security,
        "parameters": [id, { "name": "key", "in": "path", "required": true, "schema": { "type": "string" } }],
        "requestBody": body(reason.clone(), json!(["reason"])),
        "responses": auth(json!({
            "200": { "description": "The cooperative now.", "content": coop },
            "404": problem_ref("not-found"), "409": problem_ref("key-revoked"), "422": problem_ref("validation-failed"),
        })),
    } }));
    paths.insert("/ops/v1/cooperatives/{id}/services".into(), json!({ "put": {
        "summary": "Replace the services it may call (operator; audited)", "security": security, "parameters": [id],
        "requestBody": body(json!({ "services": service_list }), json!(["services"])),
        "responses": auth(json!({
            "200": { "description": "The cooperative now.", "content": coop },
            "404": problem_ref("not-found"), "422": problem_ref("validation-failed"),
        })),
    } }));
    paths.insert(
        "/ops/v1/cooperatives/{id}/deactivate".into(),
        changed(
            "Deactivate: its keys answer 403 cooperative-inactive (admin; audited)",
            body(reason.clone(), json!(["reason"])),
        ),
    );
    paths.insert(
        "/ops/v1/cooperatives/{id}/activate".into(),
        changed(
            "Reactivate (operator; audited)",
            json!({ "required": false, "content": { "application/json": { "schema": {
            "type": "object", "additionalProperties": false, "properties": reason,
        } } } }),
        ),
    );
}
