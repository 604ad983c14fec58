//! The sealer: appends committed audit entries to the Merkle tree in `seq` order and
//! signs a checkpoint when the tree grew.
//!
//! **One sealer at a time.** On PostgreSQL the sealer holds a session advisory lock on
//! a connection of its own for as long as it lives; every other process's sealer finds
//! the lock taken and stands by. On SQLite each round runs in a write transaction,
//! which already excludes every other writer.
//!
//! **No gap, no duplicate.** On PostgreSQL `seq` is handed out when a row is inserted,
//! before its transaction commits, so an entry with a lower `seq` can become visible
//! after one with a higher: a hole below the newest visible entry may still fill, and
//! sealing past it would put that entry out of order (or leave it out for ever). A
//! hole may also never fill: its transaction rolled back. The sealer tells the two
//! apart with the transaction snapshot. Seqs come from a sequence in time order, so the
//! transaction that took a seq below a visible entry already had its transaction id
//! when this round's snapshot was taken: it is committed (then the entry is visible),
//! aborted, or listed as in progress. A round that meets a hole notes the transactions
//! in progress and stops there; a later round whose snapshot shows none of them in
//! progress any more, and still no entry, records the seqs as gaps (`audit_gaps`) and
//! seals on. With no transaction in progress the hole is a gap at once. On SQLite,
//! where writers take turns, a committed entry never has a lower seq than one committed
//! before it, and a hole (which only a deleted row can make) is a gap.

use chrono::{DateTime, Utc};
use rabt_audit::{Frontier, SigningKey, leaf_hash};
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

use super::canonical::{ENTRY_COLUMNS, RawEntry};
use super::rows::{insert_gaps, insert_leaves, insert_nodes, read_nodes, sign_if_due};
use crate::connect::{Dialect, Store};
use crate::error::StoreError;

/// The key of the PostgreSQL advisory lock held by the one sealer ("rabtseal" in ASCII).
const SEAL_LOCK: i64 = 0x7261_6274_7365_616c;

/// What one round of sealing did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Entries appended to the tree.
    pub sealed: u64,
    /// Seqs recorded as never committed.
    pub gaps: u64,
    /// The tree's size after the round.
    pub tree_size: u64,
    /// The size of the checkpoint signed in this round, if one was.
    pub checkpoint: Option<u64>,
    /// The round stopped at a hole that may still fill (an entry in flight).
    pub held: bool,
    /// The first missing seq the round stopped at, and the transactions (ids) that
    /// were in progress when it was first seen and still are: what it waits for.
    pub waiting: Option<(i64, Vec<u64>)>,
    /// The round sealed a full batch: there may be more to seal at once.
    pub more: bool,
    /// When the oldest entry sealed in this round was written (its wait to be sealed
    /// is the log's seal lag).
    pub oldest_at: Option<DateTime<Utc>>,
}

/// Transactions in progress when a hole was first seen.
#[derive(Debug, Clone)]
struct HoleWatch {
    /// The first missing seq.
    from: i64,
    /// The transactions in progress then: only they could still fill it.
    in_flight: Vec<u64>,
}

/// The process's sealer (see the module documentation). Get one with [`Store::sealer`],
/// [`Sealer::acquire`] it, then call [`Sealer::seal`] every interval.
pub struct Sealer {
    store: Store,
    batch: u32,
    /// PostgreSQL: the connection holding the advisory lock.
    lock: Option<AnyConnection>,
    /// SQLite: whether acquired (nothing to hold: each round takes the write lock).
    acquired: bool,
    watch: Option<HoleWatch>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("batch", &self.batch)
            .field("holds", &self.holds())
            .field("watch", &self.watch)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A sealer that appends at most `batch` entries per round.
    pub fn sealer(&self, batch: u32) -> Sealer {
        Sealer {
            store: self.clone(),
            batch: batch.max(1),
            lock: None,
            acquired: false,
            watch: None,
        }
    }
}

impl Sealer {
    /// Tries to become the one sealer: true if this sealer holds the role (now or
    /// already), false if another process does.
    pub async fn acquire(&mut self) -> Result<bool, StoreError> {
        if self.holds() {
            return Ok(true);
        }
        match self.store.dialect() {
            Dialect::Sqlite => {
                self.acquired = true;
                Ok(true)
            }
            Dialect::Postgres => {
                // A connection of its own, out of the pool: the session lock lives and
                // dies with it.
                let mut conn = self.store.pool.acquire().await?.detach();
                let row = sqlx::query("SELECT pg_try_advisory_lock($1) AS held")
                    .bind(SEAL_LOCK)
                    .fetch_one(&mut conn)
                    .await?;
                let held: bool = row.try_get("held")?;
                if held {
                    self.lock = Some(conn);
                } else {
                    let _ = conn.close().await;
                }
                Ok(held)
            }
        }
    }

    /// Whether this sealer holds the role.
    pub fn holds(&self) -> bool {
        self.acquired || self.lock.is_some()
    }

    /// Gives the role up (another process's sealer takes over at its next try).
    pub async fn release(&mut self) {
        self.acquired = false;
        self.watch = None;
        if let Some(mut conn) = self.lock.take() {
            // Unlocked before the connection goes: the server notices a closed
            // connection a moment later, and another sealer would find the lock held.
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(SEAL_LOCK)
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }

    /// One round: seals the committed entries that follow the tree without a hole that
    /// may still fill, and signs a checkpoint of `origin` with `key` if the tree grew
    /// (or the latest checkpoint was signed by another key). After an error the role
    /// is given up; [`Sealer::acquire`] again.
    pub async fn seal(&mut self, key: &SigningKey, origin: &str) -> Result<SealReport, StoreError> {
        if !self.holds() {
            return Err(StoreError::NotFound {
                what: "the sealer role (acquire it first)",
            });
        }
        let result = self.round(key, origin).await;
        if result.is_err() {
            self.release().await;
        }
        result
    }

    async fn round(&mut self, key: &SigningKey, origin: &str) -> Result<SealReport, StoreError> {
        let batch = self.batch;
        match (self.store.dialect(), self.lock.as_mut()) {
            (Dialect::Postgres, Some(conn)) => {
                // One snapshot for the whole round: the in-flight list and the rows read
                // must describe the same moment.
                let mut tx = conn
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    .await?;
                // A round never hangs the sealer: a statement stuck on a lock or a lost
                // connection fails the round, which is tried again.
                sqlx::query("SET LOCAL statement_timeout = 30000")
                    .execute(&mut *tx)
                    .await?;
                let row = sqlx::query("SELECT pg_current_snapshot()::text AS snapshot")
                    .fetch_one(&mut *tx)
                    .await?;
                let in_flight = in_progress(&row.try_get::<String, _>("snapshot")?)?;
                let report = seal_round(
                    &mut tx,
                    Some(&in_flight),
                    &mut self.watch,
                    batch,
                    key,
                    origin,
                )
                .await?;
                tx.commit().await?;
                Ok(report)
            }
            (Dialect::Postgres, None) => Err(StoreError::NotFound {
                what: "the sealer's connection",
            }),
            (Dialect::Sqlite, _) => {
                let mut tx = self.store.begin_write().await?;
                let report =
                    seal_round(tx.conn(), None, &mut self.watch, batch, key, origin).await?;
                tx.commit().await?;
                Ok(report)
            }
        }
    }
}

/// The transaction ids in progress of a `pg_current_snapshot()` text (`xmin:xmax:xip,…`).
fn in_progress(snapshot: &str) -> Result<Vec<u64>, StoreError> {
    let corrupt = || StoreError::Corrupt {
        column: "pg_current_snapshot",
        value: snapshot.chars().take(64).collect(),
    };
    let list = snapshot.rsplit(':').next().ok_or_else(corrupt)?;
    list.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse::<u64>().map_err(|_| corrupt()))
        .collect()
}

/// The tree as stored: its size and the last seq it accounts for (sealed or a gap).
async fn tree_state(conn: &mut AnyConnection) -> Result<(u64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM audit_leaves) AS size, \
         (SELECT COALESCE(MAX(seq), 0) FROM audit_leaves) AS leaf_seq, \
         (SELECT COALESCE(MAX(seq), 0) FROM audit_gaps) AS gap_seq",
    )
    .fetch_one(conn)
    .await?;
    let size: i64 = row.try_get("size")?;
    let leaf_seq: i64 = row.try_get("leaf_seq")?;
    let gap_seq: i64 = row.try_get("gap_seq")?;
    Ok((size as u64, leaf_seq.max(gap_seq)))
}

/// What the walk over new rows decided.
#[derive(Default)]
struct Walk {
    leaves: Vec<(i64, String)>,
    oldest_at: Option<i64>,
    gaps: Vec<i64>,
    held: bool,
}

/// Walks the rows after the tree in seq order, deciding at each hole.
fn walk(
    rows: Vec<RawEntry>,
    mut expected: i64,
    in_flight: Option<&[u64]>,
    watch: &mut Option<HoleWatch>,
) -> Result<Walk, StoreError> {
    let mut walk = Walk::default();
    for entry in rows {
        if entry.seq > expected {
            if !hole_is_final(expected, in_flight, watch) {
                walk.held = true;
                break;
            }
            walk.gaps.extend(expected..entry.seq);
        }
        *watch = None;
        expected = entry.seq + 1;
        let canonical = entry.canonical()?;
        walk.oldest_at = Some(walk.oldest_at.map_or(entry.at, |at| at.min(entry.at)));
        walk.leaves.push((entry.seq, canonical));
    }
    Ok(walk)
}

/// The hole a held round stopped at and the transactions it still waits for.
fn waiting_for(watch: &Option<HoleWatch>, in_flight: Option<&[u64]>) -> Option<(i64, Vec<u64>)> {
    let seen = watch.as_ref()?;
    // SQLite reports no transactions (writers take turns): none is still in flight.
    let now = in_flight.unwrap_or_default();
    let still = seen
        .in_flight
        .iter()
        .filter(|x| now.contains(x))
        .copied()
        .collect();
    Some((seen.from, still))
}

/// Whether the hole starting at `from` can no longer fill (module documentation).
fn hole_is_final(from: i64, in_flight: Option<&[u64]>, watch: &mut Option<HoleWatch>) -> bool {
    let Some(now) = in_flight else {
        return true; // SQLite: writers take turns.
    };
    match watch {
        Some(seen) if seen.from == from => !seen.in_flight.iter().any(|xid| now.contains(xid)),
        _ => {
            *watch = Some(HoleWatch {
                from,
                in_flight: now.to_vec(),
            });
            now.is_empty()
        }
    }
}

async fn seal_round(
    conn: &mut AnyConnection,
    in_flight: Option<&[u64]>,
    watch: &mut Option<HoleWatch>,
    batch: u32,
    key: &SigningKey,
    origin: &str,
) -> Result<SealReport, StoreError> {
    let (size, last_seq) = tree_state(&mut *conn).await?;
    let nodes = read_nodes(&mut *conn, &Frontier::nodes(size)).await?;
    let mut frontier = Frontier::from_nodes(size, &nodes).map_err(|err| StoreError::Corrupt {
        column: "audit_nodes",
        value: err.to_string(),
    })?;
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(last_seq)
        .bind(i64::from(batch))
        .fetch_all(&mut *conn)
        .await?;
    let full = rows.len() == batch as usize;
    let rows = rows
        .iter()
        .map(RawEntry::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let walk = walk(rows, last_seq + 1, in_flight, watch)?;
    let now = Utc::now().timestamp_millis();
    insert_gaps(&mut *conn, &walk.gaps, now).await?;
    let mut new_nodes = Vec::with_capacity(walk.leaves.len() * 2);
    let mut leaves = Vec::with_capacity(walk.leaves.len());
    for (seq, canonical) in walk.leaves {
        let index = frontier.size();
        new_nodes.extend(frontier.push(leaf_hash(canonical.as_bytes())));
        leaves.push((index, seq, canonical));
    }
    insert_leaves(&mut *conn, &leaves, now).await?;
    insert_nodes(&mut *conn, &new_nodes).await?;
    let checkpoint = sign_if_due(&mut *conn, &frontier, key, origin, now).await?;
    Ok(SealReport {
        sealed: leaves.len() as u64,
        gaps: walk.gaps.len() as u64,
        tree_size: frontier.size(),
        checkpoint,
        held: walk.held,
        waiting: walk.held.then(|| waiting_for(watch, in_flight)).flatten(),
        more: full && !walk.held,
        oldest_at: walk.oldest_at.and_then(DateTime::from_timestamp_millis),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn snapshots_list_their_transactions_in_progress() {
        assert_eq!(in_progress("100:104:100,102").unwrap(), vec![100, 102]);
        assert!(in_progress("100:100:").unwrap().is_empty());
        assert!(in_progress("1:2:x").is_err());
    }

    #[test]
    fn a_hole_waits_for_the_transactions_that_were_in_flight() {
        let mut watch = None;
        // First sight: transactions 7 and 9 were in flight; wait.
        assert!(!hole_is_final(5, Some(&[7, 9]), &mut watch));
        // 9 still runs: wait.
        assert!(!hole_is_final(5, Some(&[9, 12]), &mut watch));
        // Neither 7 nor 9 runs any more (12 began later and cannot hold seq 5).
        assert!(hole_is_final(5, Some(&[12]), &mut watch));
        // A hole further on is watched afresh.
        assert!(!hole_is_final(8, Some(&[12]), &mut watch));
        // Nothing in flight: final at once. SQLite: always final.
        let mut fresh = None;
        assert!(hole_is_final(3, Some(&[]), &mut fresh));
        assert!(hole_is_final(3, None, &mut None));
    }
}
