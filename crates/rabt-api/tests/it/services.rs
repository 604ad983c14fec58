//! Service discovery.

use axum::http::StatusCode;

use crate::harness::{Harness, problem_type};

#[tokio::test]
async fn a_cooperative_sees_only_its_services_with_their_schemas() {
    let h = Harness::new().await;
    let list = h.get("/v1/services").await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["interior.identity.verify", "post.address.verify"]
    );
    let post = &list.body["items"][1];
    assert_eq!(post["agency"], "saudi-post");
    assert_eq!(post["mode"], "sync");
    assert_eq!(post["available"], true);
    assert!(post["title"]["ar"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(list.body["items"][0]["available"], false);

    let detail = h.get("/v1/services/post.address.verify").await;
    assert_eq!(detail.status, StatusCode::OK);
    let input = &detail.body["inputSchema"];
    assert_eq!(
        input["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(input.to_string().contains("shortAddress"));
    assert!(
        detail.body["outputSchema"]
            .to_string()
            .contains("buildingNumber")
    );
    assert!(detail.body["retry"]["maxAttempts"].as_u64().unwrap() >= 1);

    let forbidden = h.get("/v1/services/chambers.membership.verify").await;
    assert_eq!(forbidden.status, StatusCode::NOT_FOUND);
    assert_eq!(problem_type(&forbidden), "not-found");
    assert_eq!(
        h.get("/v1/services/no.such.service").await.status,
        StatusCode::NOT_FOUND
    );
}
