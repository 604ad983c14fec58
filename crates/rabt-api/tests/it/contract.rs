//! Every answer the API tests get is checked against the contract (issue 14): a problem
//! document against RFC 9457's own JSON Schema (Appendix A, in
//! tests/conformance/rfc9457-problem.schema.json), and any answer of a documented
//! operation against `schemas/openapi.json`: its status must be one the operation
//! documents, and its body must match that response's schema. [`check`] runs inside the
//! harness's `send`, so no test can skip it.

use std::sync::OnceLock;

use axum::http::{HeaderMap, Method, StatusCode};
use rabt_catalogue::Catalogue;
use serde_json::Value;

const RFC_9457: &str = include_str!("../../../../tests/conformance/rfc9457-problem.schema.json");

fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| rabt_api::openapi::document(&Catalogue::bundled().unwrap()))
}

fn rfc_9457() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(RFC_9457).unwrap();
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap()
    })
}

/// A JSON Pointer token (RFC 6901).
fn token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

/// The document's path template matching `path` (`/v1/requests/req_…` →
/// `/v1/requests/{id}`), literal segments first.
fn template(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document()["paths"].as_object()?;
    let mut matches: Vec<&String> = paths
        .keys()
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    part == segment
                        || (part.starts_with('{') && part.ends_with('}') && !segment.is_empty())
                })
        })
        .collect();
    matches.sort_by_key(|t| t.matches('{').count());
    matches.first().map(|t| (*t).clone())
}

/// Checks one answer against the contract; panics, naming what breaks it.
pub(crate) fn check(
    method: &Method,
    uri: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &Value,
) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if content_type == "application/problem+json" {
        let errors: Vec<String> = rfc_9457()
            .iter_errors(body)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {uri}: not an RFC 9457 problem: {errors:?}\n{body}"
        );
        assert_eq!(
            body["status"],
            status.as_u16(),
            "{method} {uri}: `status` differs from the answer's\n{body}"
        );
    }
    let path = uri.split('?').next().unwrap_or_default();
    let Some(template) = template(path) else {
        return; // not a documented path (a 404 for an unknown route)
    };
    let operation_pointer = format!(
        "/paths/{}/{}",
        token(&template),
        method.as_str().to_ascii_lowercase()
    );
    let Some(operation) = document().pointer(&operation_pointer) else {
        return; // a method the path does not have (405)
    };
    let code = status.as_u16().to_string();
    let (mut response_pointer, mut response) = match operation["responses"].get(&code) {
        Some(response) => (format!("{operation_pointer}/responses/{code}"), response),
        None => panic!(
            "{method} {uri}: status {code} is not documented for `{template}` (documented: {:?})\n{body}",
            operation["responses"]
                .as_object()
                .map(|r| r.keys().collect::<Vec<_>>())
        ),
    };
    if let Some(reference) = response["$ref"].as_str() {
        response_pointer = reference.trim_start_matches('#').to_owned();
        response = document().pointer(&response_pointer).unwrap();
    }
    let Some(content) = response["content"].as_object() else {
        return;
    };
    let Some(media) = content.get(&content_type) else {
        panic!(
            "{method} {uri}: {code} answered `{content_type}`, the document says {:?}",
            content.keys().collect::<Vec<_>>()
        );
    };
    if media.get("schema").is_none() {
        return;
    }
    let mut root = document().clone();
    // A pointer in a URI fragment: `{` and `}` (path templates) percent-encoded.
    let pointer = format!("{response_pointer}/content/{}/schema", token(&content_type));
    root["$ref"] = Value::from(format!(
        "#{}",
        pointer.replace('{', "%7B").replace('}', "%7D")
    ));
    let validator = jsonschema::draft202012::new(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {uri}: the {code} body breaks `{template}`'s response schema: {errors:?}\n{body}"
    );
}
