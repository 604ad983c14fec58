//! Accepting, waiting for, reading and listing requests.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use rabt_core::{Outcome, RequestId};
use rabt_store::{ListQuery, StartResult, TaskCompletion};
use rabt_worker::{OutboxRelay, RelaySettings};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::harness::{Harness, problem_type};

fn address(short: &str) -> Value {
    json!({"service": "post.address.verify", "input": {"shortAddress": short}, "reference": "inv-7"})
}

#[tokio::test]
async fn an_accepted_request_is_stored_with_its_task_and_outbox_row() {
    let h = Harness::new().await;
    let reply = h.post("first", &address("RRRD2929")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap();
    assert!(id.starts_with("req_"));
    assert_eq!(reply.body["status"], "ACCEPTED");
    assert_eq!(reply.headers["location"], format!("/v1/requests/{id}"));

    let read = h.get(&format!("/v1/requests/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["status"], "ACCEPTED");
    assert_eq!(read.body["reference"], "inv-7");
    assert_eq!(read.body["checks"][0]["status"], "QUEUED");
    assert_eq!(read.body["checks"][0]["agency"], "saudi-post");
    assert!(read.body["verdict"].is_null());

    let rows = h
        .store
        .claim_outbox(10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one task message waits in the outbox");
    assert_eq!(rows[0].exchange, "rabt.tasks");
    assert_eq!(rows[0].routing_key, "saudi-post");
    let message: Value = serde_json::from_slice(&rows[0].body).unwrap();
    assert_eq!(message["task"], read.body["checks"][0]["id"]);
    assert!(
        !String::from_utf8_lossy(&rows[0].body).contains("RRRD2929"),
        "messages carry ids, not inputs"
    );
}

#[tokio::test]
async fn a_reused_key_replays_or_refuses() {
    let h = Harness::new().await;
    let first = h.post("same", &address("RRRD2929")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);

    // The same body with its keys in another order is the same request.
    let reordered: Value = serde_json::from_str(r#"{"reference":"inv-7","input":{"shortAddress":"RRRD2929"},"service":"post.address.verify"}"#).unwrap();
    let replay = h.post("same", &reordered).await;
    assert_eq!(replay.status, StatusCode::ACCEPTED);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body, first.body);

    let different = h.post("same", &address("ZZZZ9999")).await;
    assert_eq!(different.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&different), "idempotency-key-reused");
    assert_eq!(h.stored_requests().await, 1);

    // Keys belong to a cooperative: B's "same" is a new request.
    let other = h
        .send(
            Method::POST,
            "/v1/requests",
            &[
                ("authorization", &format!("Bearer {}", h.other_key)),
                ("idempotency-key", "same"),
                ("content-type", "application/json"),
            ],
            address("RRRD2929").to_string().into_bytes(),
        )
        .await;
    assert_eq!(other.status, StatusCode::ACCEPTED);
    assert_ne!(other.body["id"], first.body["id"]);
}

#[tokio::test]
async fn another_cooperatives_request_is_not_found() {
    let h = Harness::new().await;
    let reply = h.post("mine", &address("RRRD2929")).await;
    let path = format!("/v1/requests/{}", reply.body["id"].as_str().unwrap());
    assert_eq!(h.get(&path).await.status, StatusCode::OK);
    let foreign = h.get_as(&h.other_key.clone(), &path).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(problem_type(&foreign), "not-found");
    assert_eq!(
        h.get("/v1/requests/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
    let listed = h.get_as(&h.other_key.clone(), "/v1/requests").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn lists_page_newest_first_with_filters() {
    let h = Harness::new().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "reference": format!("r{}", n % 2)});
        ids.push(
            h.post(&format!("k{n}"), &body).await.body["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = h.get("/v1/requests?limit=2").await;
    let items: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(items, vec![ids[4].as_str(), ids[3].as_str()]);
    let next = page.body["links"]["next"].as_str().unwrap().to_owned();
    let page2 = h.get(&next).await;
    let items2: Vec<&str> = page2.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(items2, vec![ids[2].as_str(), ids[1].as_str()]);

    let filtered = h
        .get("/v1/requests?reference=r1&status=ACCEPTED&service=post.address.verify")
        .await;
    let refs: Vec<&str> = filtered.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, vec!["r1", "r1"]);
    assert!(filtered.body["links"]["next"].is_null());
}

/// What a worker does for one task: start it, answer it, publish the completion event.
async fn complete_first_request(h: &Harness, relay: &OutboxRelay) -> RequestId {
    let request = loop {
        let listed = h
            .store
            .list_requests(
                h.cooperative,
                &ListQuery {
                    service: None,
                    status: None,
                    reference: None,
                    before: None,
                    limit: 1,
                },
            )
            .await
            .unwrap();
        if let Some(first) = listed.first() {
            break first.id;
        }
        tokio::task::yield_now().await;
    };
    let record = h.stored(request).await;
    let task = record.tasks[0].id;
    assert!(matches!(
        h.store.start_task(task, Utc::now()).await.unwrap(),
        StartResult::Started { attempt: 1 }
    ));
    h.store
        .complete_task(&TaskCompletion {
            task,
            outcome: Outcome::NotFound,
            data: Some(json!({"found": false})),
            upstream_ref: None,
            error: None,
            latency_ms: Some(3),
            completed_at: Utc::now(),
        })
        .await
        .unwrap();
    relay.drain().await.unwrap();
    request
}

#[tokio::test]
async fn prefer_wait_answers_200_with_the_result_once_it_is_ready() {
    let h = Harness::new().await;
    let shutdown = CancellationToken::new();
    tokio::spawn(rabt_api::forward_completions(
        h.transport.clone(),
        h.state.waiters().clone(),
        shutdown.clone(),
    ));
    let relay = OutboxRelay::new(
        h.store.clone(),
        h.transport.clone(),
        Arc::new(Notify::new()),
        RelaySettings::default(),
    );

    let post = async {
        h.post_with(
            "wait-1",
            &[("prefer", "wait=20")],
            address("ZZZZ9999").to_string(),
        )
        .await
    };
    let (reply, request) = tokio::join!(post, complete_first_request(&h, &relay));
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["preference-applied"], "wait=20");
    assert_eq!(reply.body["id"], request.to_string());
    assert_eq!(reply.body["status"], "COMPLETED");
    assert_eq!(reply.body["outcome"], "NOT_FOUND");
    assert_eq!(reply.body["verdict"], "FAIL");
    assert_eq!(reply.body["data"]["found"], false);
    assert_eq!(reply.body["checks"][0]["latencyMs"], 3);
    assert!(
        h.state.waiters().is_empty(),
        "the waiter cleaned up after itself"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn prefer_wait_gives_up_with_202_when_nothing_answers() {
    let h = Harness::new().await;
    let reply = h
        .post_with(
            "wait-2",
            &[("prefer", "wait=1")],
            address("RRRD2929").to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["status"], "ACCEPTED");
    assert!(reply.headers.get("preference-applied").is_none());
}

#[tokio::test]
async fn probes_report_health_and_readiness() {
    let h = Harness::new().await;
    let health = h.send(Method::GET, "/healthz", &[], Vec::new()).await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = h.send(Method::GET, "/readyz", &[], Vec::new()).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["checks"]["database"], "ok");

    h.transport.close().await;
    let closed = h.send(Method::GET, "/readyz", &[], Vec::new()).await;
    assert_eq!(
        closed.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        closed.body
    );
    assert!(closed.headers.get("retry-after").is_some());
    assert!(
        closed.body["detail"]
            .as_str()
            .unwrap()
            .contains("broker: down")
    );
}

/// A long-running task that died (its supervisor restarts it) makes the process not
/// ready until it runs again, and `/readyz` names it.
#[tokio::test]
async fn readiness_names_a_task_that_died() {
    use rabt_metrics::TaskHealth;
    let h = Harness::new().await;
    let supervision = h.state.settings().supervision.clone();
    supervision.set("consumer:labor", TaskHealth::Running { restarts: 0 });
    let ready = h.send(Method::GET, "/readyz", &[], Vec::new()).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["checks"]["tasks"], "ok");

    supervision.set(
        "consumer:labor",
        TaskHealth::Restarting {
            restarts: 1,
            since: std::time::Instant::now(),
            why: "panicked",
        },
    );
    let down = h.send(Method::GET, "/readyz", &[], Vec::new()).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    let detail = down.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("tasks: down") && detail.contains("consumer:labor panicked"),
        "{detail}"
    );

    supervision.set("consumer:labor", TaskHealth::Running { restarts: 1 });
    let again = h.send(Method::GET, "/readyz", &[], Vec::new()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}
