//! PostgreSQL connections cut under the pool (a server restart, a firewall's idle
//! timeout): the store checks a connection that sat idle before using it, so the first
//! request after a quiet spell does not fail on a dead connection. And the connection a
//! writer keeps between its transactions, on both databases: a transaction that fails
//! as it commits leaves it clean.

use std::time::Duration;

use rabt_store::{Dialect, Taken};

use crate::compose::{accepted, started_count};
use crate::fixtures::now;
use crate::harness::{TestDb, backend_test};

/// A write transaction's audit entries are written as it commits (on SQLite in the
/// same call to the database as its `COMMIT`). If they cannot be written, nothing of
/// the transaction is kept, and the writer's connection serves the next one.
async fn a_transaction_whose_audit_fails_keeps_nothing(db: TestDb) {
    let (_, new) = accepted(&db).await;
    let root = new.tasks[0].id;
    refuse_audit(&db, "task.started").await;
    let refused = db.store.take_task(root, now()).await;
    assert!(refused.is_err(), "{refused:?}");
    let task = db.store.task_for_work(root).await.unwrap().unwrap();
    assert_eq!(
        (task.state, task.attempts),
        (rabt_core::TaskState::Queued, 0),
        "the start was rolled back with its audit entry"
    );
    allow_audit(&db).await;
    match db.store.take_task(root, now()).await.unwrap() {
        Taken::Started(task) => assert_eq!(task.attempts, 1),
        other => panic!("the next start is refused: {other:?}"),
    }
    assert_eq!(started_count(&db, root).await, 1);
}
backend_test!(a_transaction_whose_audit_fails_keeps_nothing);

/// Makes every audit entry with `action` fail to insert.
async fn refuse_audit(db: &TestDb, action: &str) {
    match db.store.dialect() {
        Dialect::Sqlite => {
            let trigger = format!(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
                 WHEN NEW.action = '{action}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            );
            db.execute(&trigger).await.unwrap();
        }
        Dialect::Postgres => {
            db.execute(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            )
            .await
            .unwrap();
            let trigger = format!(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW \
                 WHEN (NEW.action = '{action}') EXECUTE FUNCTION refuse_audit()"
            );
            db.execute(&trigger).await.unwrap();
        }
    }
}

async fn allow_audit(db: &TestDb) {
    let drop = match db.store.dialect() {
        Dialect::Sqlite => "DROP TRIGGER refuse_audit",
        Dialect::Postgres => "DROP TRIGGER refuse_audit ON audit_log",
    };
    db.execute(drop).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_while_idle_is_replaced_before_use() {
    let db = TestDb::postgres().await;
    db.store.ping().await.unwrap();
    let cut = db.cut_connections().await;
    assert!(cut >= 1, "the store had a connection open to cut");
    // The store checks connections idle for a second or more (not every time: that was
    // a round trip per query); this wait is what makes the cut connection idle.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    db.store
        .ping()
        .await
        .expect("a connection cut while idle is replaced before it is used");
    assert_eq!(db.count("requests").await, 0, "and the store works");
}

/// A proxy in front of PostgreSQL with no server behind it (HAProxy while a failover
/// has no primary yet) accepts the connection and closes it at once: that is the
/// database being unavailable (the API answers 503), not a bug (500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_with_no_server_behind_it_is_unavailability() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let closing = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((socket, _)) => drop(socket),
                Err(_) => return,
            }
        }
    });
    let url = format!("postgres://postgres@127.0.0.1:{port}/rabt");
    let err = match rabt_store::Store::connect(&url, 1).await {
        Err(err) => err,
        Ok(store) => store.ping().await.expect_err("no server answers"),
    };
    assert!(err.is_unavailable(), "{err:?}");
    closing.abort();
}
