//! The sealed audit log's part of the OpenAPI document: `/v1/audit/*`, a request's
//! evidence, and the operators' search.

use serde_json::{Map, Value, json};

use crate::ops::openapi::SECURITY_SCHEME;

/// The `Evidence` and `ConsistencyProof` schemas.
pub(super) fn schemas() -> Map<String, Value> {
    let hashes = json!({ "type": "array", "items": { "type": "string", "contentEncoding": "base64", "description": "A SHA-256 hash." } });
    let mut schemas = Map::new();
    schemas.insert("Evidence".into(), json!({
        "type": "object",
        "required": ["request", "checkpoint", "tree_size", "entries", "pending", "links"],
        "properties": {
            "request": { "type": "string" },
            "checkpoint": { "type": ["string", "null"], "description": "The latest checkpoint, as served at /v1/audit/checkpoint, which every proof leads to (null: nothing sealed yet)." },
            "tree_size": { "type": ["integer", "null"], "description": "The checkpoint's tree size." },
            "pending": { "type": "integer", "description": "Entries not covered by the checkpoint yet (ask again, or send `Prefer: wait=N`)." },
            "entries": { "type": "array", "items": {
                "type": "object",
                "required": ["seq", "action", "status"],
                "properties": {
                    "seq": { "type": "integer" },
                    "action": { "type": "string", "description": "request.accepted, task.completed, …" },
                    "status": { "enum": ["sealed", "pending"] },
                    "leaf_index": { "type": "integer", "description": "Its position in the tree (sealed entries)." },
                    "canonical": { "type": "string", "contentEncoding": "base64", "description": "The entry's RFC 8785 JSON, the exact bytes hashed: leaf hash = SHA-256(0x00 ‖ these bytes)." },
                    "inclusion_proof": hashes.clone(),
                },
            } },
            "links": { "type": "object" },
        },
    }));
    schemas.insert(
        "ConsistencyProof".into(),
        json!({
            "type": "object",
            "required": ["from", "to", "proof"],
            "properties": {
                "from": { "type": "integer", "minimum": 1 },
                "to": { "type": "integer", "minimum": 1 },
                "proof": hashes,
            },
        }),
    );
    schemas
}

/// The paths. `problem_ref` names a shared problem response.
pub(super) fn paths(problem_ref: impl Fn(&str) -> Value) -> Map<String, Value> {
    let text = |description: &str| json!({ "description": description, "content": { "text/plain": { "schema": { "type": "string" } } } });
    let body = |schema: &str| json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } });
    let size = |name: &str| json!({ "name": name, "in": "query", "required": true, "schema": { "type": "integer", "minimum": 1 } });
    let mut paths = Map::new();
    paths.insert("/v1/audit/checkpoint".into(), json!({
        "get": {
            "summary": "The latest signed checkpoint of the audit log",
            "description": "A C2SP tlog-checkpoint in a C2SP signed note, byte for byte as signed: origin, tree size, base64 RFC 9162 root, a blank line, then `— <key name> <base64(key id ‖ Ed25519 signature)>`. Public, as a Certificate Transparency log's tree head is.",
            "security": [],
            "responses": { "200": text("The signed note."), "503": problem_ref("audit-not-sealed") },
        },
    }));
    paths.insert("/v1/audit/key".into(), json!({
        "get": {
            "summary": "The checkpoint verifier key",
            "description": "`name+keyid+base64(0x01 ‖ Ed25519 public key)`, the signed-note verifier key form. Pin it once (docs/api.md); a checkpoint signed by any other key is not Rabt's.",
            "security": [],
            "responses": { "200": text("The verifier key and a newline."), "503": problem_ref("audit-not-sealed") },
        },
    }));
    paths.insert("/v1/audit/consistency".into(), json!({
        "get": {
            "summary": "A consistency proof between two tree sizes",
            "description": "The RFC 9162 §2.1.4 proof that the tree of `to` entries extends the tree of `from` entries: nothing sealed in between was changed, removed or reordered.",
            "security": [],
            "parameters": [size("from"), size("to")],
            "responses": {
                "200": { "description": "The proof.", "content": body("ConsistencyProof") },
                "400": problem_ref("invalid-query"),
                "422": problem_ref("tree-size-out-of-range"),
                "503": problem_ref("audit-not-sealed"),
            },
        },
    }));
    paths.insert("/v1/requests/{id}/evidence".into(), json!({
        "get": {
            "summary": "Proof that a request's audit entries are in the sealed log",
            "description": "For the caller's own request: the latest checkpoint and each audit entry with its leaf index, canonical bytes and inclusion proof against it; entries not sealed yet are `pending`. With `Prefer: wait=N` (N ≤ 30) the answer waits up to N seconds for them.",
            "parameters": [
                { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                { "name": "Prefer", "in": "header", "schema": { "type": "string", "example": "wait=5" } },
            ],
            "responses": {
                "200": { "description": "The evidence.", "content": body("Evidence") },
                "401": problem_ref("unauthorized"),
                "404": problem_ref("not-found"),
                "503": problem_ref("unavailable"),
            },
        },
    }));
    paths.insert("/ops/v1/audit/search".into(), json!({
        "post": {
            "summary": "Requests that concerned a person (viewer)",
            "description": "Finds every request whose input held this identity number or mobile, by its HMAC-SHA256 digest under the deployment's personal-data key: the log holds digests, never numbers. The number goes in the body (never a URL) and is not stored; the search is audited with the digest.",
            "security": [{ SECURITY_SCHEME: [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "type": "object", "additionalProperties": false,
                "properties": {
                    "idNumber": { "type": "string", "format": "rabt-national-id", "pattern": "^[12][0-9]{9}$", "description": "A national ID or iqama number with its Luhn check digit." },
                    "mobile": { "type": "string", "format": "rabt-mobile", "pattern": "^(05|9665)[0-9]{8}$" },
                },
                "oneOf": [{ "required": ["idNumber"] }, { "required": ["mobile"] }],
            } } } },
            "responses": {
                "200": { "description": "The digest searched for and the requests, newest first.", "content": { "application/json": { "schema": { "type": "object", "required": ["subject", "items"], "properties": { "subject": { "type": "string" }, "items": { "type": "array" } } } } } },
                "400": problem_ref("malformed-json"),
                "401": problem_ref("operator-unauthorized"),
                "403": problem_ref("role-forbidden"),
                "415": problem_ref("unsupported-media-type"),
                "422": problem_ref("validation-failed"),
                "503": problem_ref("unavailable"),
            },
        },
    }));
    paths
}
