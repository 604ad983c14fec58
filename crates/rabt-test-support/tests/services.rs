//! The guards against the real services: what they create exists, and is gone once
//! they are dropped, from inside a multi-threaded or a current-thread runtime.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rabt_test_support::{DATABASE_URL, TempDatabase, TempVhost, required_env};
use sqlx::{Connection, PgConnection, Row};

async fn database_exists(name: &str) -> bool {
    let mut admin = PgConnection::connect(&required_env(DATABASE_URL))
        .await
        .unwrap();
    let row = sqlx::query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    row.get::<i64, _>("n") == 1
}

async fn a_database_is_created_and_dropped() {
    let database = TempDatabase::create("rabt_support_test_").await.unwrap();
    let name = database.name().to_owned();
    assert!(name.starts_with("rabt_support_test_"));
    assert!(database_exists(&name).await);

    // A connection left open, as a failed test would leave it, does not stop the drop.
    let mut open = PgConnection::connect(&database.url).await.unwrap();
    let row = sqlx::query("SELECT current_database() AS db")
        .fetch_one(&mut open)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("db"), name);
    assert!(!format!("{database:?}").contains('@'), "{database:?}");
    drop(database);
    assert!(!database_exists(&name).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_goes_on_drop_in_a_multi_thread_runtime() {
    a_database_is_created_and_dropped().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_database_goes_on_drop_in_a_current_thread_runtime() {
    a_database_is_created_and_dropped().await;
}

async fn a_vhost_is_created_and_deleted() {
    let vhost = TempVhost::create("rabt-support-test-").await.unwrap();
    let name = vhost.name.clone();
    assert!(vhost.amqp_url.ends_with(&format!("/{name}")));
    assert!(!format!("{vhost:?}").contains("guest"), "{vhost:?}");
    let described = vhost.get(&["vhosts", &name]).await.unwrap();
    assert_eq!(described["name"], name.as_str());
    let permissions = vhost.get(&["vhosts", &name, "permissions"]).await.unwrap();
    assert_eq!(permissions[0]["configure"], ".*");

    // Deleting what is not there is no error.
    vhost
        .delete(&["queues", &name, "no-such-queue"])
        .await
        .unwrap();

    // The drop waits for the delete: the vhost is gone as soon as it returns. Another
    // vhost's guard serves to look.
    let observer = TempVhost::create("rabt-support-test-").await.unwrap();
    drop(vhost);
    assert_eq!(observer.get(&["vhosts", &name]).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vhost_goes_on_drop_in_a_multi_thread_runtime() {
    a_vhost_is_created_and_deleted().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_vhost_goes_on_drop_in_a_current_thread_runtime() {
    a_vhost_is_created_and_deleted().await;
}
