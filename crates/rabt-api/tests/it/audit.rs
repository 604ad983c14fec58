//! The sealed audit log through the API: checkpoint, key, consistency proofs, a
//! request's evidence (checked by pymerkle and cryptography), the operators' search by
//! identity number, and bad parameters.

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rabt_api::ApiSettings;
use rabt_audit::{Checkpoint, PiiKey, SigningKey, Subject};
use rabt_store::{AuditQuery, OperatorRole};
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, pointers, problem_type};

const ORIGIN: &str = "rabt.api.test/audit";
const PII_KEY: &str = "the personal-data key of the API tests";

fn signing_key() -> SigningKey {
    SigningKey::from_seed(ORIGIN, [9; 32]).unwrap()
}

async fn harness() -> Harness {
    Harness::with(
        &["post.address.verify", "interior.identity.verify"],
        ApiSettings {
            pii_key: Some(PiiKey::new(PII_KEY).unwrap()),
            audit_verifier_key: Some(signing_key().verifier()),
            ..ApiSettings::default()
        },
    )
    .await
}

async fn seal(h: &Harness) {
    let mut sealer = h.store.sealer(1000);
    assert!(sealer.acquire().await.unwrap());
    sealer.seal(&signing_key(), ORIGIN).await.unwrap();
    sealer.release().await;
}

async fn identity_request(h: &Harness, key: &str) -> String {
    let body = json!({
        "service": "interior.identity.verify",
        "input": {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
    });
    let reply = h.post(key, &body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn checkpoint(h: &Harness) -> (String, Checkpoint) {
    let (status, headers, note) = h.send_text("/v1/audit/checkpoint", &[]).await;
    assert_eq!(status, StatusCode::OK, "{note}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let opened = Checkpoint::open(&note, &signing_key().verifier()).unwrap();
    (note, opened)
}

#[tokio::test]
async fn evidence_proves_a_requests_entries_and_independent_verifiers_agree() {
    let h = harness().await;
    let id = identity_request(&h, "k1").await;
    seal(&h).await;
    let (first_note, first) = checkpoint(&h).await;
    let (status, _, key) = h.send_text("/v1/audit/key", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(key.trim(), signing_key().verifier().to_string());

    // More entries, a second checkpoint, and the proof that it extends the first.
    identity_request(&h, "k2").await;
    seal(&h).await;
    let (second_note, second) = checkpoint(&h).await;
    assert!(second.size > first.size);
    let uri = format!(
        "/v1/audit/consistency?from={}&to={}",
        first.size, second.size
    );
    let consistency = h.get(&uri).await;
    assert_eq!(consistency.status, StatusCode::OK, "{}", consistency.body);

    let evidence = h.get(&format!("/v1/requests/{id}/evidence")).await;
    assert_eq!(evidence.status, StatusCode::OK, "{}", evidence.body);
    assert_eq!(evidence.body["checkpoint"], second_note);
    assert_eq!(evidence.body["tree_size"], second.size);
    assert_eq!(evidence.body["pending"], 0);
    let entries = evidence.body["entries"].as_array().unwrap();
    assert!(entries.len() >= 2, "{entries:?}");
    let mut inclusion = Vec::new();
    for entry in entries {
        assert_eq!(entry["status"], "sealed");
        let canonical = BASE64.decode(entry["canonical"].as_str().unwrap()).unwrap();
        let document: Value = serde_json::from_slice(&canonical).unwrap();
        assert_eq!(document["request"], id.as_str());
        // The person is in the log as a keyed digest, never as the number.
        assert!(!String::from_utf8_lossy(&canonical).contains("1000000008"));
        inclusion.push(json!({
            "leaf": entry["canonical"], "index": entry["leaf_index"], "size": second.size,
            "proof": entry["inclusion_proof"], "root": second.root.to_base64(),
        }));
    }
    let accepted = BASE64
        .decode(entries[0]["canonical"].as_str().unwrap())
        .unwrap();
    let accepted: Value = serde_json::from_slice(&accepted).unwrap();
    let digest = PiiKey::new(PII_KEY)
        .unwrap()
        .digest(Subject::IdNumber, "1000000008");
    assert_eq!(accepted["detail"]["subjects"], json!([digest]));

    let summary = rabt_test_support::audit_check(&json!({
        "inclusion": inclusion,
        "consistency": [{
            "from": first.size, "to": second.size, "proof": consistency.body["proof"],
            "from_root": first.root.to_base64(), "to_root": second.root.to_base64(),
        }],
        "checkpoints": [
            {"note": first_note, "key": key.trim(), "origin": ORIGIN},
            {"note": second_note, "key": key.trim(), "origin": ORIGIN},
        ],
    }));
    assert_eq!(summary["inclusion"], entries.len());
    assert_eq!(summary["consistency"], 1);
    assert_eq!(summary["checkpoints"], 2);
}

#[tokio::test]
async fn evidence_is_the_callers_own_and_waits_for_sealing_when_asked() {
    let h = harness().await;
    let id = identity_request(&h, "k1").await;
    // Not sealed yet: every entry pending, no checkpoint.
    let evidence = h.get(&format!("/v1/requests/{id}/evidence")).await;
    assert_eq!(evidence.status, StatusCode::OK);
    assert_eq!(evidence.body["checkpoint"], Value::Null);
    assert!(evidence.body["pending"].as_u64().unwrap() >= 2);
    assert!(
        evidence.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "pending")
    );
    // Another cooperative's request, an unknown one and a malformed id: 404.
    for uri in [
        format!("/v1/requests/{id}/evidence"),
        "/v1/requests/req_0190f2a35b2c7cc5a1c30c7a8b5e4d1f/evidence".to_owned(),
        "/v1/requests/not-an-id/evidence".to_owned(),
    ] {
        let reply = h.get_as(&h.other_key.clone(), &uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(problem_type(&reply), "not-found");
    }
    let unauthenticated = h
        .send(
            Method::GET,
            &format!("/v1/requests/{id}/evidence"),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);

    // Prefer: wait answers once the sealer has caught up.
    let store = h.store.clone();
    let sealing = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let mut sealer = store.sealer(100);
        assert!(sealer.acquire().await.unwrap());
        sealer.seal(&signing_key(), ORIGIN).await.unwrap();
    });
    let waited = h
        .send(
            Method::GET,
            &format!("/v1/requests/{id}/evidence"),
            &[
                ("authorization", &format!("Bearer {}", h.key)),
                ("prefer", "wait=10"),
            ],
            Vec::new(),
        )
        .await;
    sealing.await.unwrap();
    assert_eq!(waited.status, StatusCode::OK);
    assert_eq!(waited.body["pending"], 0, "{}", waited.body);
    assert_eq!(waited.headers["preference-applied"], "wait=10");
}

#[tokio::test]
async fn bad_tree_sizes_are_refused_naming_the_parameter() {
    let h = harness().await;
    // Nothing sealed: 503 with Retry-After.
    let (status, headers, body) = h.send_text("/v1/audit/checkpoint", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert!(body.contains("urn:rabt:problem:audit-not-sealed"));
    assert_eq!(headers["retry-after"], "1");
    let reply = h.get("/v1/audit/consistency?from=1&to=1").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);

    identity_request(&h, "k1").await;
    seal(&h).await;
    let (_, sealed) = checkpoint(&h).await;
    let parameters = |reply: &Reply| -> Vec<String> {
        reply.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["parameter"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, status, expected) in [
        ("", StatusCode::BAD_REQUEST, vec!["from", "to"]),
        ("from=0&to=1", StatusCode::BAD_REQUEST, vec!["from"]),
        ("from=a&to=2", StatusCode::BAD_REQUEST, vec!["from"]),
        ("from=1&to=2&x=1", StatusCode::BAD_REQUEST, vec!["x"]),
        (
            "from=2&to=1",
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["from"],
        ),
        (
            "from=1&to=99999",
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["to"],
        ),
    ] {
        let reply = h.get(&format!("/v1/audit/consistency?{query}")).await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        assert_eq!(parameters(&reply), expected, "{query}");
    }
    let same = h
        .get(&format!(
            "/v1/audit/consistency?from={0}&to={0}",
            sealed.size
        ))
        .await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.body["proof"], json!([]));
    assert!(pointers(&same).is_empty());
}

#[tokio::test]
async fn operators_find_a_persons_requests_by_number_without_the_log_holding_it() {
    let h = harness().await;
    let id = identity_request(&h, "k1").await;
    let token = h.operator("huda", OperatorRole::Viewer).await;
    let search = |body: Value| {
        let bearer = format!("Bearer {token}");
        let h = &h;
        async move {
            h.send(
                Method::POST,
                "/ops/v1/audit/search",
                &[
                    ("authorization", bearer.as_str()),
                    ("content-type", "application/json"),
                ],
                body.to_string().into_bytes(),
            )
            .await
        }
    };
    let found = search(json!({"idNumber": "1000000008"})).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body["items"][0]["request"], id.as_str());
    let none = search(json!({"idNumber": "2000000006"})).await;
    assert_eq!(none.body["items"], json!([]));
    let bad = search(json!({"idNumber": "1000000009"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&bad), ["/idNumber"]);
    assert!(
        !bad.body.to_string().contains("1000000009"),
        "the value is not echoed"
    );
    let unauthenticated = h
        .send(
            Method::POST,
            "/ops/v1/audit/search",
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);

    // Every search is audited, with the digest searched for and never the number.
    let searches = h
        .store
        .audit_log(&AuditQuery {
            action: Some("operator.audit_search".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(searches.len(), 2);
    assert!(!format!("{searches:?}").contains("1000000008"));
    assert_eq!(searches[0].detail["found"], 1);
}

#[tokio::test]
async fn an_expired_request_says_so_and_keeps_its_verdict() {
    use rabt_core::{Outcome, RequestId};
    use rabt_store::{StartResult, TaskCompletion};
    let h = harness().await;
    let id = identity_request(&h, "k1").await;
    let record = h.stored(RequestId::parse(&id).unwrap()).await;
    let task = record.tasks[0].id;
    let now = chrono::Utc::now();
    assert!(matches!(
        h.store.start_task(task, now).await.unwrap(),
        StartResult::Started { .. }
    ));
    h.store
        .complete_task(&TaskCompletion {
            task,
            outcome: Outcome::Ok,
            data: Some(json!({"found": true, "nameAr": "محمد"})),
            upstream_ref: None,
            error: None,
            latency_ms: Some(5),
            completed_at: now,
        })
        .await
        .unwrap();
    let kept = h.get(&format!("/v1/requests/{id}")).await;
    assert_eq!(kept.body["payload"], json!({"expired": false}));
    assert_eq!(kept.body["data"]["nameAr"], "محمد");
    let expired = h
        .store
        .expire_payloads(
            now + chrono::Duration::seconds(5),
            &PiiKey::new(PII_KEY).unwrap(),
            10,
        )
        .await
        .unwrap();
    assert_eq!(expired, 1);
    let reply = h.get(&format!("/v1/requests/{id}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["payload"]["expired"], true);
    assert!(reply.body["payload"]["expiredAt"].is_string());
    assert_eq!(reply.body["outcome"], "OK");
    assert_eq!(reply.body["data"], Value::Null);
    assert_eq!(reply.body["checks"][0]["data"], Value::Null);
    assert!(!reply.body.to_string().contains("محمد"));
}
