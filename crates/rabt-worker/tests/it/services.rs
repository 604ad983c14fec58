//! The real services every test gets a private piece of: a SQLite file or a PostgreSQL
//! database of its own, and an embedded broker or a RabbitMQ vhost of its own, from
//! rabt-test-support's guards. Both are removed when the test ends, pass or fail.
//! Waits are rabt-test-support's `must` ones, bounded by its `DEADLINE`.

use std::time::Duration;

use rabt_queue::{Settings, Transport};
use rabt_store::Store;
use rabt_test_support::must::within;
use rabt_test_support::{Backend, TempAnyDatabase, TempVhost};

/// Connections per test store: the worker, the relay and the test's own reads.
const POOL_SIZE: u32 = 8;

/// A migrated store on a database of its own on `backend`, and the database's guard:
/// dropping it removes the database (on PostgreSQL ending the connections of a worker a
/// failed test left running).
pub(crate) async fn database(backend: Backend) -> (Store, TempAnyDatabase) {
    let database = TempAnyDatabase::create(backend, "rabt_worker_test_")
        .await
        .unwrap();
    let store = Store::connect(database.url(), POOL_SIZE).await.unwrap();
    store.migrate().await.unwrap();
    (store, database)
}

/// The transport's settings in these tests: short retry tiers, so a retried task comes
/// back within about a second.
pub(crate) fn transport_settings() -> Settings {
    Settings {
        retry_tiers: vec![Duration::from_millis(200), Duration::from_secs(1)],
        ..Settings::default()
    }
}

/// The embedded broker.
pub(crate) fn embedded() -> Transport {
    Transport::embedded(transport_settings())
}

/// A connection to a RabbitMQ vhost of its own, deleted when the vhost is dropped.
pub(crate) async fn rabbitmq() -> (Transport, TempVhost) {
    let vhost = TempVhost::create("rabt-worker-test-").await.unwrap();
    let transport = within(
        "connecting to RabbitMQ",
        Transport::amqp(&vhost.amqp_url, transport_settings()),
    )
    .await
    .expect("connecting to the test vhost");
    (transport, vhost)
}
