//! Migrations and the append-only audit log.

use rabt_core::RequestId;
use rabt_store::{Actor, AuditQuery, Dialect, NewAuditEntry, Store};
use serde_json::json;

use rabt_store::migrate::known_migrations;

use crate::harness::{TestDb, backend_test};

async fn migrations_are_idempotent(db: TestDb) {
    db.store.migrate().await.unwrap();
    db.store.migrate().await.unwrap();
    // A second process on the same database migrates too.
    let other = Store::connect(db.url(), 2).await.unwrap();
    other.migrate().await.unwrap();
    assert_eq!(
        db.count("rabt_schema_migrations").await,
        known_migrations() as i64
    );
    db.store.ping().await.unwrap();
}
backend_test!(migrations_are_idempotent);

async fn concurrent_migrations_of_a_fresh_database_agree(db: TestDb) {
    // Several processes starting at once against an empty database.
    let fresh = db.empty_sibling().await;
    let first = Store::connect(fresh.url(), 2).await.unwrap();
    let second = Store::connect(fresh.url(), 2).await.unwrap();
    let (a, b, c) = tokio::join!(first.migrate(), second.migrate(), fresh.store.migrate());
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert_eq!(
        fresh.count("rabt_schema_migrations").await,
        known_migrations() as i64
    );
    assert_eq!(fresh.count("requests").await, 0);
}
backend_test!(concurrent_migrations_of_a_fresh_database_agree);

async fn a_changed_migration_is_refused(db: TestDb) {
    db.execute("UPDATE rabt_schema_migrations SET checksum = 'edited'")
        .await
        .unwrap();
    let err = db.store.migrate().await.unwrap_err();
    assert!(err.to_string().contains("different contents"), "{err}");
}
backend_test!(a_changed_migration_is_refused);

async fn audit_log_refuses_update_and_delete(db: TestDb) {
    let request = RequestId::new();
    let mut entry = NewAuditEntry::new(Actor::Operator("amal".to_owned()), "operator.replay");
    entry.request = Some(request);
    entry.detail = json!({"queue": "rabt.dead.interior"});
    db.store.record_audit(&entry).await.unwrap();

    let mut refused = vec![
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
    ];
    if db.store.dialect() == Dialect::Postgres {
        refused.push("TRUNCATE audit_log");
    }
    for sql in refused {
        let err = db.execute(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }

    let query = AuditQuery {
        request: Some(request),
        limit: 10,
        ..AuditQuery::default()
    };
    let log = db.store.audit_log(&query).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "operator.replay");
    assert_eq!(log[0].actor, Actor::Operator("amal".to_owned()));
    assert_eq!(log[0].detail, json!({"queue": "rabt.dead.interior"}));
}
backend_test!(audit_log_refuses_update_and_delete);

async fn audit_log_filters_and_pages(db: TestDb) {
    let request = RequestId::new();
    for i in 0..5 {
        let mut entry = NewAuditEntry::new(Actor::System, if i % 2 == 0 { "even" } else { "odd" });
        entry.request = Some(request);
        entry.latency_ms = Some(i);
        db.store.record_audit(&entry).await.unwrap();
    }
    db.store
        .record_audit(&NewAuditEntry::new(Actor::System, "even"))
        .await
        .unwrap();

    let evens = AuditQuery {
        request: Some(request),
        action: Some("even".to_owned()),
        limit: 100,
        ..AuditQuery::default()
    };
    let found = db.store.audit_log(&evens).await.unwrap();
    let latencies: Vec<_> = found.iter().map(|e| e.latency_ms).collect();
    assert_eq!(latencies, vec![Some(0), Some(2), Some(4)]);

    let first_page = AuditQuery {
        request: Some(request),
        limit: 2,
        ..AuditQuery::default()
    };
    let page = db.store.audit_log(&first_page).await.unwrap();
    assert_eq!(page.len(), 2);
    let next = AuditQuery {
        after_seq: Some(page[1].seq),
        ..first_page
    };
    let rest = db.store.audit_log(&next).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(rest[0].seq > page[1].seq);
    assert_eq!(rest[0].latency_ms, Some(2));
}
backend_test!(audit_log_filters_and_pages);

#[tokio::test]
async fn an_in_memory_database_works_for_demos() {
    let store = Store::connect("sqlite::memory:", 8).await.unwrap();
    store.migrate().await.unwrap();
    let coop = crate::fixtures::cooperative(&store).await;
    let new = crate::fixtures::request(coop.id, "k", &[rabt_core::Agency::SaudiPost]);
    store.accept_request(&new).await.unwrap();
    // Every pooled connection must see the same database.
    let reads = (0..8).map(|_| store.get_request(coop.id, new.id));
    for read in futures_util::future::join_all(reads).await {
        assert!(read.unwrap().is_some());
    }
}

#[tokio::test]
async fn sqlite_files_use_write_ahead_logging() {
    let db = crate::harness::TestDb::sqlite().await;
    let mode = db.query_text("PRAGMA journal_mode").await;
    assert_eq!(mode.to_lowercase(), "wal");
}
