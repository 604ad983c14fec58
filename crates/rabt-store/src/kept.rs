//! The connections writers keep: PostgreSQL's group-commit writers (see `group`: a
//! writer is the right to write one transaction at a time in its lane), and SQLite's one
//! writer at a time (a file's; an in-memory database has one connection for all).
//!
//! sqlx pings every connection given back to its pool (a round trip to the server, in a
//! task of its own), and a writer gave one back after every transaction: in the
//! benchmark of 2026-12-07 afternoon the return, ping included, was 3 % of a worker's
//! CPU and 2 % of an api's (docs/benchmarks.md has the run after the change). A writer
//! therefore keeps its connection from one transaction to the next, idle or not, and
//! checks it with a ping only when it sat idle for a second or more (as the pool checks
//! its own: a server restart or a firewall may have cut it meanwhile).
//!
//! Writers may keep at most half of the pool ([`KeepBudget`]), so that reads, the relay
//! and everything else still find connections however many writers a process runs
//! (four per group on PostgreSQL); a writer over the budget gives its connection back
//! as before.
//!
//! A kept connection's transaction is begun and ended with plain `BEGIN` (SQLite's
//! `BEGIN IMMEDIATE`), `COMMIT` and `ROLLBACK` (sqlx's `Transaction` hands its
//! connection back to the pool when it ends). A transaction that ends any other way (an
//! error on the way out, the server cutting the connection, a panic, its future dropped
//! mid-statement) closes its connection, which rolls it back on the server: a
//! connection inside a transaction never serves another.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};

use crate::connect::CHECK_IDLE_AFTER;
use crate::error::StoreError;

/// How many connections of one pool writers may still keep.
#[derive(Debug)]
pub(crate) struct KeepBudget(AtomicU32);

impl KeepBudget {
    /// Half of a pool of `max_connections`.
    pub(crate) fn half_of(max_connections: u32) -> KeepBudget {
        KeepBudget(AtomicU32::new(max_connections / 2))
    }

    fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// One writer's kept connection, with when it was last used.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    slot: Mutex<Option<(PoolConnection<Any>, Instant)>>,
    /// The budget this writer took its share of, once it has one: for good, until the
    /// writer ends (a writer runs one transaction at a time, so puts never race).
    share: OnceLock<Arc<KeepBudget>>,
}

impl Kept {
    fn take(&self) -> Option<(PoolConnection<Any>, Instant)> {
        self.slot.lock().ok().and_then(|mut slot| slot.take())
    }

    /// Keeps `conn` for the next transaction if this writer has, or can take, a share of
    /// `budget`; otherwise (and for a second connection, taken while the kept one was in
    /// use) it goes back to the pool.
    fn put(&self, conn: PoolConnection<Any>, budget: &Arc<KeepBudget>) {
        if self.share.get().is_none() {
            if !budget.take() {
                return;
            }
            if self.share.set(Arc::clone(budget)).is_err() {
                budget.give_back();
            }
        }
        if let Ok(mut slot) = self.slot.lock()
            && slot.is_none()
        {
            *slot = Some((conn, Instant::now()));
        }
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(budget) = self.share.get() {
            budget.give_back();
        }
    }
}

/// A transaction on a writer's kept connection (or on one from the pool, which the
/// writer keeps afterwards if it may).
pub(crate) struct KeptTx {
    /// `Some` until [`KeptTx::end`], which consumes the transaction.
    conn: Option<PoolConnection<Any>>,
    home: Arc<Kept>,
    budget: Arc<KeepBudget>,
}

impl KeptTx {
    pub(crate) async fn begin(
        pool: &AnyPool,
        home: &Arc<Kept>,
        budget: &Arc<KeepBudget>,
        begin: &'static str,
    ) -> Result<KeptTx, StoreError> {
        let conn = match checked(home.take()).await {
            Some(conn) => conn,
            None => pool.acquire().await?,
        };
        // The transaction owns the connection before `begin` is sent: if this future is
        // dropped while it waits (SQLite's `BEGIN IMMEDIATE` waits for the write lock),
        // the connection, which may yet begin, is closed and never goes back to the pool
        // inside a transaction.
        let mut tx = KeptTx {
            conn: Some(conn),
            home: Arc::clone(home),
            budget: Arc::clone(budget),
        };
        sqlx::raw_sql(begin).execute(tx.conn()).await?;
        Ok(tx)
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.conn
            .as_deref_mut()
            .expect("a transaction keeps its connection until `end` consumes it")
    }

    /// Ends the transaction with `COMMIT` or `ROLLBACK`; the connection goes back to the
    /// writer if that worked, and is closed if not.
    pub(crate) async fn end(mut self, statement: &'static str) -> Result<(), StoreError> {
        let mut conn = self
            .conn
            .take()
            .expect("a transaction keeps its connection until `end` consumes it");
        match sqlx::raw_sql(statement).execute(&mut *conn).await {
            Ok(_) => {
                self.home.put(conn, &self.budget);
                Ok(())
            }
            Err(err) => {
                conn.close_on_drop();
                Err(err.into())
            }
        }
    }
}

impl KeptTx {
    /// The transaction was ended by a statement run on [`KeptTx::conn`] (SQLite's
    /// audit entries and `COMMIT`, sent together): the connection goes back to the
    /// writer.
    pub(crate) fn ended(mut self) {
        if let Some(conn) = self.conn.take() {
            self.home.put(conn, &self.budget);
        }
    }
}

impl Drop for KeptTx {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.conn {
            conn.close_on_drop();
        }
    }
}

/// The kept connection, if it is still usable: one idle for a second or more is pinged
/// first, and closed if the ping fails.
async fn checked(kept: Option<(PoolConnection<Any>, Instant)>) -> Option<PoolConnection<Any>> {
    let (mut conn, since) = kept?;
    if since.elapsed() >= CHECK_IDLE_AFTER && conn.ping().await.is_err() {
        conn.close_on_drop();
        return None;
    }
    Some(conn)
}
