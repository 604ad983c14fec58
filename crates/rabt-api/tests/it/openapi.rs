//! The OpenAPI document: served, complete, and committed as schemas/openapi.json.

use axum::http::{Method, StatusCode};
use rabt_catalogue::Catalogue;
use serde_json::Value;

use crate::harness::Harness;

#[tokio::test]
async fn the_document_is_served_and_names_every_service() {
    let h = Harness::new().await;
    let reply = h.send(Method::GET, "/openapi.json", &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let catalogue = Catalogue::bundled().unwrap();
    for service in catalogue.services() {
        let name = service.name.as_str();
        assert!(
            doc["components"]["schemas"][format!("{name}.input")].is_object(),
            "{name}"
        );
        let names = doc["components"]["schemas"]["NewRequest"]["properties"]["service"]["enum"]
            .as_array()
            .unwrap();
        assert!(names.contains(&Value::from(name)), "{name}");
    }
    for path in [
        "/v1/requests",
        "/v1/requests/{id}",
        "/v1/services",
        "/v1/services/{name}",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

#[test]
fn the_committed_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
        .unwrap_or(Value::Null);
    let generated = rabt_api::openapi::document(&Catalogue::bundled().unwrap());
    assert!(
        committed == generated,
        "schemas/openapi.json is out of date: run `cargo run -q -p rabt -- openapi > schemas/openapi.json`"
    );
}

/// Every `$ref` of `node`.
fn references<'v>(node: &'v Value, out: &mut Vec<&'v str>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => out.push(reference),
                    _ => references(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_within_the_document() {
    // OpenAPI tools resolve `$ref`s against the document itself; embedded `$id`s of a
    // JSON Schema compound document are lost on them.
    let doc = rabt_api::openapi::document(&Catalogue::bundled().unwrap());
    let mut found = Vec::new();
    references(&doc, &mut found);
    assert!(found.len() > 50, "{} references", found.len());
    for reference in found {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} leaves the document"));
        assert!(doc.pointer(pointer).is_some(), "{reference} names nothing");
    }
    assert!(
        !serde_json::to_string(&doc).unwrap().contains("\"$id\""),
        "no embedded $id is left for a tool to trip on"
    );
}

#[test]
fn the_flattened_input_schemas_validate_as_the_catalogue_does() {
    let catalogue = Catalogue::bundled().unwrap();
    let doc = rabt_api::openapi::document(&catalogue);
    let service = catalogue.service("interior.identity.verify").unwrap();
    let mut root = doc.clone();
    root["$ref"] = Value::from("#/components/schemas/interior.identity.verify.input");
    let validator = jsonschema::draft202012::new(&root).unwrap();
    let good = serde_json::json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}});
    let bad = serde_json::json!({"idNumber": "10000000", "birthDate": {"calendar": "hijri", "year": 1400, "month": 13}});
    assert!(validator.is_valid(&good));
    assert!(service.input().validate(&good).is_ok());
    assert!(!validator.is_valid(&bad));
    assert!(service.input().validate(&bad).is_err());
}

#[test]
fn standard_openapi_tooling_accepts_the_committed_document() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/openapi.json");
    let run = std::process::Command::new(rabt_test_support::python())
        .args(["-m", "openapi_spec_validator", path])
        .output()
        .expect("python starts");
    assert!(
        run.status.success(),
        "openapi-spec-validator refused schemas/openapi.json (tests/run.sh installs it from \
         tests/requirements.txt):\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}
