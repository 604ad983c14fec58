//! PostgreSQL connections cut under the pool (a server restart, a firewall's idle
//! timeout): the store checks a connection that sat idle before using it, so the first
//! request after a quiet spell does not fail on a dead connection.

use std::time::Duration;

use crate::harness::TestDb;

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
