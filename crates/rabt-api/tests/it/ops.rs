//! The operator API (`/ops/v1/dead-letters`) through `oneshot`: operator tokens and
//! roles, filters and paging, replaying one or many, purging, and bad input that
//! changes nothing. Dead letters are recorded through the store, as the drain does.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use http_body_util::BodyExt;
use rabt_core::{Agency, DeadLetterId, RequestId, TaskId, TaskState};
use rabt_store::{Actor, AuditQuery, NewDeadLetter, OperatorRole};
use serde_json::json;
use tower::ServiceExt;

use crate::harness::{Harness, Reply, pointers, problem_type};

/// A dead letter of `agency` naming `task`, or an undecodable one.
fn letter(agency: Agency, task: Option<TaskId>) -> NewDeadLetter {
    NewDeadLetter {
        agency,
        task,
        message_id: Some(
            task.map_or_else(|| format!("poison-{}", TaskId::new()), |t| t.to_string()),
        ),
        reason: if task.is_some() {
            "delivery_limit"
        } else {
            "undecodable message"
        }
        .to_owned(),
        body: match task {
            Some(task) => format!(r#"{{"v":"1","task":"{task}"}}"#).into_bytes(),
            None => b"\xffnot json".to_vec(),
        },
        headers: vec![("x-rabt-attempt".to_owned(), "1".to_owned())],
        dead_at: Utc::now(),
    }
}

/// A request accepted through the API whose task a dead letter then ended.
async fn dead_lettered_request(h: &Harness) -> (RequestId, TaskId, DeadLetterId) {
    let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let reply = h.post(&format!("k-{}", TaskId::new()), &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let request: RequestId = reply.body["id"].as_str().unwrap().parse().unwrap();
    let record = h.stored(request).await;
    let task = record.tasks[0].id;
    h.store.start_task(task, Utc::now()).await.unwrap();
    let recorded = h
        .store
        .record_dead_letter(&letter(Agency::SaudiPost, Some(task)))
        .await
        .unwrap();
    assert!(recorded.ended.is_some());
    (request, task, recorded.id)
}

async fn undecodable(h: &Harness, agency: Agency) -> DeadLetterId {
    h.store
        .record_dead_letter(&letter(agency, None))
        .await
        .unwrap()
        .id
}

/// Saudi Post's replays in `/metrics` (the process's figure, shared by every test here).
async fn replays(h: &Harness) -> f64 {
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let response = h.ops_app().oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let key = r#"rabt_dead_letter_replays_total{agency="saudi-post"}"#;
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn audit(h: &Harness, action: &str) -> Vec<rabt_store::AuditEntry> {
    let query = AuditQuery {
        action: Some(action.to_owned()),
        limit: 100,
        ..AuditQuery::default()
    };
    h.store.audit_log(&query).await.unwrap()
}

#[tokio::test]
async fn tokens_and_roles_are_checked() {
    let h = Harness::new().await;
    let viewer = h.operator("viewer", OperatorRole::Viewer).await;
    let op = h.operator("op", OperatorRole::Operator).await;
    let (_, _, id) = dead_lettered_request(&h).await;
    let path = format!("/ops/v1/dead-letters/{id}");

    let anonymous = h
        .send(Method::GET, "/ops/v1/dead-letters", &[], Vec::new())
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem_type(&anonymous), "operator-unauthorized");
    assert!(anonymous.headers.contains_key("www-authenticate"));
    for token in ["rabt_op_unknown".to_owned(), h.key.clone()] {
        let reply = h.ops_get("/ops/v1/dead-letters", &token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "a cooperative's key is no token"
        );
        assert_eq!(problem_type(&reply), "operator-unauthorized");
    }
    let reply = h.ops_get(&path, &viewer).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let replay = format!("{path}/replay");
    let reply = h.ops(Method::POST, &replay, &viewer, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(problem_type(&reply), "role-forbidden");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("`operator`")
    );
    let reply = h.ops(Method::DELETE, &path, &op, None).await;
    assert_eq!(problem_type(&reply), "role-forbidden");
    let reply = h
        .ops_post("/ops/v1/dead-letters/replay", &viewer, json!({"all": true}))
        .await;
    assert_eq!(problem_type(&reply), "role-forbidden");
    // Nothing was replayed or purged.
    assert!(audit(&h, "dead_letter.replayed").await.is_empty());
    assert!(audit(&h, "dead_letter.purged").await.is_empty());
    let reply = h.ops_get(&path, &viewer).await;
    assert_eq!(reply.body["state"], "open");
}

#[tokio::test]
async fn lists_filter_and_page_and_bad_parameters_are_named() {
    let h = Harness::new().await;
    let viewer = h.operator("viewer", OperatorRole::Viewer).await;
    let (_, task, post) = dead_lettered_request(&h).await;
    let labor = undecodable(&h, Agency::Labor).await;
    let health = undecodable(&h, Agency::Health).await;
    let admin = h.operator("admin", OperatorRole::Admin).await;
    let purged = h
        .ops(
            Method::DELETE,
            &format!("/ops/v1/dead-letters/{health}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(purged.status, StatusCode::OK, "{}", purged.body);

    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let open = h.ops_get("/ops/v1/dead-letters", &viewer).await;
    assert_eq!(
        ids(&open),
        [labor.to_string(), post.to_string()],
        "open ones, newest first"
    );
    let item = &open.body["items"][1];
    assert_eq!(item["agency"], "saudi-post");
    assert_eq!(item["reason"], "delivery_limit");
    assert_eq!(item["task"], task.to_string());
    assert_eq!(item["replayable"], true);
    assert_eq!(
        item["links"]["replay"],
        format!("/ops/v1/dead-letters/{post}/replay")
    );
    assert!(item.get("body").is_none(), "lists leave bodies out");
    assert_eq!(open.body["items"][0]["replayable"], false);

    let labor_only = h
        .ops_get("/ops/v1/dead-letters?agency=labor", &viewer)
        .await;
    assert_eq!(ids(&labor_only), [labor.to_string()]);
    let purged = h
        .ops_get("/ops/v1/dead-letters?state=purged", &viewer)
        .await;
    assert_eq!(ids(&purged), [health.to_string()]);
    let first = h
        .ops_get("/ops/v1/dead-letters?state=all&limit=2", &viewer)
        .await;
    assert_eq!(ids(&first), [health.to_string(), labor.to_string()]);
    let next = first.body["links"]["next"].as_str().unwrap();
    let rest = h.ops_get(next, &viewer).await;
    assert_eq!(ids(&rest), [post.to_string()]);
    assert!(rest.body["links"]["next"].is_null());

    let bad = h
        .ops_get(
            "/ops/v1/dead-letters?agency=mars&state=x&limit=500&cursor=req_1&sort=asc",
            &viewer,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(problem_type(&bad), "invalid-query");
    let named: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["parameter"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["agency", "state", "limit", "cursor", "sort"]);
}

#[tokio::test]
async fn one_dead_letter_is_read_in_full() {
    let h = Harness::new().await;
    let viewer = h.operator("viewer", OperatorRole::Viewer).await;
    let poison = undecodable(&h, Agency::Labor).await;
    let reply = h
        .ops_get(&format!("/ops/v1/dead-letters/{poison}"), &viewer)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["body"], "/25vdCBqc29u",
        "base64 of the bytes as received"
    );
    assert!(reply.body["bodyText"].is_null(), "not UTF-8");
    assert_eq!(reply.body["headers"]["x-rabt-attempt"], "1");
    assert_eq!(reply.body["state"], "open");
    assert!(reply.body["task"].is_null());
    for missing in [DeadLetterId::new().to_string(), "not-an-id".to_owned()] {
        let reply = h
            .ops_get(&format!("/ops/v1/dead-letters/{missing}"), &viewer)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(problem_type(&reply), "not-found");
    }
}

#[tokio::test]
async fn a_replay_reopens_the_task_once_and_is_audited_with_the_operator() {
    let h = Harness::new().await;
    let token = h.operator("huda", OperatorRole::Operator).await;
    let (request, task, id) = dead_lettered_request(&h).await;
    let path = format!("/ops/v1/dead-letters/{id}/replay");
    let replays_before = replays(&h).await;

    let reply = h.ops(Method::POST, &path, &token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Other tests of this binary replay too: at least ours is counted.
    assert!(replays(&h).await > replays_before);
    assert_eq!(reply.body["state"], "replayed");
    assert_eq!(reply.body["replayedBy"], "huda");
    let record = h.stored(request).await;
    assert_eq!(record.status, rabt_core::RequestStatus::Running);
    assert_eq!(record.verdict, None);
    assert_eq!(record.tasks[0].state, TaskState::Queued);
    let entries = audit(&h, "dead_letter.replayed").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, Actor::Operator("huda".to_owned()));
    assert_eq!(
        (entries[0].request, entries[0].task),
        (Some(request), Some(task))
    );

    let again = h.ops(Method::POST, &path, &token, None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(problem_type(&again), "dead-letter-closed");
    assert!(again.body["detail"].as_str().unwrap().contains("huda"));
    assert_eq!(audit(&h, "dead_letter.replayed").await.len(), 1);

    let poison = undecodable(&h, Agency::SaudiPost).await;
    let audit_before = h.audit_entries().await;
    let refused = h
        .ops(
            Method::POST,
            &format!("/ops/v1/dead-letters/{poison}/replay"),
            &token,
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(problem_type(&refused), "dead-letter-not-replayable");
    assert_eq!(h.audit_entries().await, audit_before, "nothing written");
    let missing = h
        .ops(
            Method::POST,
            &format!("/ops/v1/dead-letters/{}/replay", DeadLetterId::new()),
            &token,
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bulk_replay_follows_its_filter_and_refuses_bad_bodies() {
    let h = Harness::new().await;
    let token = h.operator("huda", OperatorRole::Operator).await;
    let (_, first_task, first) = dead_lettered_request(&h).await;
    let poison = undecodable(&h, Agency::Labor).await;
    let audit_before = h.audit_entries().await;
    let uri = "/ops/v1/dead-letters/replay";
    for (body, pointer) in [
        (json!({}), ""),
        (json!({"all": false}), "/all"),
        (json!({"agency": "mars"}), "/agency"),
        (json!({"agency": "labor", "all": true}), ""),
        (json!({"agency": "labor", "when": "now"}), "/when"),
    ] {
        let reply = h.ops_post(uri, &token, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(problem_type(&reply), "validation-failed");
        assert_eq!(pointers(&reply), [pointer], "{body}");
    }
    let bearer = format!("Bearer {token}");
    let no_type = h
        .send(
            Method::POST,
            uri,
            &[("authorization", &bearer)],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(no_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let broken = h
        .send(
            Method::POST,
            uri,
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            b"{".to_vec(),
        )
        .await;
    assert_eq!(problem_type(&broken), "malformed-json");
    assert_eq!(
        h.audit_entries().await,
        audit_before,
        "bad bodies change nothing"
    );

    let reply = h.ops_post(uri, &token, json!({"agency": "labor"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["replayed"], json!([]));
    assert_eq!(reply.body["skipped"][0]["id"], poison.to_string());
    assert_eq!(
        reply.body["skipped"][0]["problem"],
        "urn:rabt:problem:dead-letter-not-replayable"
    );

    let (_, second_task, second) = dead_lettered_request(&h).await;
    let reply = h.ops_post(uri, &token, json!({"all": true})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let replayed: Vec<(&str, &str)> = reply.body["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["task"].as_str().unwrap()))
        .collect();
    assert_eq!(
        replayed,
        [
            (first.to_string().as_str(), first_task.to_string().as_str()),
            (
                second.to_string().as_str(),
                second_task.to_string().as_str()
            )
        ]
    );
    assert_eq!(reply.body["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(audit(&h, "dead_letter.replayed").await.len(), 2);
}

#[tokio::test]
async fn an_admin_purges_once() {
    let h = Harness::new().await;
    let admin = h.operator("admin", OperatorRole::Admin).await;
    let (_, task, id) = dead_lettered_request(&h).await;
    let path = format!("/ops/v1/dead-letters/{id}");
    let reply = h.ops(Method::DELETE, &path, &admin, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["state"], "purged");
    assert_eq!(reply.body["replayable"], false);
    // Deleted: gone from its own path (still listed with state=purged, and audited).
    let gone = h.ops_get(&path, &admin).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let again = h.ops(Method::DELETE, &path, &admin, None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(problem_type(&again), "dead-letter-closed");
    let replay = h
        .ops(Method::POST, &format!("{path}/replay"), &admin, None)
        .await;
    assert_eq!(problem_type(&replay), "dead-letter-closed");
    let entries = audit(&h, "dead_letter.purged").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, Actor::Operator("admin".to_owned()));
    assert_eq!(entries[0].task, Some(task));
    let missing = h
        .ops(
            Method::DELETE,
            &format!("/ops/v1/dead-letters/{}", DeadLetterId::new()),
            &admin,
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
