//! Agency callbacks: only a verified, fresh, schema-valid callback for a known
//! reference is stored; everything else is refused with an audit entry and changes
//! nothing else; a replay is acknowledged and not applied again.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use rabt_api::ApiSettings;
use rabt_core::{Agency, TaskMessage};
use rabt_store::AuditQuery;
use rabt_webhook::Secret;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, problem_type};

struct Setup {
    h: Harness,
    secret: Secret,
    old_secret: Secret,
}

/// A harness where municipal calls back, and one municipal task waiting for the
/// callback with reference `INSP-0001`.
async fn setup() -> Setup {
    let secret = Secret::generate();
    let old_secret = Secret::generate();
    let settings = ApiSettings {
        callback_secrets: BTreeMap::from([(
            Agency::Municipal,
            vec![secret.clone(), old_secret.clone()],
        )]),
        ..ApiSettings::default()
    };
    let h = Harness::with(&["municipal.license.verify"], settings).await;
    let (_, key) = h.onboard("7000000005", &["municipal.license.verify"]).await;
    let reply = h
        .post_as(&key, "m1", &json!({"service": "municipal.license.verify", "input": {"licenseNumber": "4000012345"}}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    // What the worker does when the municipality accepts the call.
    let rows = h
        .store
        .claim_outbox(10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let message: TaskMessage = serde_json::from_slice(&rows[0].body).unwrap();
    let task = message.task_id().unwrap();
    h.store.start_task(task, Utc::now()).await.unwrap();
    assert!(
        h.store
            .submit_task(task, "INSP-0001", Utc::now())
            .await
            .unwrap()
    );
    Setup {
        h,
        secret,
        old_secret,
    }
}

fn body(reference: &str) -> Value {
    json!({
        "eventId": "evt_1", "eventType": "LICENSE_VERIFICATION_COMPLETED", "reference": reference,
        "occurredAt": "2026-11-01T09:30:00Z", "result": "NOT_FOUND",
    })
}

async fn post(
    h: &Harness,
    agency: &str,
    signer: &Secret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Reply {
    let signed = rabt_webhook::sign(std::slice::from_ref(signer), id, timestamp, body);
    h.send(
        Method::POST,
        &format!("/v1/callbacks/{agency}"),
        &[
            ("content-type", "application/json"),
            ("webhook-id", &signed.id),
            ("webhook-timestamp", &signed.timestamp),
            ("webhook-signature", &signed.signature),
        ],
        body.to_vec(),
    )
    .await
}

async fn audit(h: &Harness, action: &str) -> Vec<rabt_store::AuditEntry> {
    h.store
        .audit_log(&AuditQuery {
            request: None,
            task: None,
            action: Some(action.into()),
            after_seq: None,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn callbacks_stored(h: &Harness) -> usize {
    audit(h, "callback.accepted").await.len()
}

#[tokio::test]
async fn a_verified_callback_is_stored_once_and_queued_for_the_worker() {
    let s = setup().await;
    let payload = body("INSP-0001").to_string().into_bytes();
    let now = Utc::now().timestamp();
    let reply = post(&s.h, "municipal", &s.secret, "msg_1", now, &payload).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "accepted");
    let rows =
        s.h.store
            .claim_outbox(10, std::time::Duration::from_secs(60))
            .await
            .unwrap();
    let messages: Vec<TaskMessage> = rows
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(
        matches!(
            messages.as_slice(),
            [TaskMessage::CallbackV1 {
                agency: Agency::Municipal,
                ..
            }]
        ),
        "{messages:?}"
    );

    let replay = post(&s.h, "municipal", &s.secret, "msg_1", now, &payload).await;
    assert_eq!(replay.status, StatusCode::ACCEPTED);
    assert_eq!(replay.body["status"], "duplicate");
    assert_eq!(
        callbacks_stored(&s.h).await,
        1,
        "a replay is not applied again"
    );
    assert!(
        s.h.store
            .claim_outbox(10, std::time::Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );

    // A secret being rotated out still verifies.
    let rotated = post(&s.h, "municipal", &s.old_secret, "msg_2", now, &payload).await;
    assert_eq!(rotated.status, StatusCode::ACCEPTED, "{}", rotated.body);
}

#[tokio::test]
async fn forged_stale_tampered_and_unsigned_callbacks_change_nothing() {
    let s = setup().await;
    let payload = body("INSP-0001").to_string().into_bytes();
    let now = Utc::now().timestamp();
    // A minute past the five minutes' tolerance either way: `now` is truncated to the
    // second and the server reads its clock later, so one second past it (as this test
    // had) was sometimes inside it.
    let outside = 300 + 60;
    let stranger = Secret::generate();
    let cases: Vec<(&str, Reply)> = vec![
        (
            "forged",
            post(&s.h, "municipal", &stranger, "f1", now, &payload).await,
        ),
        (
            "stale",
            post(&s.h, "municipal", &s.secret, "f2", now - outside, &payload).await,
        ),
        (
            "from the future",
            post(&s.h, "municipal", &s.secret, "f3", now + outside, &payload).await,
        ),
        ("tampered", {
            let signed = rabt_webhook::sign(std::slice::from_ref(&s.secret), "f4", now, &payload);
            let tampered = body("INSP-0002").to_string().into_bytes();
            s.h.send(
                Method::POST,
                "/v1/callbacks/municipal",
                &[
                    ("webhook-id", &signed.id),
                    ("webhook-timestamp", &signed.timestamp),
                    ("webhook-signature", &signed.signature),
                ],
                tampered,
            )
            .await
        }),
        (
            "unsigned",
            s.h.send(
                Method::POST,
                "/v1/callbacks/municipal",
                &[("content-type", "application/json")],
                payload.clone(),
            )
            .await,
        ),
    ];
    for (what, reply) in &cases {
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            reply.body
        );
        assert_eq!(problem_type(reply), "callback-unverified", "{what}");
    }
    assert_eq!(callbacks_stored(&s.h).await, 0);
    assert!(
        s.h.store
            .claim_outbox(10, std::time::Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "nothing queued"
    );
    // Only the agency's own (verified) callbacks may become audit entries: nobody can
    // grow the permanent log from outside. Refusals are counted instead.
    assert!(audit(&s.h, "callback.rejected").await.is_empty());
    let refused = rabt_metrics::metrics()
        .encode()
        .lines()
        .find_map(|line| {
            line.strip_prefix(r#"rabt_callbacks_total{agency="municipal",verdict="signature"} "#)
                .map(|n| n.trim().parse::<f64>().unwrap())
        })
        .unwrap_or(0.0);
    assert!(refused >= cases.len() as f64, "{refused}");
    let record =
        s.h.store
            .task_by_upstream_ref(Agency::Municipal, "INSP-0001")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        record.state,
        rabt_core::TaskState::AwaitingCallback,
        "the task still waits"
    );
}

#[tokio::test]
async fn unknown_references_and_bad_bodies_are_refused_and_audited() {
    let s = setup().await;
    let now = Utc::now().timestamp();
    let unknown = post(
        &s.h,
        "municipal",
        &s.secret,
        "u1",
        now,
        body("INSP-9999").to_string().as_bytes(),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&unknown), "callback-unknown-reference");

    let mut broken = body("INSP-0001");
    broken["result"] = json!("MAYBE");
    let invalid = post(
        &s.h,
        "municipal",
        &s.secret,
        "u2",
        now,
        broken.to_string().as_bytes(),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_type(&invalid), "validation-failed");
    assert!(
        invalid.body["errors"].to_string().contains("/result"),
        "{}",
        invalid.body
    );

    let garbage = post(&s.h, "municipal", &s.secret, "u3", now, b"{not json").await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);

    assert_eq!(callbacks_stored(&s.h).await, 0);
    let reasons: Vec<String> = audit(&s.h, "callback.rejected")
        .await
        .into_iter()
        .filter_map(|e| e.outcome)
        .collect();
    assert_eq!(reasons, vec!["unknown_reference", "schema", "malformed"]);
}

#[tokio::test]
async fn a_callback_faster_than_the_submission_record_is_still_matched() {
    let s = setup().await;
    // A second municipal task whose reference is recorded only after the callback came.
    let (_, key) =
        s.h.onboard("7000000006", &["municipal.license.verify"])
            .await;
    let reply = s
        .h
        .post_as(&key, "m2", &json!({"service": "municipal.license.verify", "input": {"licenseNumber": "4000067890"}}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let rows =
        s.h.store
            .claim_outbox(10, std::time::Duration::from_secs(60))
            .await
            .unwrap();
    let task = serde_json::from_slice::<TaskMessage>(&rows[0].body)
        .unwrap()
        .task_id()
        .unwrap();
    s.h.store.start_task(task, Utc::now()).await.unwrap();
    let store = s.h.store.clone();
    let late_record = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        store
            .submit_task(task, "INSP-0002", Utc::now())
            .await
            .unwrap()
    });
    let reply = post(
        &s.h,
        "municipal",
        &s.secret,
        "race",
        Utc::now().timestamp(),
        body("INSP-0002").to_string().as_bytes(),
    )
    .await;
    assert!(late_record.await.unwrap());
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "accepted");
}

#[tokio::test]
async fn agencies_without_secrets_cannot_call_back() {
    let s = setup().await;
    let now = Utc::now().timestamp();
    for agency in ["health", "saudi-post", "nobody"] {
        let reply = post(
            &s.h,
            agency,
            &s.secret,
            "n1",
            now,
            body("INSP-0001").to_string().as_bytes(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{agency}");
    }
    assert!(audit(&s.h, "callback.rejected").await.is_empty());
}

#[tokio::test]
async fn a_callback_without_a_reference_is_refused_where_no_schema_requires_one() {
    // Interior has no callback schema: only the handler can ask for the reference.
    let secret = Secret::generate();
    let settings = ApiSettings {
        callback_secrets: BTreeMap::from([(Agency::Interior, vec![secret.clone()])]),
        ..ApiSettings::default()
    };
    let h = Harness::with(&["interior.identity.verify"], settings).await;
    let now = Utc::now().timestamp();
    for (id, document) in [
        ("r1", json!({"result": "OK"})),
        ("r2", json!({"reference": 7})),
    ] {
        let reply = post(
            &h,
            "interior",
            &secret,
            id,
            now,
            document.to_string().as_bytes(),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert_eq!(problem_type(&reply), "validation-failed");
        assert_eq!(
            reply.body["errors"][0]["pointer"], "/reference",
            "{}",
            reply.body
        );
    }
    assert_eq!(callbacks_stored(&h).await, 0);
    let reasons: Vec<String> = audit(&h, "callback.rejected")
        .await
        .into_iter()
        .filter_map(|e| e.outcome)
        .collect();
    assert_eq!(reasons, vec!["schema", "schema"]);
}
