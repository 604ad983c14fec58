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
