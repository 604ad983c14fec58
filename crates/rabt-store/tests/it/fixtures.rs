//! Builders for the records the tests need.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use rabt_core::{Agency, CooperativeId, Outcome, RequestId, ServiceName, TaskId, UnifiedNumber};
use rabt_store::{
    Completion, Cooperative, IdempotencyRecord, NewCooperative, NewRequest, NewTask, StartResult,
    Store, TaskCompletion,
};
use serde_json::json;

pub(crate) const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Now, at the precision the store keeps.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

pub(crate) fn service(name: &str) -> ServiceName {
    ServiceName::parse(name).unwrap()
}

/// The service an agency's tasks call in these tests.
pub(crate) fn service_of(agency: Agency) -> ServiceName {
    service(match agency {
        Agency::Interior => "interior.identity.verify",
        Agency::Health => "health.certificates.verify",
        Agency::Labor => "labor.establishment.compliance",
        Agency::Municipal => "municipal.license.verify",
        Agency::Chambers => "chambers.membership.verify",
        Agency::SaudiPost => "post.address.verify",
    })
}

/// An onboarded cooperative with a fresh unified number.
pub(crate) async fn cooperative(store: &Store) -> Cooperative {
    let digits = uuid::Uuid::new_v4().as_u128() % 1_000_000_000;
    let unified = UnifiedNumber::parse(&format!("7{digits:09}")).unwrap();
    store
        .create_cooperative(&NewCooperative {
            id: CooperativeId::new(),
            name: "جمعية الاختبار التعاونية".to_owned(),
            unified_number: unified,
            services: vec![service("cooperative.establishment.check")],
        })
        .await
        .unwrap()
}

/// A composite request with one required task per agency given.
pub(crate) fn request(cooperative: CooperativeId, key: &str, agencies: &[Agency]) -> NewRequest {
    let created_at = now();
    let tasks = agencies
        .iter()
        .map(|&agency| NewTask {
            id: TaskId::new(),
            agency,
            service: service_of(agency),
            input: json!({"idNumber": "1000000008"}),
            required: true,
            deadline_at: created_at + Duration::seconds(60),
            child: None,
            blocked: false,
        })
        .collect();
    NewRequest {
        id: RequestId::new(),
        cooperative,
        service: service("cooperative.establishment.check"),
        input: json!({"unifiedNumber": "7000000001"}),
        reference: None,
        notify_url: None,
        created_at,
        deadline_at: created_at + Duration::seconds(120),
        idempotency: IdempotencyRecord {
            key: key.to_owned(),
            body_hash: format!("hash-of-{key}"),
            response_status: 202,
            response_body: r#"{"status":"ACCEPTED"}"#.to_owned(),
        },
        tasks,
        traceparent: Some(TRACEPARENT.to_owned()),
        subjects: Vec::new(),
    }
}

/// An answer to a task, now.
pub(crate) fn answer(task: TaskId, outcome: Outcome) -> TaskCompletion {
    TaskCompletion {
        task,
        outcome,
        data: Some(json!({"found": outcome == Outcome::Ok})),
        upstream_ref: None,
        error: None,
        latency_ms: Some(42),
        completed_at: now(),
    }
}

/// Starts a task and records an answer, as a worker would.
pub(crate) async fn run_task(store: &Store, task: TaskId, outcome: Outcome) -> Completion {
    let started = store.start_task(task, now()).await.unwrap();
    assert!(
        matches!(started, StartResult::Started { .. }),
        "{started:?}"
    );
    store.complete_task(&answer(task, outcome)).await.unwrap()
}
