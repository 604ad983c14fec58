//! PostgreSQL connections cut under the pool (a server restart, a firewall's idle
//! timeout): the store checks a connection that sat idle before using it, so the first
//! request after a quiet spell does not fail on a dead connection.

use std::time::Duration;

use crate::harness::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_while_idle_is_replaced_before_use() {
    let db = TestDb::postgres().await;
    db.store.ping().await.unwrap();
    let cut = db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
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
