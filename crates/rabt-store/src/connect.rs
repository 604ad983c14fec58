//! Opening the database: the [`Store`] handle, its [`Dialect`], connection settings per
//! backend, and the write transactions every mutation goes through.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Connection, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::audit::{NewAuditEntry, insert_audits_at};
use crate::error::StoreError;
use crate::kept::{KeepBudget, Kept, KeptTx};
use crate::key_cache::KeyCache;
use crate::outbox::{Handoff, OutboxRow};

/// Which SQL database a [`Store`] talks to. Queries are written once in the subset both
/// understand; the dialect picks the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite, for the embedded mode (`rabt demo`): one process, one file.
    Sqlite,
    /// PostgreSQL, for production: many `rabt serve` processes share it.
    Postgres,
}

impl Dialect {
    /// The dialect a database URL names, judged by its scheme.
    pub fn of_url(url: &str) -> Result<Dialect, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            other => Err(StoreError::UnsupportedUrl {
                scheme: other.chars().take(32).collect(),
            }),
        }
    }
}

/// Rabt's database: requests, tasks, idempotency keys, callbacks seen, the outbox, the
/// audit log, cooperatives and operators. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    dialect: Dialect,
    /// SQLite has one writer at a time; taking this lock before `BEGIN IMMEDIATE` makes
    /// this process's writers queue in order instead of spinning on SQLITE_BUSY. `None`
    /// on PostgreSQL, where row locks do the job.
    writers: Option<Arc<Mutex<()>>>,
    /// SQLite: the (cooperative, idempotency key) pairs whose accept transaction is
    /// running or waiting for the writer lock in this process (on PostgreSQL an
    /// advisory lock of the transaction plays this part, across processes).
    pub(crate) keys_in_flight: Arc<std::sync::Mutex<std::collections::HashSet<(String, String)>>>,
    /// Verified API keys, off unless [`Store::cache_api_keys`] turns it on.
    pub(crate) key_cache: Arc<KeyCache>,
    /// This process's relay, to which the outbox rows written by the worker's
    /// transactions (a verdict's event, a composite's released checks) go at once,
    /// claimed as they were written; see [`Store::hand_over_to`].
    handoff: Option<Handoff>,
    /// The connection a group-commit writer keeps between its batches, which this
    /// store's write transactions use (see [`Store::keeping`]); `None` for every other
    /// store.
    kept: Option<Arc<Kept>>,
    /// How many connections of the pool writers may keep (see [`crate::kept`]).
    keep_budget: Arc<KeepBudget>,
    /// Decides a composite's waiting checks in the transaction that completed the
    /// check they waited for ([`Store::deciding_with`]); `None` until a worker sets it.
    pub(crate) decider: Option<Arc<dyn crate::compose::Decider>>,
}

impl fmt::Debug for Store {
    // The pool's own Debug output includes its connect options, which hold the URL and
    // its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

/// A PostgreSQL connection idle this long is pinged before it is used again.
pub(crate) const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// How long a query waits for a connection. sqlx's default is 30 s, and while the
/// server refuses connections (restarting, down) it keeps trying for all of it: every
/// request would hang half a minute before its 503. Three seconds is far more than a
/// pool of healthy connections ever makes anyone wait.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl Store {
    /// Opens a pool of at most `max_connections` connections to `url`: `sqlite://path`
    /// (the file is created if missing), `sqlite::memory:` (one private in-memory
    /// database, for tests and demos) or `postgres://…`. Does not migrate; call
    /// [`Store::migrate`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let max_connections = max_connections.max(1);
        match Dialect::of_url(url)? {
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    // sqlx pings every connection it hands out by default: one more
                    // round trip per query, 15 % of an api process's CPU under load
                    // (docs/benchmarks.md). Only a connection that sat idle may have been
                    // cut (a server restart, a firewall); check those, and let a query on
                    // a connection that breaks anyway fail as the database being down.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= CHECK_IDLE_AFTER {
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect(url)
                    .await?;
                Ok(Store {
                    pool,
                    dialect: Dialect::Postgres,
                    writers: None,
                    keys_in_flight: Arc::default(),
                    key_cache: Arc::new(KeyCache::new(Duration::ZERO)),
                    handoff: None,
                    kept: None,
                    keep_budget: Arc::new(KeepBudget::half_of(max_connections)),
                    decider: None,
                })
            }
            Dialect::Sqlite => connect_sqlite(url, max_connections).await,
        }
    }

    /// Caches verified API keys for up to `ttl` (zero: never), for the processes that
    /// authenticate cooperatives (see [`crate::key_cache`]). Call it on the store before
    /// cloning it: clones made earlier keep the cache they had.
    #[must_use]
    pub fn cache_api_keys(mut self, ttl: Duration) -> Store {
        self.key_cache = Arc::new(KeyCache::new(ttl));
        self
    }

    /// Hands the outbox rows that this store's write transactions queue (a verdict's
    /// event, a composite's released checks) to `handoff`'s relay once they have
    /// committed, written claimed for its lease, instead of leaving the relay to find
    /// them in the table. The accept path hands its rows over itself
    /// ([`Store::accept_request_leased`]). Call it before cloning the store.
    #[must_use]
    pub fn hand_over_to(mut self, handoff: Handoff) -> Store {
        self.handoff = Some(handoff);
        self
    }

    /// Whether this store hands its outbox rows to a relay (then nobody needs to wake
    /// the relay for them).
    pub fn hands_over(&self) -> bool {
        self.handoff.is_some()
    }

    /// This store with its write transactions on the connection `kept` holds, for a
    /// group-commit writer. PostgreSQL only: SQLite has one writer at a time, whose
    /// connection every SQLite store of a file keeps already (see [`connect_sqlite`]).
    pub(crate) fn keeping(&self, kept: &Arc<Kept>) -> Store {
        let mut store = self.clone();
        if self.dialect == Dialect::Postgres {
            store.kept = Some(Arc::clone(kept));
        }
        store
    }

    /// The backend in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction that will write. On SQLite it holds this process's writer
    /// lock and starts with `BEGIN IMMEDIATE`, so it owns the database's write lock
    /// before its first read and can never fail half-way with SQLITE_BUSY_SNAPSHOT. On
    /// PostgreSQL it is a plain READ COMMITTED transaction; the statements take the row
    /// locks they need.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let writer = match &self.writers {
            Some(lock) => Some(Arc::clone(lock).lock_owned().await),
            None => None,
        };
        let begin = self.by_dialect("BEGIN", "BEGIN IMMEDIATE");
        let tx = match (&self.kept, self.dialect) {
            (Some(kept), _) => {
                Tx::Kept(KeptTx::begin(&self.pool, kept, &self.keep_budget, begin).await?)
            }
            (None, Dialect::Sqlite) => Tx::Pooled(self.pool.begin_with(begin).await?),
            (None, Dialect::Postgres) => Tx::Pooled(self.pool.begin().await?),
        };
        Ok(WriteTx {
            // SQLite runs several statements in one call to its connection's thread:
            // the audit entries and the COMMIT go together (on a kept connection, whose
            // transaction sqlx does not track).
            commit_with_audit: self.dialect == Dialect::Sqlite && matches!(tx, Tx::Kept(_)),
            tx,
            handoff: self.handoff.clone(),
            handed: Vec::new(),
            audit: Vec::new(),
            _writer: writer,
        })
    }

    /// Picks the statement spelled for this dialect, where the two differ (mostly
    /// PostgreSQL's row locks, which SQLite does without: its write transaction
    /// already excludes every other writer).
    pub(crate) fn by_dialect(&self, postgres: &'static str, sqlite: &'static str) -> &'static str {
        match self.dialect {
            Dialect::Postgres => postgres,
            Dialect::Sqlite => sqlite,
        }
    }
}

/// A write transaction; rolled back if dropped without [`WriteTx::commit`].
pub(crate) struct WriteTx {
    // Field order matters: the transaction is dropped (rolled back) before the writer
    // lock is released.
    tx: Tx,
    /// Where the outbox rows this transaction wrote claimed go once it commits.
    handoff: Option<Handoff>,
    handed: Vec<OutboxRow>,
    /// The audit entries of this transaction, written together when it commits.
    audit: Vec<(NewAuditEntry, DateTime<Utc>)>,
    /// Whether the statement writing the audit entries also commits.
    commit_with_audit: bool,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.tx.conn()
    }

    /// Until when an outbox row written now is claimed: for the relay's lease if the
    /// row will be handed over at commit, else not at all (any relay may take it).
    pub(crate) fn outbox_lease_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match &self.handoff {
            Some(handoff) => crate::accept::lease_until(now, Some(handoff.lease())),
            None => now,
        }
    }

    /// Hands `row`, written with [`WriteTx::outbox_lease_until`], to the relay once
    /// this transaction commits.
    pub(crate) fn hand_over(&mut self, row: OutboxRow) {
        if self.handoff.is_some() {
            self.handed.push(row);
        }
    }

    /// Appends `entry` to the audit log with this transaction. The entries of a
    /// transaction are written in the order given, in one statement just before it
    /// commits: a batch of starts or answers writes its tasks' entries at once, not one
    /// statement each.
    pub(crate) fn audit(&mut self, entry: NewAuditEntry, at: DateTime<Utc>) {
        self.audit.push((entry, at));
    }

    /// [`WriteTx::audit`] for several entries at the same moment.
    pub(crate) fn audits(
        &mut self,
        entries: impl IntoIterator<Item = NewAuditEntry>,
        at: DateTime<Utc>,
    ) {
        self.audit
            .extend(entries.into_iter().map(|entry| (entry, at)));
    }

    /// Writes the audit entries, commits, then releases the writer lock and hands the
    /// rows written claimed to the relay. A relay that stopped leaves them to wait out
    /// their lease. If the entries cannot be written, rolls back at once.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        let WriteTx {
            mut tx,
            handoff,
            handed,
            audit,
            commit_with_audit,
            _writer,
        } = self;
        let then = (commit_with_audit && !audit.is_empty()).then_some("COMMIT");
        if let Err(err) = insert_audits_at(tx.conn(), &audit, then).await {
            roll_back_now(tx).await;
            return Err(err);
        }
        match (tx, then) {
            (Tx::Kept(tx), Some(_)) => tx.ended(),
            (tx, _) => tx.commit().await?,
        }
        drop(_writer);
        if let Some(handoff) = handoff
            && !handoff.send(handed)
        {
            tracing::debug!("the relay is gone; the rows wait out their lease");
        }
        Ok(())
    }

    /// Commits what `result` says was written, or, if it failed, rolls back at once:
    /// a transaction merely dropped is rolled back only when its connection is next
    /// used, and holds its locks (rows, idempotency keys, SQLite's writer) until then,
    /// which would stall whoever writes the same rows next, such as a batch's requests
    /// written again one by one.
    pub(crate) async fn settle<T>(self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match result {
            Ok(written) => {
                self.commit().await?;
                Ok(written)
            }
            Err(err) => {
                // The writer lock goes with the transaction, after its rollback.
                roll_back_now(self.tx).await;
                Err(err)
            }
        }
    }

    /// Rolls back, then releases the writer lock.
    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await
    }
}

/// Rolls a failed transaction back at once, rather than when its connection is next
/// used; one that cannot be rolled back loses its connection instead.
async fn roll_back_now(tx: Tx) {
    if let Err(err) = tx.rollback().await {
        tracing::debug!(error = %err, "cannot roll back a failed transaction; its connection is dropped");
    }
}

/// A write transaction's connection: one from the pool, or the one its writer keeps.
enum Tx {
    Pooled(Transaction<'static, Any>),
    Kept(KeptTx),
}

impl Tx {
    fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Tx::Pooled(tx) => tx,
            Tx::Kept(tx) => tx.conn(),
        }
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Pooled(tx) => Ok(tx.commit().await?),
            Tx::Kept(tx) => tx.end("COMMIT").await,
        }
    }

    async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Pooled(tx) => Ok(tx.rollback().await?),
            Tx::Kept(tx) => tx.end("ROLLBACK").await,
        }
    }
}

async fn connect_sqlite(url: &str, max_connections: u32) -> Result<Store, StoreError> {
    let in_memory = is_sqlite_memory(url);
    let url = with_create_mode(url);
    if !in_memory {
        // journal_mode=WAL is stored in the file, but switching needs an exclusive lock
        // that busy_timeout does not wait for: do it once, on a single connection,
        // before the pool opens several.
        let mut conn = AnyConnection::connect(&url).await?;
        sqlx::raw_sql("PRAGMA journal_mode = WAL")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
    }
    // sqlx pings every connection it hands out by default: a round trip to the
    // connection's thread, which a writer made while it held the database's one write
    // lock. A SQLite connection is a file, which no server restart or firewall cuts.
    let mut options = AnyPoolOptions::new()
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // synchronous=NORMAL is durable across application crashes in WAL mode and
                // loses at most the last transactions on power loss; FULL would fsync every
                // commit. Foreign keys are off by default in SQLite. busy_timeout: how long
                // to wait for another process's write lock before failing with BUSY.
                const SETTINGS: &str = "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                                        PRAGMA busy_timeout = 5000";
                sqlx::raw_sql(SETTINGS).execute(&mut *conn).await?;
                Ok(())
            })
        });
    options = if in_memory {
        // The Any driver opens every connection from the URL, and each `:memory:`
        // connection is a database of its own: keep exactly one, forever.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options
            .max_connections(max_connections)
            .idle_timeout(Duration::from_secs(600))
    };
    let pool = options.connect(&url).await?;
    // The process's one writer at a time (the lock in `writers`) keeps its connection
    // from one write transaction to the next, as PostgreSQL's group-commit writers do
    // (see crate::kept): no pool hand-out and no ping on its return per transaction.
    // Not for an in-memory database, whose one connection the readers need too.
    let (kept, keep_budget) = if in_memory {
        (None, KeepBudget::half_of(0))
    } else {
        (
            Some(Arc::default()),
            KeepBudget::half_of(max_connections.max(2)),
        )
    };
    Ok(Store {
        pool,
        dialect: Dialect::Sqlite,
        writers: Some(Arc::new(Mutex::new(()))),
        keys_in_flight: Arc::default(),
        key_cache: Arc::new(KeyCache::new(Duration::ZERO)),
        handoff: None,
        kept,
        keep_budget: Arc::new(keep_budget),
        decider: None,
    })
}

/// Whether a SQLite URL names an in-memory database.
fn is_sqlite_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory")
}

/// Adds `mode=rwc` (create the file if missing) unless the URL chooses a mode.
fn with_create_mode(url: &str) -> String {
    if is_sqlite_memory(url) {
        return url.to_owned();
    }
    match url.split_once('?') {
        Some((_, query)) if query.split('&').any(|pair| pair.starts_with("mode=")) => {
            url.to_owned()
        }
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn dialects_follow_the_scheme() {
        assert_eq!(
            Dialect::of_url("sqlite://rabt.db").unwrap(),
            Dialect::Sqlite
        );
        assert_eq!(Dialect::of_url("sqlite::memory:").unwrap(), Dialect::Sqlite);
        assert_eq!(
            Dialect::of_url("postgres://u:secret@h/db").unwrap(),
            Dialect::Postgres
        );
        let err = Dialect::of_url("mysql://u:secret@h/db").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn sqlite_files_are_created_unless_a_mode_is_given() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?cache=private"),
            "sqlite://a.db?cache=private&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(with_create_mode("sqlite::memory:"), "sqlite::memory:");
        assert!(is_sqlite_memory("sqlite://:memory:"));
        assert!(is_sqlite_memory("sqlite://x?mode=memory"));
        assert!(!is_sqlite_memory("sqlite://memory.db"));
    }
}
