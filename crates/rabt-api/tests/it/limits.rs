//! Per-cooperative rate limits and daily quotas through `oneshot`: the default and a
//! cooperative's own limit, the 429 with `Retry-After` and the `RateLimit` fields, a
//! refusal that stores nothing, the quota, and the operator routes that set them.

use axum::http::{Method, StatusCode};
use rabt_api::ApiSettings;
use rabt_core::RateLimit;
use rabt_store::{CooperativeLimit, OperatorRole};
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, pointers, problem_type};

fn address() -> Value {
    json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}})
}

async fn limited(rate: &str, burst: u32, quota: Option<u64>) -> Harness {
    let settings = ApiSettings {
        default_limit: CooperativeLimit {
            rate: Some(RateLimit::parse(rate, burst).unwrap()),
            quota_per_day: quota,
        },
        ..ApiSettings::default()
    };
    Harness::with(&["post.address.verify"], settings).await
}

fn header<'r>(reply: &'r Reply, name: &str) -> &'r str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn a_cooperative_over_its_rate_gets_429_and_nothing_is_stored() {
    // One call an hour, two at once: the third is refused for an hour less a bit.
    let h = limited("1/h", 2, None).await;
    let first = h.post("r-1", &address()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(header(&first, "ratelimit-policy"), "\"rate\";q=2;w=7200");
    assert_eq!(header(&first, "ratelimit"), "\"rate\";r=1;t=3600");
    let second = h.get("/v1/services").await;
    assert_eq!(
        second.status,
        StatusCode::OK,
        "every call counts, reads too"
    );
    assert!(header(&second, "ratelimit").starts_with("\"rate\";r=0;"));
    let refused = h.post("r-3", &address()).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(problem_type(&refused), "rate-limited");
    let retry: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((3590..=3600).contains(&retry), "{retry}");
    assert!(header(&refused, "ratelimit").starts_with("\"rate\";r=0;t="));
    assert_eq!(
        h.audit_entries().await,
        2,
        "the first request's entries only"
    );
    // The other cooperative has a limit of its own.
    let other = h.post_as(&h.other_key.clone(), "o-1", &address()).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.body);
    // An unknown key is still a 401, not counted against anyone.
    let stranger = h.post_as("rabt_nope", "s-1", &address()).await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_cooperatives_own_limit_beats_the_default() {
    let h = limited("1/h", 1, None).await;
    h.store
        .set_cooperative_limit(
            h.cooperative,
            Some(CooperativeLimit {
                rate: None,
                quota_per_day: None,
            }),
            "huda",
        )
        .await
        .unwrap();
    for i in 0..5 {
        let reply = h.post(&format!("own-{i}"), &address()).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        assert!(reply.headers.get("ratelimit").is_none());
    }
}

#[tokio::test]
async fn a_daily_quota_counts_accepted_requests_only() {
    let h = limited("1000/s", 1000, Some(2)).await;
    assert_eq!(h.post("q-1", &address()).await.status, StatusCode::ACCEPTED);
    // A refused body does not count.
    let bad = h
        .post(
            "q-bad",
            &json!({"service": "post.address.verify", "input": {}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(h.post("q-2", &address()).await.status, StatusCode::ACCEPTED);
    // Nor does a replay.
    let replay = h.post("q-2", &address()).await;
    assert_eq!(replay.status, StatusCode::ACCEPTED);
    let over = h.post("q-3", &address()).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS, "{}", over.body);
    assert_eq!(problem_type(&over), "quota-exceeded");
    assert!(header(&over, "retry-after").parse::<u64>().unwrap() <= 86_400);
    assert_eq!(header(&over, "ratelimit-policy"), "\"daily\";q=2;w=86400");
    assert_eq!(h.stored_requests().await, 2);
}

#[tokio::test]
async fn operators_set_and_clear_a_cooperatives_limit() {
    let h = limited("20/s", 40, None).await;
    let viewer = h.operator("vera", OperatorRole::Viewer).await;
    let huda = h.operator("huda", OperatorRole::Operator).await;
    let uri = format!("/ops/v1/cooperatives/{}/limit", h.cooperative);
    let shown = h.ops_get(&uri, &viewer).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["own"], Value::Null);
    assert_eq!(
        shown.body["effective"],
        json!({"rate": "20/s", "burst": 40, "quotaPerDay": null})
    );

    let body = json!({"rate": "1/h", "burst": 1, "quotaPerDay": 500});
    let forbidden = h.ops(Method::PUT, &uri, &viewer, Some(body.clone())).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let set = h.ops(Method::PUT, &uri, &huda, Some(body.clone())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["own"], body);
    assert_eq!(set.body["effective"], body);
    // It applies at once in this process: one call an hour.
    assert_eq!(h.post("l-1", &address()).await.status, StatusCode::ACCEPTED);
    assert_eq!(
        h.post("l-2", &address()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    let bad = h
        .ops(Method::PUT, &uri, &huda, Some(json!({"rate": "lots"})))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&bad), ["/rate"]);
    let bad = h
        .ops(
            Method::PUT,
            &uri,
            &huda,
            Some(json!({"rate": "5/s", "burst": 0})),
        )
        .await;
    assert_eq!(pointers(&bad), ["/burst"]);
    let unknown = format!(
        "/ops/v1/cooperatives/{}/limit",
        rabt_core::CooperativeId::new()
    );
    let missing = h.ops(Method::PUT, &unknown, &huda, Some(body)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let cleared = h
        .ops(Method::PUT, &uri, &huda, Some(json!({"default": true})))
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["own"], Value::Null);
    let shown = h.ops_get(&uri, &viewer).await;
    assert_eq!(shown.body["own"], Value::Null);
    assert_eq!(shown.body["effective"]["rate"], "20/s");
    let audit = h
        .store
        .audit_log(&rabt_store::AuditQuery {
            limit: 100,
            ..rabt_store::AuditQuery::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.action.starts_with("cooperative.limit"))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        ["cooperative.limit_set", "cooperative.limit_cleared"]
    );
}
