//! The OpenAPI 3.1 document of the REST API, generated from the catalogue so the two
//! cannot drift: each service's input schema (bundled: one self-contained JSON Schema
//! 2020-12 document) becomes a variant of the request body. Served at `/openapi.json`
//! and committed as `schemas/openapi.json` (a test keeps the file current).

use axum::Json;
use axum::extract::State;
use rabt_catalogue::Catalogue;
use rabt_catalogue::openapi::component_name;
use rabt_core::Agency;
use serde_json::{Map, Value, json};

use crate::problem::ProblemKind;
use crate::state::AppState;

mod audit;
mod webhooks;

/// `GET /openapi.json`.
pub async fn serve(State(state): State<AppState>) -> Json<Value> {
    Json(document(state.catalogue()))
}

/// The OpenAPI document for this catalogue.
pub fn document(catalogue: &Catalogue) -> Value {
    // Every schema file as a component of its own, `$ref`s within this document: what
    // OpenAPI validators and code generators resolve.
    let mut schemas: Map<String, Value> = catalogue.openapi_components().into_iter().collect();
    let mut variants = Vec::new();
    for service in catalogue.services() {
        let name = service.name.as_str();
        let input = component_name(service.input().file());
        variants.push(json!({
            "title": name,
            "properties": {
                "service": { "const": name },
                "input": { "$ref": format!("#/components/schemas/{input}") },
            },
        }));
    }
    let names: Vec<&str> = catalogue.services().map(|s| s.name.as_str()).collect();
    schemas.insert("NewRequest".into(), new_request(&names, variants));
    schemas.insert("Accepted".into(), accepted());
    schemas.insert("Request".into(), request());
    schemas.insert("Problem".into(), problem());
    schemas.insert(
        "DeadLetter".into(),
        crate::ops::openapi::dead_letter_schema(),
    );
    schemas.extend(audit::schemas());
    schemas.insert(
        "Cooperative".into(),
        crate::ops::openapi::cooperative_schema(),
    );
    let mut paths = paths(catalogue);
    if let Some(paths) = paths.as_object_mut() {
        paths.extend(crate::ops::openapi::paths(problem_ref, &names));
        paths.extend(audit::paths(problem_ref));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Rabt — cooperative ↔ government integration gateway",
            "version": "1",
            "description": "One API for Saudi cooperative societies to reach Interior, Health, Labor, Municipal, the Chambers of Commerce and Saudi Post. Errors are application/problem+json (RFC 9457) in Arabic or English by Accept-Language.",
        },
        "security": [{ "apiKey": [] }],
        "webhooks": webhooks::webhooks(),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "The cooperative's API key (rabt_…)." },
                (crate::ops::openapi::SECURITY_SCHEME): crate::ops::openapi::security_scheme(),
            },
            "schemas": schemas,
            "responses": problem_responses(),
        },
    })
}

fn new_request(names: &[&str], variants: Vec<Value>) -> Value {
    json!({
        "type": "object",
        "required": ["service", "input"],
        "additionalProperties": false,
        "properties": {
            "service": { "type": "string", "enum": names },
            "input": { "type": "object" },
            "reference": { "type": ["string", "null"], "minLength": 1, "maxLength": 128, "pattern": "^[^\\u0000]*$", "description": "The cooperative's own reference (null: none)." },
            "notify_url": { "type": ["string", "null"], "format": "uri", "maxLength": 2048, "description": "Where to POST the signed completion notification (see webhooks.requestCompleted): an https:// URL of a public host; loopback, private, link-local, metadata and other restricted addresses and local names are refused (422 at /notify_url)." },
        },
        "oneOf": variants,
    })
}

fn accepted() -> Value {
    json!({
        "type": "object",
        "required": ["id", "status", "links"],
        "properties": {
            "id": { "type": "string", "pattern": "^req_[0-9a-f]{32}$" },
            "status": { "const": "ACCEPTED" },
            "links": { "type": "object", "properties": { "self": { "type": "string" } } },
        },
    })
}

fn request() -> Value {
    let outcome = json!({ "enum": ["OK", "NOT_FOUND", "MISMATCH", "INVALID_INPUT", "UPSTREAM_ERROR", "TIMEOUT", null] });
    json!({
        "type": "object",
        "required": ["id", "service", "status", "checks", "links"],
        "properties": {
            "id": { "type": "string" },
            "service": { "type": "string" },
            "status": { "enum": ["ACCEPTED", "RUNNING", "COMPLETED"] },
            "verdict": { "enum": ["PASS", "FAIL", "PARTIAL", null] },
            "outcome": outcome,
            "data": { "description": "The single check's data, for single-agency services (see the service's output schema)." },
            "reference": { "type": ["string", "null"] },
            "traceId": { "type": "string", "pattern": "^[0-9a-f]{32}$", "description": "The W3C trace id of all of this request's work (the caller's, when it sent a traceparent)." },
            "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" },
            "completedAt": { "type": ["string", "null"], "format": "date-time" },
            "deadlineAt": { "type": "string", "format": "date-time" },
            "checks": { "type": "array", "items": {
                "type": "object",
                "properties": {
                    "id": { "type": "string" }, "service": { "type": "string" }, "agency": { "type": "string" },
                    "required": { "type": "boolean" },
                    "status": { "enum": ["BLOCKED", "QUEUED", "RUNNING", "AWAITING_CALLBACK", "COMPLETED"], "description": "BLOCKED: a check of a composite waiting for the checks it needs." },
                    "outcome": outcome, "data": {}, "attempts": { "type": "integer" },
                    "upstreamRef": { "type": ["string", "null"] }, "error": { "type": ["string", "null"] },
                    "latencyMs": { "type": ["integer", "null"] },
                },
            } },
            "payload": {
                "type": "object",
                "required": ["expired"],
                "description": "Inputs and agencies' answers are kept for the deployment's retention.payloads (90 days by default), then replaced by keyed digests: from then on `expired` is true and every check's `data` is null. The request, its verdict, every outcome and the sealed audit log stay.",
                "properties": { "expired": { "type": "boolean" }, "expiredAt": { "type": "string", "format": "date-time" } },
            },
            "links": { "type": "object" },
        },
    })
}

fn problem() -> Value {
    json!({
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": { "type": "string", "description": "urn:rabt:problem:<slug>, stable." },
            "title": { "type": "string", "description": "In Arabic or English, by Accept-Language." },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "traceId": { "type": "string", "pattern": "^[0-9a-f]{32}$", "description": "The W3C trace id of this call, for a report to the operators." },
            "errors": { "type": "array", "maxItems": crate::problem::MAX_ERRORS, "items": { "type": "object", "properties": {
                "pointer": { "type": "string", "description": "JSON Pointer (RFC 6901) of the offending field in the body." },
                "parameter": { "type": "string", "description": "The offending query parameter." },
                "detail": { "type": "string" },
            } } },
            "errorsOmitted": { "type": "integer", "minimum": 1, "description": "How many more offending fields there were than `errors` lists." },
        },
    })
}

/// `Retry-After` in seconds.
fn retry_after_header() -> Value {
    json!({ "description": "Seconds to wait before trying again.", "required": true, "schema": { "type": "integer", "minimum": 1 } })
}

/// The IETF draft's `RateLimit-Policy` and `RateLimit` fields.
fn rate_limit_headers() -> Value {
    json!({
        "RateLimit-Policy": { "description": "The cooperative's limits (draft-ietf-httpapi-ratelimit-headers): `\"rate\";q=<burst>;w=<seconds>`, and `\"daily\";q=<quota>;w=86400` with a quota.", "schema": { "type": "string" } },
        "RateLimit": { "description": "What is left of the rate: `\"rate\";r=<calls left>;t=<seconds until whole again>`.", "schema": { "type": "string" } },
    })
}

/// One response per problem type, so every `problem_ref` of the document resolves
/// (openapi-spec-validator checks that): all of them, never a hand-kept list.
fn problem_responses() -> Value {
    let kinds = ProblemKind::ALL;
    let mut responses = Map::new();
    for kind in kinds {
        let mut response = json!({
            "description": kind.titles().0,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
        });
        match kind {
            ProblemKind::RateLimited | ProblemKind::QuotaExceeded => {
                let mut headers = rate_limit_headers();
                headers["Retry-After"] = retry_after_header();
                response["headers"] = headers;
            }
            ProblemKind::Unavailable | ProblemKind::IdempotencyConflict => {
                response["headers"] = json!({ "Retry-After": retry_after_header() });
            }
            _ => {}
        }
        responses.insert(kind.slug().to_owned(), response);
    }
    Value::Object(responses)
}

/// A character that is neither NUL (refused in any string) nor white space as Rust's
/// `str::trim` sees it (Unicode's White_Space), spelled out: regex engines' `\s` differ
/// from it and from each other.
pub(crate) const NOT_BLANK: &str = "[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A service name to filter by, or nothing (`ServiceName`'s rule).
pub(crate) const SERVICE_FILTER: &str =
    "^([a-z]([a-z0-9-]*[a-z0-9])?(\\.[a-z]([a-z0-9-]*[a-z0-9])?){1,3})?$";

fn problem_ref(slug: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{slug}") })
}

fn paths(catalogue: &Catalogue) -> Value {
    let json_body = |schema: &str| json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } });
    // The agencies that answer by callback are those with a callback schema.
    let calling_back: Vec<(Agency, String)> = Agency::ALL
        .into_iter()
        .filter_map(|a| Some((a, component_name(catalogue.callback_schema(a)?.file()))))
        .collect();
    let callback_agencies: Vec<&str> = calling_back.iter().map(|(a, _)| a.as_str()).collect();
    let callback_bodies: Vec<Value> = calling_back
        .iter()
        .map(|(agency, schema)| json!({ "title": agency.as_str(), "$ref": format!("#/components/schemas/{schema}") }))
        .collect();
    // What every cooperative call may also get: a refused key, its rate limit, the
    // database down or busy (one `503` entry: both are problem documents with
    // Retry-After), and for a body a 408/413 at the edge.
    let cooperative_call = |mut responses: Value| {
        responses["401"] = problem_ref("unauthorized");
        // A deactivated cooperative's key is refused on every call; where the call has a
        // 403 of its own, the one response names both.
        responses["403"] = match responses["403"].take() {
            Value::Null => problem_ref("cooperative-inactive"),
            _ => json!({
                "description": "The service is not among this cooperative's (`service-forbidden`), or the cooperative is deactivated (`cooperative-inactive`).",
                "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
            }),
        };
        responses["429"] = problem_ref("rate-limited");
        responses["503"] = problem_ref("unavailable");
        responses
    };
    let limited = |description: &str, content: Value| json!({ "description": description, "headers": rate_limit_headers(), "content": content });
    // A cursor, a reference, a service to filter by: what the server accepts, so that a
    // generated value the document allows is one the server takes ("" filters nothing).
    let list_parameters = json!([
        { "name": "service", "in": "query", "schema": { "type": "string", "maxLength": 64, "pattern": SERVICE_FILTER } },
        { "name": "status", "in": "query", "schema": { "enum": ["ACCEPTED", "RUNNING", "COMPLETED", ""] } },
        { "name": "reference", "in": "query", "schema": { "type": "string", "maxLength": 128, "pattern": "^[^\\u0000]*$" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } },
        { "name": "cursor", "in": "query", "schema": { "type": "string", "pattern": "^(req_[0-9a-f]{32})?$" }, "description": "From the `next` link." },
    ]);
    let request_link = json!({ "GetRequest": { "operationId": "getRequest", "parameters": { "id": "$response.body#/id" },
        "description": "The request just accepted." } });
    json!({
        "/v1/requests": {
            "post": {
                "operationId": "createRequest",
                "summary": "Ask a service of an agency",
                "parameters": [
                    { "name": "Idempotency-Key", "in": "header", "required": true,
                      "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" },
                      "description": "Unique per request (1 to 255 printable ASCII characters, e.g. a UUID); send the same key when retrying. Same key and body: the first response is replayed. Same key, other body: 422. Same key while the first is being stored: 409. Keys are kept at least 24 hours. Sent twice: 400." },
                    { "name": "Prefer", "in": "header", "schema": { "type": "string", "example": "wait=5" },
                      "description": "wait=N (N ≤ 30): answer 200 with the result if it is ready within N seconds." },
                ],
                "requestBody": { "required": true, "content": json_body("NewRequest") },
                "responses": cooperative_call(json!({
                    "200": { "description": "Completed within the Prefer: wait time.", "headers": rate_limit_headers(), "content": json_body("Request"), "links": request_link.clone() },
                    "202": { "description": "Accepted; poll the Location.", "headers": rate_limit_headers(), "content": json_body("Accepted"), "links": request_link },
                    "400": problem_ref("idempotency-key-missing"),
                    "403": problem_ref("service-forbidden"),
                    "408": problem_ref("request-timeout"),
                    "409": problem_ref("idempotency-conflict"),
                    "413": problem_ref("payload-too-large"),
                    "415": problem_ref("unsupported-media-type"),
                    "422": problem_ref("validation-failed"),
                })),
            },
            "get": {
                "operationId": "listRequests",
                "summary": "The caller's requests, newest first",
                "parameters": list_parameters,
                "responses": cooperative_call(json!({
                    "200": limited("A page of requests: `items` and `links.next`.", json!({ "application/json": { "schema": { "type": "object", "required": ["items", "links"] } } })),
                    "400": problem_ref("invalid-query"),
                })),
            },
        },
        "/v1/requests/{id}": {
            "get": {
                "operationId": "getRequest",
                "summary": "A request with every check",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": cooperative_call(json!({ "200": limited("The request.", json_body("Request")), "404": problem_ref("not-found") })),
            },
        },
        "/v1/services": {
            "get": {
                "operationId": "listServices",
                "summary": "The services this caller may use",
                "responses": cooperative_call(json!({ "200": limited("Services.", json!({ "application/json": { "schema": { "type": "object" } } })) })),
            },
        },
        "/v1/services/{name}": {
            "get": {
                "operationId": "getService",
                "summary": "One service with its input and output schemas",
                "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": cooperative_call(json!({ "200": limited("The service.", json!({ "application/json": { "schema": { "type": "object" } } })), "404": problem_ref("not-found") })),
            },
        },
        "/v1/callbacks/{agency}": {
            "post": {
                "operationId": "receiveCallback",
                "summary": "For agencies: a signed callback (Standard Webhooks)",
                "description": "An agency that answers later (municipal, health) posts its answer here, signed with the secret Rabt gave it. Refused unless the signature verifies with a current secret, the timestamp is within 5 minutes, the body is valid against schemas/callbacks/<agency>.json and its `reference` names a task of this agency; refusals are audited and change nothing else. A repeated webhook-id is acknowledged (`duplicate`) and not applied again.",
                "security": [],
                "parameters": [
                    { "name": "agency", "in": "path", "required": true, "schema": { "enum": callback_agencies } },
                    { "name": "webhook-id", "in": "header", "required": true, "schema": { "type": "string" } },
                    { "name": "webhook-timestamp", "in": "header", "required": true, "schema": { "type": "string" }, "description": "Unix seconds." },
                    { "name": "webhook-signature", "in": "header", "required": true, "schema": { "type": "string" }, "description": "v1,<base64 HMAC-SHA256 of id.timestamp.body>, space separated during a rotation." },
                ],
                "requestBody": { "required": true, "description": "The agency's callback schema (schemas/callbacks/<agency>.json).", "content": { "application/json": { "schema": { "anyOf": callback_bodies } } } },
                "responses": {
                    "202": { "description": "Accepted, or a duplicate acknowledged.", "content": { "application/json": { "schema": { "type": "object", "properties": { "status": { "enum": ["accepted", "duplicate"] } } } } } },
                    "400": problem_ref("malformed-json"),
                    "401": problem_ref("callback-unverified"),
                    "404": problem_ref("not-found"),
                    "422": problem_ref("validation-failed"),
                },
            },
        },
        "/healthz": { "get": { "operationId": "healthz", "summary": "Alive", "security": [], "responses": { "200": { "description": "The process runs." } } } },
        "/readyz": { "get": { "operationId": "readyz", "summary": "Ready: database and broker reachable, every long-running task running", "security": [], "responses": { "200": { "description": "Ready." }, "503": problem_ref("unavailable") } } },
        "/openapi.json": { "get": { "operationId": "openapi", "summary": "This document", "security": [], "responses": { "200": { "description": "OpenAPI 3.1." } } } },
    })
}
