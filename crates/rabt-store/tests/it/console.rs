//! What the console keeps and reads: sessions, heartbeats, the overview's aggregates and
//! the operators' request list, on both backends.

use chrono::{Duration, Utc};
use rabt_core::{Agency, Outcome};
use rabt_store::{OperatorRole, OpsRequestQuery};
use serde_json::json;

use crate::fixtures::{cooperative, request, run_task};
use crate::harness::{TestDb, backend_test};

async fn sessions_expire_and_end(db: TestDb) {
    let store = &db.store;
    store
        .create_operator("huda", OperatorRole::Operator, "tok")
        .await
        .unwrap();
    let until = Utc::now() + Duration::hours(1);
    store
        .create_console_session("s1", "huda", "csrf1", until)
        .await
        .unwrap();
    let found = store
        .console_session("s1", Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.operator.name.as_str(), found.csrf.as_str()),
        ("huda", "csrf1")
    );
    assert!(
        store
            .console_session("s1", until + Duration::seconds(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .console_session("nope", Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    store.end_console_session("s1").await.unwrap();
    assert!(
        store
            .console_session("s1", Utc::now())
            .await
            .unwrap()
            .is_none()
    );
}
backend_test!(sessions_expire_and_end);

async fn heartbeats_are_kept_per_process(db: TestDb) {
    let store = &db.store;
    let started = Utc::now();
    let figures = json!({"agencies": {"labor": {"circuit": "closed", "deferred": 1}}});
    store
        .heartbeat("proc_a", "worker", "h", started, &figures)
        .await
        .unwrap();
    let figures = json!({"agencies": {"labor": {"circuit": "open", "deferred": 4}}});
    store
        .heartbeat("proc_a", "worker", "h", started, &figures)
        .await
        .unwrap();
    let beats = store
        .heartbeats(Utc::now() - Duration::seconds(20))
        .await
        .unwrap();
    assert_eq!(beats.len(), 1);
    assert_eq!(beats[0].figures["agencies"]["labor"]["deferred"], 4);
    assert!(
        store
            .heartbeats(Utc::now() + Duration::seconds(5))
            .await
            .unwrap()
            .is_empty()
    );
}
backend_test!(heartbeats_are_kept_per_process);

async fn the_overview_aggregates_and_the_request_list(db: TestDb) {
    let store = &db.store;
    let coop = cooperative(store).await;
    let new = request(coop.id, "k-1", &[Agency::SaudiPost, Agency::Labor]);
    store.accept_request(&new).await.unwrap();
    run_task(store, new.tasks[0].id, Outcome::Ok).await;
    run_task(store, new.tasks[1].id, Outcome::Timeout).await;
    let hour = Utc::now() - Duration::hours(1);
    let post = store.ended_tasks(Agency::SaudiPost, hour).await.unwrap();
    assert_eq!(post.len(), 1);
    assert_eq!(post[0].outcome, Outcome::Ok);
    assert!(
        store
            .last_ended(Agency::SaudiPost, false)
            .await
            .unwrap()
            .is_none()
    );
    let failed = store
        .last_ended(Agency::Labor, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.outcome, Outcome::Timeout);
    let per_service = store.requests_per_service(hour).await.unwrap();
    assert_eq!(per_service.len(), 1);
    assert_eq!(per_service[0].1, 1);
    let listed = store
        .ops_requests(&OpsRequestQuery {
            since: Some(hour),
            cooperative: Some(coop.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let none = store
        .ops_requests(&OpsRequestQuery {
            until: Some(hour),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(store.outbox_backlog().await.unwrap().0 > 0);
}
backend_test!(the_overview_aggregates_and_the_request_list);
