//! The accept path and idempotency keys.

use std::collections::HashSet;

use rabt_core::{Agency, CooperativeId, RequestStatus, TaskMessage, TaskState};
use rabt_store::{
    Accepted, Actor, AuditQuery, NewRequest, StoreError, TASKS_EXCHANGE, TRACEPARENT_HEADER,
};

use crate::fixtures::{TRACEPARENT, cooperative, request};
use crate::harness::{TestDb, assert_duplicate, backend_test};

const TABLES: [&str; 5] = [
    "idempotency_keys",
    "requests",
    "tasks",
    "outbox",
    "audit_log",
];

async fn counts(db: &TestDb) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push(db.count(table).await);
    }
    counts
}

async fn accept_writes_request_tasks_outbox_and_audit(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let agencies = [Agency::Labor, Agency::SaudiPost, Agency::Interior];
    let new = request(coop.id, "key-1", &agencies);
    assert_eq!(
        db.store.accept_request(&new).await.unwrap(),
        Accepted::Created
    );
    assert_eq!(counts(&db).await, vec![1, 1, 3, 3, 4]);

    let stored = db.request(coop.id, new.id).await;
    assert_eq!(stored.status, RequestStatus::Accepted);
    assert_eq!(stored.verdict, None);
    assert_eq!(stored.created_at, new.created_at);
    assert_eq!(stored.deadline_at, new.deadline_at);
    let ids: Vec<_> = stored.tasks.iter().map(|t| t.id).collect();
    let expected: Vec<_> = new.tasks.iter().map(|t| t.id).collect();
    assert_eq!(ids, expected, "tasks in creation order");
    assert!(
        stored
            .tasks
            .iter()
            .all(|t| t.state == TaskState::Queued && t.attempts == 0)
    );

    assert_task_messages(&db, &new).await;

    let query = AuditQuery {
        request: Some(new.id),
        limit: 10,
        ..AuditQuery::default()
    };
    let log = db.store.audit_log(&query).await.unwrap();
    let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "request.accepted",
            "task.queued",
            "task.queued",
            "task.queued"
        ]
    );
    assert_eq!(log[0].actor, Actor::Cooperative(coop.id));
    let audit_text = format!("{log:?}");
    assert!(
        !audit_text.contains("1000000008"),
        "personal data in the audit log"
    );
}
backend_test!(accept_writes_request_tasks_outbox_and_audit);

/// The outbox holds one message per task, in order, for the agency's queue.
async fn assert_task_messages(db: &TestDb, new: &NewRequest) {
    let lease = std::time::Duration::from_secs(60);
    let rows = db.store.claim_outbox(10, lease).await.unwrap();
    assert_eq!(rows.len(), new.tasks.len());
    for (row, task) in rows.iter().zip(&new.tasks) {
        assert_eq!(row.exchange, TASKS_EXCHANGE);
        assert_eq!(row.routing_key, task.agency.as_str());
        assert_eq!(row.message_id, task.id.to_string());
        assert_eq!(row.attempts, 1);
        let traceparent = (TRACEPARENT_HEADER.to_owned(), TRACEPARENT.to_owned());
        assert_eq!(row.headers, vec![traceparent]);
        let message: TaskMessage = serde_json::from_slice(&row.body).unwrap();
        let expected = TaskMessage::V1 {
            task: task.id,
            request: new.id,
            agency: task.agency,
            service: task.service.clone(),
            deadline_at: Some(task.deadline_at),
        };
        assert_eq!(message, expected);
    }
}

async fn a_failed_accept_writes_nothing(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let mut new = request(coop.id, "key-1", &[Agency::Labor, Agency::Interior]);
    // The second task collides with the first: the insert fails half-way.
    new.tasks[1].id = new.tasks[0].id;
    assert_duplicate(&db.store.accept_request(&new).await, "task");
    assert_eq!(counts(&db).await, vec![0, 0, 0, 0, 0]);

    let empty = request(coop.id, "key-2", &[]);
    assert!(matches!(
        db.store.accept_request(&empty).await.unwrap_err(),
        StoreError::EmptyRequest
    ));
    let stranger = request(CooperativeId::new(), "key-3", &[Agency::Labor]);
    assert!(matches!(
        db.store.accept_request(&stranger).await.unwrap_err(),
        StoreError::NotFound {
            what: "cooperative"
        }
    ));
    assert_eq!(counts(&db).await, vec![0, 0, 0, 0, 0]);
}
backend_test!(a_failed_accept_writes_nothing);

async fn a_reused_key_returns_the_first_request_and_writes_nothing(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let first = request(coop.id, "key-1", &[Agency::Labor]);
    db.store.accept_request(&first).await.unwrap();
    let before = counts(&db).await;

    let mut again = request(coop.id, "key-1", &[Agency::Labor, Agency::Chambers]);
    again.idempotency.body_hash = "a different body".to_owned();
    let existing = db.store.accept_request(&again).await.unwrap();
    assert_eq!(
        existing,
        Accepted::Existing {
            request: first.id,
            body_hash: first.idempotency.body_hash.clone(),
            response_status: 202,
            response_body: first.idempotency.response_body.clone(),
        }
    );
    assert_eq!(counts(&db).await, before);
    assert!(
        db.store
            .get_request(coop.id, again.id)
            .await
            .unwrap()
            .is_none()
    );
}
backend_test!(a_reused_key_returns_the_first_request_and_writes_nothing);

async fn keys_are_scoped_to_the_cooperative(db: TestDb) {
    let one = cooperative(&db.store).await;
    let two = cooperative(&db.store).await;
    let a = request(one.id, "shared-key", &[Agency::Labor]);
    let b = request(two.id, "shared-key", &[Agency::Labor]);
    assert_eq!(
        db.store.accept_request(&a).await.unwrap(),
        Accepted::Created
    );
    assert_eq!(
        db.store.accept_request(&b).await.unwrap(),
        Accepted::Created
    );
    assert_eq!(db.count("requests").await, 2);
    assert!(db.store.get_request(two.id, b.id).await.unwrap().is_some());
}
backend_test!(keys_are_scoped_to_the_cooperative);

async fn concurrent_accepts_with_one_key_create_once(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let mut handles = Vec::new();
    for _ in 0..50 {
        let store = db.store.clone();
        let new = request(coop.id, "contended", &[Agency::Labor, Agency::SaudiPost]);
        handles.push(tokio::spawn(async move {
            let result = store.accept_request(&new).await;
            (new.id, result)
        }));
    }
    let mut created = Vec::new();
    let mut replayed = HashSet::new();
    let mut in_flight = 0;
    for handle in handles {
        match handle.await.unwrap() {
            (id, Ok(Accepted::Created)) => created.push(id),
            (_, Ok(Accepted::Existing { request, .. })) => {
                replayed.insert(request);
            }
            // Told the first is still being stored (the API's 409).
            (_, Err(StoreError::KeyInFlight)) => in_flight += 1,
            (_, Err(err)) => panic!("accept failed: {err:?}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one accept creates");
    assert!(
        replayed.is_empty() || replayed == HashSet::from([created[0]]),
        "the others see the winner: {replayed:?}"
    );
    assert!(in_flight < 50, "{in_flight}");
    assert_eq!(counts(&db).await, vec![1, 1, 2, 2, 3]);
}
backend_test!(concurrent_accepts_with_one_key_create_once);

/// While a transaction holds a key (here: another session holding its advisory lock,
/// as a concurrent accept's transaction does), a second accept with that key is told
/// it is in flight at once, instead of waiting; with the key free it creates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_held_by_another_transaction_is_in_flight_on_postgres() {
    let db = TestDb::postgres().await;
    let coop = cooperative(&db.store).await;
    let new = request(coop.id, "held", &[Agency::SaudiPost]);
    let lock = rabt_store::accept::key_lock(coop.id, "held");
    let mut other = db.connection().await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut *other)
        .await
        .unwrap();
    let before = counts(&db).await;
    let err = db.store.accept_request(&new).await.unwrap_err();
    assert!(matches!(err, StoreError::KeyInFlight), "{err:?}");
    assert_eq!(counts(&db).await, before, "nothing written");
    // Another key of the same cooperative is not held up.
    let other_key = request(coop.id, "free", &[Agency::SaudiPost]);
    assert_eq!(
        db.store.accept_request(&other_key).await.unwrap(),
        Accepted::Created
    );
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut *other)
        .await
        .unwrap();
    assert_eq!(
        db.store.accept_request(&new).await.unwrap(),
        Accepted::Created
    );
}

/// Makes every insert into `requests` fail with `errcode` raised by PostgreSQL itself,
/// as a full disk (`disk_full`) or a broken statement (`check_violation`) would.
async fn fail_request_inserts(db: &TestDb, errcode: &str) {
    let function = format!(
        "CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'injected by the test' USING ERRCODE = '{errcode}'; END $$"
    );
    db.execute(&function).await.unwrap();
    db.execute(
        "CREATE TRIGGER fail_insert BEFORE INSERT ON requests \
         FOR EACH ROW EXECUTE FUNCTION fail_insert()",
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_unavailability_not_a_bug() {
    let db = TestDb::postgres().await;
    let coop = cooperative(&db.store).await;
    fail_request_inserts(&db, "disk_full").await;
    let before = counts(&db).await;
    let new = request(coop.id, "key-full", &[Agency::SaudiPost]);
    let err = db.store.accept_request(&new).await.unwrap_err();
    // The API answers this 503 with Retry-After (rabt-api's store_error).
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(counts(&db).await, before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_refusing_writes_during_a_failover_is_unavailability() {
    let db = TestDb::postgres().await;
    let coop = cooperative(&db.store).await;
    // What a demoted primary answers until the proxy routes to the new one.
    fail_request_inserts(&db, "read_only_sql_transaction").await;
    let new = request(coop.id, "key-standby", &[Agency::SaudiPost]);
    let err = db.store.accept_request(&new).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_statement_is_not_unavailability() {
    let db = TestDb::postgres().await;
    let coop = cooperative(&db.store).await;
    fail_request_inserts(&db, "check_violation").await;
    let new = request(coop.id, "key-check", &[Agency::SaudiPost]);
    let err = db.store.accept_request(&new).await.unwrap_err();
    assert!(!err.is_unavailable(), "{err:?}");
}
