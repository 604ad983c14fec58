//! `/ops/v1/agencies`: settings as running, the maintenance pause and resume, and a
//! waiting check that says why it waits.

use axum::http::{Method, StatusCode};
use rabt_store::OperatorRole;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, agency_item, pointers, problem_type};

/// GET, or POST with a body (and to `…/resume`), as the operator of `token`.
async fn ops(h: &Harness, uri: &str, token: &str, body: Option<Value>) -> Reply {
    let method = if body.is_some() || uri.ends_with("/resume") {
        Method::POST
    } else {
        Method::GET
    };
    h.ops(method, uri, token, body).await
}

#[tokio::test]
async fn an_operator_pauses_and_resumes_an_agency_and_requests_say_why_they_wait() {
    let h = Harness::new().await;
    let huda = h.operator("huda", OperatorRole::Operator).await;
    let viewer = h.operator("sara", OperatorRole::Viewer).await;
    let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let accepted = h.post("k-pause", &body).await;
    let id = accepted.body["id"].as_str().unwrap().to_owned();

    let pause = "/ops/v1/agencies/saudi-post/pause";
    let refused = ops(&h, pause, &viewer, Some(json!({"reason": "x"}))).await;
    assert_eq!(problem_type(&refused), "role-forbidden");
    let bad = ops(
        &h,
        pause,
        &huda,
        Some(json!({"expectedEnd": "2020-01-01T00:00:00Z", "why": 1})),
    )
    .await;
    assert_eq!(pointers(&bad), ["/why"]);
    let bad = ops(
        &h,
        pause,
        &huda,
        Some(json!({"expectedEnd": "2020-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(pointers(&bad), ["/reason", "/expectedEnd"]);
    assert!(
        h.store.agency_pauses().await.unwrap().is_empty(),
        "nothing paused"
    );
    let end = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let paused = ops(
        &h,
        pause,
        &huda,
        Some(json!({"reason": "SPL upgrade", "expectedEnd": end})),
    )
    .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.body["paused"]["pausedBy"], "huda");
    let twice = ops(&h, pause, &huda, Some(json!({"reason": "again"}))).await;
    assert_eq!(problem_type(&twice), "agency-pause-state");

    let listed = ops(&h, "/ops/v1/agencies", &viewer, None).await;
    let post = agency_item(&listed.body["items"], "saudi-post");
    assert_eq!(post["paused"]["reason"], "SPL upgrade");

    let request = h.get(&format!("/v1/requests/{id}")).await;
    let waiting = &request.body["checks"][0]["waiting"];
    assert_eq!(waiting["cause"], "agency_maintenance", "{}", request.body);
    assert!(waiting["expectedEnd"].is_string());
    assert!(
        !request.body.to_string().contains("SPL upgrade"),
        "the operators' reason stays theirs"
    );

    let resumed = ops(&h, "/ops/v1/agencies/saudi-post/resume", &huda, None).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    assert_eq!(resumed.body["extendedTasks"], 1);
    let request = h.get(&format!("/v1/requests/{id}")).await;
    assert!(request.body["checks"][0].get("waiting").is_none());
    let again = ops(&h, "/ops/v1/agencies/saudi-post/resume", &huda, None).await;
    assert_eq!(problem_type(&again), "agency-pause-state");
    let unknown = ops(&h, "/ops/v1/agencies/mars/resume", &huda, None).await;
    assert_eq!(problem_type(&unknown), "not-found");
}
