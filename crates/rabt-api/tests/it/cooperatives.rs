//! `/ops/v1/cooperatives`: onboarding with the key shown once, rotation with an
//! overlap, revocation (401 at once), services, deactivation (403 of its own), roles,
//! and bad input that changes nothing.

use axum::http::{Method, StatusCode};
use rabt_store::{Actor, AuditQuery, OperatorRole};
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, pointers, problem_type};

/// What `key` gets from the public API.
async fn services_status(h: &Harness, key: &str) -> Reply {
    h.get_as(key, "/v1/services").await
}

async fn operator_actions(h: &Harness) -> Vec<(String, String)> {
    h.store
        .audit_log(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.actor {
            Actor::Operator(name) => Some((e.action, name)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn onboard_rotate_revoke_deactivate_and_reactivate() {
    let h = Harness::new().await;
    let huda = h.operator("huda", OperatorRole::Operator).await;
    let admin = h.operator("amal", OperatorRole::Admin).await;
    let body = json!({"name": "جمعية النور", "unifiedNumber": "7000000011", "services": ["post.address.verify"]});
    let made = h
        .ops_post("/ops/v1/cooperatives", &huda, body.clone())
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.headers["cache-control"], "no-store");
    let id = made.body["id"].as_str().unwrap().to_owned();
    let first = made.body["apiKey"].as_str().unwrap().to_owned();
    assert!(
        made.body["webhookSecret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert_eq!(services_status(&h, &first).await.status, StatusCode::OK);
    // Shown once: reading it back never shows a key.
    let read = h
        .ops_get(&format!("/ops/v1/cooperatives/{id}"), &huda)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.body.to_string().contains(&first));
    assert!(read.body.get("apiKey").is_none() && read.body.get("webhookSecret").is_none());
    assert_eq!(read.body["keys"].as_array().unwrap().len(), 1);
    // The same unified number again.
    let twin = h.ops_post("/ops/v1/cooperatives", &huda, body).await;
    assert_eq!(problem_type(&twin), "cooperative-exists");

    // Rotation without overlap: the old key stops, the new one works.
    let rotate = format!("/ops/v1/cooperatives/{id}/keys");
    let rotated = h
        .ops_post(&rotate, &huda, json!({"overlapSeconds": 0}))
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.body);
    let second = rotated.body["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(
        services_status(&h, &first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(services_status(&h, &second).await.status, StatusCode::OK);
    // With the default overlap (a day) both work.
    let third = h.ops(Method::POST, &rotate, &huda, None).await;
    let third_key = third.body["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(services_status(&h, &second).await.status, StatusCode::OK);
    assert_eq!(services_status(&h, &third_key).await.status, StatusCode::OK);

    // Revoking is an admin's: an operator is refused and nothing changes.
    let key_id = third.body["key"].as_str().unwrap();
    let revoke = format!("/ops/v1/cooperatives/{id}/keys/{key_id}/revoke");
    let refused = h.ops_post(&revoke, &huda, json!({"reason": "leak"})).await;
    assert_eq!(problem_type(&refused), "role-forbidden");
    assert_eq!(services_status(&h, &third_key).await.status, StatusCode::OK);
    let no_reason = h.ops_post(&revoke, &admin, json!({})).await;
    assert_eq!(pointers(&no_reason), ["/reason"]);
    let revoked = h.ops_post(&revoke, &admin, json!({"reason": "leak"})).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(
        services_status(&h, &third_key).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = h.ops_post(&revoke, &admin, json!({"reason": "leak"})).await;
    assert_eq!(problem_type(&again), "key-revoked");

    // Deactivated: its key gets a 403 of its own, not a 401.
    let deactivate = format!("/ops/v1/cooperatives/{id}/deactivate");
    let refused = h.ops_post(&deactivate, &huda, json!({"reason": "x"})).await;
    assert_eq!(problem_type(&refused), "role-forbidden");
    let off = h
        .ops_post(&deactivate, &admin, json!({"reason": "licence lapsed"}))
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(off.body["active"], false);
    assert_eq!(
        problem_type(&services_status(&h, &second).await),
        "cooperative-inactive"
    );
    let on = h
        .ops(
            Method::POST,
            &format!("/ops/v1/cooperatives/{id}/activate"),
            &huda,
            None,
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert_eq!(services_status(&h, &second).await.status, StatusCode::OK);

    let actions = operator_actions(&h).await;
    let expected = [
        ("cooperative.onboarded", "huda"),
        ("cooperative.key_rotated", "huda"),
        ("cooperative.key_rotated", "huda"),
        ("cooperative.key_revoked", "amal"),
        ("cooperative.deactivated", "amal"),
        ("cooperative.activated", "huda"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, n)| ((*a).to_owned(), (*n).to_owned()))
        .collect();
    assert_eq!(actions, expected);
}

#[tokio::test]
async fn services_change_and_bad_input_changes_nothing() {
    let h = Harness::new().await;
    let huda = h.operator("huda", OperatorRole::Operator).await;
    let viewer = h.operator("sara", OperatorRole::Viewer).await;
    let uri = format!("/ops/v1/cooperatives/{}/services", h.cooperative);
    let bad = h
        .ops(
            Method::PUT,
            &uri,
            &huda,
            Some(json!({"services": ["post.address.verify", "mars.verify"], "x": 1})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&bad), ["/x"]);
    let bad = h
        .ops(
            Method::PUT,
            &uri,
            &huda,
            Some(json!({"services": ["post.address.verify", "mars.verify"]})),
        )
        .await;
    assert_eq!(pointers(&bad), ["/services/1"]);
    let bad = h
        .ops(Method::PUT, &uri, &huda, Some(json!({"services": []})))
        .await;
    assert_eq!(pointers(&bad), ["/services"]);
    let viewing = h
        .ops(
            Method::PUT,
            &uri,
            &viewer,
            Some(json!({"services": ["post.address.verify"]})),
        )
        .await;
    assert_eq!(problem_type(&viewing), "role-forbidden");
    let before = h.store.cooperative(h.cooperative).await.unwrap().unwrap();
    assert_eq!(before.services.len(), 2, "nothing changed yet");
    let done = h
        .ops(
            Method::PUT,
            &uri,
            &huda,
            Some(json!({"services": ["post.address.verify"]})),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["services"], json!(["post.address.verify"]));
    // Now the cooperative may not ask for an identity check.
    let body = json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}});
    assert_eq!(
        problem_type(&h.post("k-services", &body).await),
        "service-forbidden"
    );

    let onboard = |body: Value| h.ops_post("/ops/v1/cooperatives", &huda, body);
    let bad =
        onboard(json!({"name": " ", "unifiedNumber": "8000000001", "services": ["nope"]})).await;
    assert_eq!(pointers(&bad), ["/name", "/unifiedNumber", "/services/0"]);
    let bad = onboard(json!([])).await;
    assert_eq!(pointers(&bad), [""]);
    assert_eq!(
        h.store.list_cooperatives().await.unwrap().len(),
        2,
        "nothing onboarded"
    );
    let unknown = h.ops_get("/ops/v1/cooperatives/coop_nope", &viewer).await;
    assert_eq!(problem_type(&unknown), "not-found");
    let listed = h.ops_get("/ops/v1/cooperatives", &viewer).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_cooperative_key_is_no_operator_token() {
    let h = Harness::new().await;
    let reply = h.ops_get("/ops/v1/cooperatives", &h.key.clone()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem_type(&reply), "operator-unauthorized");
    let reply = h.ops_post("/ops/v1/cooperatives", &h.key.clone(), json!({"name": "x", "unifiedNumber": "7000000012", "services": ["post.address.verify"]})).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.store.list_cooperatives().await.unwrap().len(), 2);
}
