//! Payloads expire: a completed request's input, its tasks' inputs and answers are
//! replaced by keyed digests after the retention period; open requests, outcomes,
//! verdicts and the audit log stay.

use chrono::Duration;
use rabt_audit::PiiKey;
use rabt_core::{Agency, Outcome, RequestStatus, Verdict};

use crate::audit_seal::{ORIGIN, key, seal_all};
use crate::fixtures::{cooperative, now, request, run_task};
use crate::harness::{TestDb, backend_test};

fn pii_key() -> PiiKey {
    PiiKey::new("the retention tests' personal-data key").unwrap()
}

async fn completed_requests_keep_their_verdict_and_lose_their_payload(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let done = request(coop.id, "done", &[Agency::Interior, Agency::Labor]);
    db.store.accept_request(&done).await.unwrap();
    for task in &done.tasks {
        run_task(&db.store, task.id, Outcome::Ok).await;
    }
    let open = request(coop.id, "open", &[Agency::Interior]);
    db.store.accept_request(&open).await.unwrap();

    // Not due yet: nothing happens.
    let expired = db
        .store
        .expire_payloads(now() - Duration::days(1), &pii_key(), 100)
        .await
        .unwrap();
    assert_eq!(expired, 0);
    let expired = db
        .store
        .expire_payloads(now() + Duration::seconds(1), &pii_key(), 100)
        .await
        .unwrap();
    assert_eq!(expired, 1, "only the completed request");

    let record = db.request(coop.id, done.id).await;
    assert!(record.payload_expired_at.is_some());
    assert_eq!(
        (record.status, record.verdict),
        (RequestStatus::Completed, Some(Verdict::Pass))
    );
    assert_eq!(record.input["expired"], true);
    assert_eq!(record.input["digest"].as_str().unwrap().len(), 64);
    assert!(record.tasks.iter().all(|t| t.data.is_none()));
    assert!(
        record
            .tasks
            .iter()
            .all(|t| t.state.outcome() == Some(Outcome::Ok))
    );
    for table in ["requests", "tasks"] {
        let text = db
            .query_text(&format!(
                "SELECT input FROM {table} WHERE {} = '{}'",
                if table == "requests" {
                    "id"
                } else {
                    "request_id"
                },
                done.id
            ))
            .await;
        assert!(
            !text.contains("1000000008") && !text.contains("7000000001"),
            "{text}"
        );
    }
    let open_record = db.request(coop.id, open.id).await;
    assert!(open_record.payload_expired_at.is_none());
    assert_eq!(open_record.input["unifiedNumber"], "7000000001");

    // Audited, and only once.
    assert_eq!(
        db.store
            .expire_payloads(now() + Duration::seconds(1), &pii_key(), 100)
            .await
            .unwrap(),
        0
    );
    let audited = db.audited("request.payload_expired", None).await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].request, Some(done.id));
    assert_eq!(
        audited[0].detail["input_digest"],
        record.input["digest"].clone()
    );
    seal_all(&db.store, 1000).await;
    let report = db
        .store
        .verify_audit_log(&rabt_store::VerifyOptions {
            trusted_keys: vec![key().verifier()],
            origin: Some(ORIGIN.to_owned()),
        })
        .await
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.problems);
}
backend_test!(completed_requests_keep_their_verdict_and_lose_their_payload);
