//! The real services every test gets a private piece of: a SQLite file or a PostgreSQL
//! database of its own, and an embedded broker or a RabbitMQ vhost of its own. Both are
//! removed when the test ends, pass or fail. The approach is rabt-store's and
//! rabt-queue's test harnesses, copied: crates never depend on each other's tests.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rabt_queue::{Settings, Transport};
use rabt_store::Store;
use reqwest::{Client, Url};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection};

/// Every wait in these tests is bounded by this (never a fixed sleep).
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// How often a condition is polled.
pub(crate) const POLL: Duration = Duration::from_millis(25);

const PG_VAR: &str = "RABT_TEST_DATABASE_URL";
const AMQP_VAR: &str = "RABT_TEST_AMQP_URL";
const API_VAR: &str = "RABT_TEST_RABBITMQ_API";

/// Connections per test store: the worker, the relay and the test's own reads.
const POOL_SIZE: u32 = 8;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the real PostgreSQL and RabbitMQ. Run \
             `source /tmp/rabt-dev-services/env.sh` (development) or `tests/services.sh start`."
        )
    })
}

fn random_name() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Awaits `future`, failing the test if it takes longer than [`DEADLINE`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not true within {DEADLINE:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A migrated database of its own, removed on drop.
pub(crate) struct Database {
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Database {
    /// A SQLite file in a temporary folder of its own.
    pub(crate) async fn sqlite() -> (Store, Database) {
        let dir = std::env::temp_dir().join(format!("rabt-worker-{}", random_name()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("rabt.db").display());
        let database = Database {
            cleanup: Cleanup::Sqlite(dir),
        };
        (open(&url).await, database)
    }

    /// A database created on the server of `RABT_TEST_DATABASE_URL`.
    pub(crate) async fn postgres() -> (Store, Database) {
        let admin_url = env(PG_VAR);
        let name = format!("rabt_worker_test_{}", random_name());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {PG_VAR}: {e}"));
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&admin_url, &name);
        let database = Database {
            cleanup: Cleanup::Postgres { admin_url, name },
        };
        (open(&url).await, database)
    }
}

async fn open(url: &str) -> Store {
    let store = Store::connect(url, POOL_SIZE).await.unwrap();
    store.migrate().await.unwrap();
    store
}

impl Drop for Database {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop runs inside the test's runtime, which must not block on itself:
                // drop the database from a thread with a runtime of its own. FORCE ends
                // the connections of a worker a failed test left running.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async {
                        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        sqlx::raw_sql(AssertSqlSafe(sql))
                            .execute(&mut admin)
                            .await?;
                        admin.close().await
                    })?;
                    Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
                })
                .join();
                if let Ok(Err(e)) = dropped {
                    eprintln!("could not drop a test database: {e}");
                }
            }
        }
    }
}

/// The server URL with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
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

/// A connection to a RabbitMQ vhost of its own.
pub(crate) async fn rabbitmq() -> (Transport, Vhost) {
    let vhost = Vhost::create().await;
    let transport = within(
        "connecting to RabbitMQ",
        Transport::amqp(&vhost.amqp_url(), transport_settings()),
    )
    .await
    .expect("connecting to the test vhost");
    (transport, vhost)
}

/// A RabbitMQ vhost of its own, deleted on drop.
pub(crate) struct Vhost {
    name: String,
    api: Url,
    client: Client,
}

impl Vhost {
    async fn create() -> Vhost {
        let api = Url::parse(&env(API_VAR)).unwrap_or_else(|_| panic!("{API_VAR} is not a URL"));
        let vhost = Vhost {
            name: format!("rabt-worker-test-{}", random_name()),
            api,
            client: Client::new(),
        };
        vhost.put(&["vhosts", &vhost.name], json!({})).await;
        let user = vhost.api.username().to_owned();
        let everything = json!({"configure": ".*", "write": ".*", "read": ".*"});
        vhost
            .put(&["permissions", &vhost.name, &user], everything)
            .await;
        vhost
    }

    /// The AMQP URL of this vhost, from `RABT_TEST_AMQP_URL`.
    fn amqp_url(&self) -> String {
        let mut url =
            Url::parse(&env(AMQP_VAR)).unwrap_or_else(|_| panic!("{AMQP_VAR} is not a URL"));
        url.set_path("");
        url.path_segments_mut()
            .expect("an amqp URL has a path")
            .push(&self.name);
        url.to_string()
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("the management API URL has a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    async fn put(&self, segments: &[&str], body: serde_json::Value) {
        let response = self
            .client
            .put(self.url(segments))
            .json(&body)
            .send()
            .await
            .expect("the RabbitMQ management API is unreachable");
        assert!(
            response.status().is_success(),
            "PUT {segments:?}: {}",
            response.status()
        );
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        // Drop cannot await: delete from a thread with a small runtime of its own.
        let url = self.url(&["vhosts", &self.name]);
        let client = self.client.clone();
        let deleting = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the vhost cleanup");
            runtime.block_on(async { client.delete(url).send().await.map(|_| ()) })
        });
        if !matches!(deleting.join(), Ok(Ok(()))) {
            eprintln!("could not delete test vhost {}", self.name);
        }
    }
}

#[test]
fn database_names_are_replaced() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
    assert_eq!(
        with_database("postgres://h/db?sslmode=disable", "x"),
        "postgres://h/x?sslmode=disable"
    );
}
