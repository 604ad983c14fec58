//! A fresh database per test, on each backend: a SQLite file in a temporary folder, or
//! a PostgreSQL database created from `RABT_TEST_DATABASE_URL`. Both are removed when
//! the test ends, pass or fail.

use std::path::PathBuf;

use rabt_store::Store;
use sqlx::{AnyPool, AssertSqlSafe, Connection, Row};

/// The variable naming the PostgreSQL server the tests create their databases on.
const PG_VAR: &str = "RABT_TEST_DATABASE_URL";

/// Connections per test store: enough for the concurrency tests to contend.
const POOL_SIZE: u32 = 10;

/// Runs the test function `name(db: TestDb)` on both backends, as the tests
/// `name::sqlite` and `name::postgres`.
macro_rules! backend_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::TestDb::sqlite().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::TestDb::postgres().await).await
            }
        }
    };
}
pub(crate) use backend_test;

/// A migrated store on a database of its own, and a second pool on the same database
/// for looking behind the store's back.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    raw: AnyPool,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        TestDb::sqlite_with(true).await
    }

    pub(crate) async fn postgres() -> TestDb {
        TestDb::postgres_with(true).await
    }

    /// Another database on the same backend, without tables.
    pub(crate) async fn empty_sibling(&self) -> TestDb {
        match self.cleanup {
            Cleanup::Sqlite(_) => TestDb::sqlite_with(false).await,
            Cleanup::Postgres { .. } => TestDb::postgres_with(false).await,
        }
    }

    async fn sqlite_with(migrate: bool) -> TestDb {
        let dir = std::env::temp_dir().join(format!("rabt-store-{}", random_name()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("rabt.db").display());
        TestDb::open(url, Cleanup::Sqlite(dir), migrate).await
    }

    async fn postgres_with(migrate: bool) -> TestDb {
        let admin_url = std::env::var(PG_VAR).unwrap_or_else(|_| {
            panic!(
                "{PG_VAR} is not set: the store tests need a PostgreSQL server \
                 (`eval \"$(tests/services.sh start)\"` exports it)"
            )
        });
        let name = format!("rabt_test_{}", random_name());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {PG_VAR}: {e}"));
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database(&admin_url, &name);
        TestDb::open(url, Cleanup::Postgres { admin_url, name }, migrate).await
    }

    async fn open(url: String, cleanup: Cleanup, migrate: bool) -> TestDb {
        let store = Store::connect(&url, POOL_SIZE).await.unwrap();
        if migrate {
            store.migrate().await.unwrap();
        }
        let raw = sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        TestDb {
            store,
            raw,
            url,
            cleanup,
        }
    }

    /// The database URL (for a second `Store` on the same database).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Rows in `table`, counted behind the store's back.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&self.raw)
            .await
            .unwrap();
        row.try_get::<i64, _>("n").unwrap()
    }

    /// The first column of the first row of `sql`, as text, behind the store's back.
    pub(crate) async fn query_text(&self, sql: &str) -> String {
        let row = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.raw)
            .await
            .unwrap();
        row.try_get::<String, _>(0).unwrap()
    }

    /// Runs a statement behind the store's back.
    pub(crate) async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(&self.raw)
            .await
            .map(|done| done.rows_affected())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop runs inside the test's runtime, which must not block on itself:
                // drop the database from a thread with a runtime of its own.
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
                    eprintln!("could not drop test database {}: {e}", self.name_for_log());
                }
            }
        }
    }
}

impl TestDb {
    fn name_for_log(&self) -> &str {
        match &self.cleanup {
            Cleanup::Postgres { name, .. } => name,
            Cleanup::Sqlite(_) => "sqlite",
        }
    }
}

fn random_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
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
