//! A fresh database per test, on each backend: a SQLite file in a temporary folder, or
//! a PostgreSQL database created from `RABT_TEST_DATABASE_URL` (rabt-test-support's
//! guards). Both are removed when the test ends, pass or fail.

use rabt_store::{Store, StoreError};
use rabt_test_support::{Backend, TempAnyDatabase};
use sqlx::{AnyPool, AssertSqlSafe, Row};

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
    // Last, so that the pools above are dropped first (on PostgreSQL the drop also
    // ends any connection still open).
    database: TempAnyDatabase,
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        TestDb::create(Backend::Sqlite, true).await
    }

    pub(crate) async fn postgres() -> TestDb {
        TestDb::create(Backend::Postgres, true).await
    }

    /// Another database on the same backend, without tables.
    pub(crate) async fn empty_sibling(&self) -> TestDb {
        TestDb::create(self.database.backend(), false).await
    }

    async fn create(backend: Backend, migrate: bool) -> TestDb {
        let database = TempAnyDatabase::create(backend, "rabt_test_")
            .await
            .unwrap();
        let store = Store::connect(database.url(), POOL_SIZE).await.unwrap();
        if migrate {
            store.migrate().await.unwrap();
        }
        let raw = sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(database.url())
            .await
            .unwrap();
        TestDb {
            store,
            raw,
            database,
        }
    }

    /// The second pool, for looking (and tampering) behind the store's back.
    pub(crate) fn raw(&self) -> &AnyPool {
        &self.raw
    }

    /// The database URL (for a second `Store` on the same database).
    pub(crate) fn url(&self) -> &str {
        self.database.url()
    }

    /// A cooperative's request as the store reads it; it must exist.
    pub(crate) async fn request(
        &self,
        cooperative: rabt_core::CooperativeId,
        id: rabt_core::RequestId,
    ) -> rabt_store::RequestRecord {
        self.store
            .get_request(cooperative, id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("request {id} of {cooperative} not found"))
    }

    /// The audit entries of `action` (of `request`, when one is given), oldest first.
    pub(crate) async fn audited(
        &self,
        action: &str,
        request: Option<rabt_core::RequestId>,
    ) -> Vec<rabt_store::AuditEntry> {
        self.store
            .audit_log(&rabt_store::AuditQuery {
                request,
                action: Some(action.to_owned()),
                limit: 100,
                ..rabt_store::AuditQuery::default()
            })
            .await
            .unwrap()
    }

    /// The events the outbox holds, claimed (for an hour) to be counted.
    pub(crate) async fn claim_events(&self) -> usize {
        let rows = self
            .store
            .claim_outbox(1000, std::time::Duration::from_secs(3600))
            .await
            .unwrap();
        rows.iter()
            .filter(|row| row.exchange == rabt_store::EVENTS_EXCHANGE)
            .count()
    }

    /// Holds back every write to `requests` (on SQLite every write) from another
    /// session until [`Held::release`]: the store's writers queue behind it.
    pub(crate) async fn hold_requests(&self) -> Held {
        let mut conn = self.connection().await;
        let hold = if self.url().starts_with("sqlite") {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN; LOCK TABLE requests IN SHARE ROW EXCLUSIVE MODE"
        };
        sqlx::raw_sql(AssertSqlSafe(hold))
            .execute(&mut *conn)
            .await
            .unwrap();
        Held(conn)
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

    /// A connection of its own behind the store's back (a session that holds locks).
    pub(crate) async fn connection(&self) -> sqlx::pool::PoolConnection<sqlx::Any> {
        self.raw.acquire().await.unwrap()
    }

    /// PostgreSQL: ends every other session of this test's database (as a server
    /// restart or an administrator would), with how many it ended.
    pub(crate) async fn cut_connections(&self) -> u64 {
        self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap()
    }

    /// Runs a statement behind the store's back.
    pub(crate) async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(&self.raw)
            .await
            .map(|done| done.rows_affected())
    }
}

/// A session holding writes back ([`TestDb::hold_requests`]).
pub(crate) struct Held(sqlx::pool::PoolConnection<sqlx::Any>);

impl Held {
    /// Commits the holding transaction: the held writes go on.
    pub(crate) async fn release(mut self) {
        sqlx::raw_sql(AssertSqlSafe("COMMIT"))
            .execute(&mut *self.0)
            .await
            .unwrap();
    }
}

/// Fails the test unless `result` is the store's refusal of a second `what` (a
/// unique key the database holds: `cooperative`, `operator`, `api key`, `task`…).
#[track_caller]
pub(crate) fn assert_duplicate<T: std::fmt::Debug>(result: &Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Duplicate { what: found, .. }) if *found == what => {}
        other => panic!("expected a duplicate {what}, got {other:?}"),
    }
}
