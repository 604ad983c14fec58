//! `rabt audit verify`: the whole sealed log checked from its rows, trusting nothing the
//! database says about itself but the rows, and the keys given.
//!
//! 1. Every entry is encoded again from its columns and compared with the bytes sealed
//!    for its seq: an entry changed, gone, slipped into the sealed past or moved
//!    (changed, missing, inserted, reordered) is named.
//! 2. The tree is recomputed from the sealed bytes; at each checkpoint's size its root
//!    must be the checkpoint's root, the checkpoint's note must carry a valid signature
//!    by a trusted key, and its consistency proof from the previous checkpoint (built
//!    from the stored nodes, as a cooperative receives it) must verify.
//! 3. Every stored node must be the hash of its children, and every leaf node the hash
//!    of its sealed bytes: the nodes proofs are made of are sound.
//!
//! Everything is read in pages, in order, with memory independent of the log's size.

use std::collections::BTreeSet;
use std::fmt;

use rabt_audit::{Frontier, Hash, NodeId, VerifierKey, leaf_hash, node_hash};
use sqlx::{AssertSqlSafe, Row};

use super::canonical::{ENTRY_COLUMNS, RawEntry};
use super::rows::{node_of, read_nodes};
use crate::connect::Store;
use crate::error::StoreError;

mod checkpoints;

use checkpoints::{CheckpointChecks, Paged};

/// Rows read per query.
pub(super) const PAGE: i64 = 5000;
/// Problems kept in a report (the count goes on).
const MAX_PROBLEMS: usize = 100;

/// What to trust.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The keys checkpoints may be signed with. Empty: the keys the database records
    /// (which proves only that the log matches its own checkpoints).
    pub trusted_keys: Vec<VerifierKey>,
    /// The origin every checkpoint must name.
    pub origin: Option<String>,
}

/// Something the log's rows and its seal disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry's columns differ from the bytes sealed for it.
    Changed {
        /// The entry.
        seq: i64,
        /// Its leaf.
        leaf: u64,
    },
    /// The entry now holds what was sealed for another seq: entries were swapped or moved.
    Reordered {
        /// The entry.
        seq: i64,
        /// Its leaf.
        leaf: u64,
        /// The seq whose sealed bytes it holds.
        holds: i64,
    },
    /// A sealed entry's row is gone.
    Missing {
        /// The entry.
        seq: i64,
        /// Its leaf.
        leaf: u64,
    },
    /// A row in the sealed range that was never sealed.
    Inserted {
        /// The row's seq.
        seq: i64,
    },
    /// A stored node is not the hash of what it covers (a leaf node, its sealed bytes).
    Node {
        /// Its level (0: a leaf).
        level: u8,
        /// Its index within the level.
        index: u64,
    },
    /// Leaves are not in increasing seq order.
    LeafOrder {
        /// The first leaf out of order.
        leaf: u64,
    },
    /// A checkpoint does not hold.
    Checkpoint {
        /// Its tree size.
        size: u64,
        /// Why.
        why: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Changed { seq, leaf } => write!(
                f,
                "entry {seq} (leaf {leaf}) was changed: its columns differ from what was sealed"
            ),
            Problem::Reordered { seq, leaf, holds } => write!(
                f,
                "entry {seq} (leaf {leaf}) was reordered: it holds what was sealed as entry {holds}"
            ),
            Problem::Missing { seq, leaf } => {
                write!(
                    f,
                    "entry {seq} (leaf {leaf}) is missing: it was sealed and is gone"
                )
            }
            Problem::Inserted { seq } => write!(
                f,
                "entry {seq} was inserted: it lies in the sealed range but was never sealed"
            ),
            Problem::Node { level, index } => write!(
                f,
                "tree node {level}/{index} is not the hash of what it covers"
            ),
            Problem::LeafOrder { leaf } => write!(f, "leaf {leaf} is out of seq order"),
            Problem::Checkpoint { size, why } => write!(f, "checkpoint of size {size}: {why}"),
        }
    }
}

/// What `verify_audit_log` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries read.
    pub entries: u64,
    /// Entries sealed (leaves).
    pub sealed: u64,
    /// Entries after the sealed range, not sealed yet.
    pub unsealed: u64,
    /// Seqs recorded as never committed.
    pub gaps: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The latest checkpoint's size.
    pub latest_checkpoint: Option<u64>,
    /// Whether signatures were checked against the database's own record of keys.
    pub keys_from_database: bool,
    /// How many problems were found in all.
    pub problem_count: u64,
    /// The first problems found (entries in seq order first), at most 100.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    fn add(&mut self, problem: Problem) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        }
    }

    /// Whether the log is intact.
    pub fn is_intact(&self) -> bool {
        self.problem_count == 0
    }
}

/// Where the side-by-side walk of leaves and rows stands.
struct EntryWalk {
    /// The tree recomputed from the leaves met so far.
    frontier: Frontier,
    leaves: Paged<Leaf>,
    rows: Paged<RawEntry>,
    last_leaf_seq: i64,
    last_row_seq: i64,
}

impl EntryWalk {
    /// The next row, counted.
    fn next_row(&mut self, report: &mut VerifyReport) -> Option<RawEntry> {
        let row = self.rows.next()?;
        report.entries += 1;
        self.last_row_seq = row.seq;
        Some(row)
    }
}

/// A sealed leaf as stored.
struct Leaf {
    index: u64,
    seq: i64,
    canonical: String,
}

impl Store {
    /// Checks the whole log (module documentation).
    pub async fn verify_audit_log(
        &self,
        options: &VerifyOptions,
    ) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        // Read before the leaves: the checkpoints to check are those signed by now,
        // whose trees the leaves read next cover (the sealer may go on meanwhile).
        let up_to: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM audit_checkpoints")
            .fetch_one(&self.pool)
            .await?;
        let gaps = self.gap_seqs().await?;
        report.gaps = gaps.len() as u64;
        let mut keys = options.trusted_keys.clone();
        if keys.is_empty() {
            report.keys_from_database = true;
            keys = self.recorded_keys().await?;
        }
        let mut checks = CheckpointChecks::new(self, &keys, options.origin.as_deref(), up_to);
        self.check_entries(&gaps, &mut checks, &mut report).await?;
        checks.finish(&mut report).await?;
        self.check_nodes(report.sealed, &mut report).await?;
        Ok(report)
    }

    async fn gap_seqs(&self) -> Result<BTreeSet<i64>, StoreError> {
        let rows = sqlx::query("SELECT seq FROM audit_gaps")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("seq")?)).collect()
    }

    async fn recorded_keys(&self) -> Result<Vec<VerifierKey>, StoreError> {
        let rows = sqlx::query("SELECT verifier_key FROM audit_keys")
            .fetch_all(&self.pool)
            .await?;
        // A recorded key that does not parse is skipped: its checkpoints then fail.
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("verifier_key").ok())
            .filter_map(|k| VerifierKey::parse(&k).ok())
            .collect())
    }

    async fn leaf_page(&self, from: u64) -> Result<Vec<Leaf>, StoreError> {
        let rows = sqlx::query(
            "SELECT leaf_index, seq, canonical FROM audit_leaves WHERE leaf_index >= $1 \
             ORDER BY leaf_index LIMIT $2",
        )
        .bind(from as i64)
        .bind(PAGE)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Leaf {
                    index: r.try_get::<i64, _>("leaf_index")? as u64,
                    seq: r.try_get("seq")?,
                    canonical: r.try_get("canonical")?,
                })
            })
            .collect()
    }

    async fn entry_page(&self, after: i64) -> Result<Vec<RawEntry>, StoreError> {
        let sql =
            format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(RawEntry::from_row).collect()
    }

    /// Walks leaves (in leaf order) and rows (in seq order) side by side.
    async fn check_entries(
        &self,
        gaps: &BTreeSet<i64>,
        checks: &mut CheckpointChecks<'_>,
        report: &mut VerifyReport,
    ) -> Result<(), StoreError> {
        let last_sealed = self
            .last_sealed_seq()
            .await?
            .max(gaps.last().copied().unwrap_or(0));
        let mut walk = EntryWalk {
            frontier: Frontier::empty(),
            leaves: Paged::new(),
            rows: Paged::new(),
            last_leaf_seq: 0,
            last_row_seq: 0,
        };
        loop {
            if walk.leaves.wants_more() {
                walk.leaves
                    .refill(self.leaf_page(walk.frontier.size()).await?);
            }
            if walk.rows.wants_more() {
                walk.rows.refill(self.entry_page(walk.last_row_seq).await?);
            }
            let next_row = walk.rows.peek().map(|r| r.seq);
            let next_leaf = walk.leaves.peek().map(|l| l.seq);
            let row_first = match (next_row, next_leaf) {
                (None, None) => break,
                (Some(row), Some(leaf)) => row < leaf,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            if row_first {
                let Some(row) = walk.next_row(report) else {
                    break;
                };
                // A row no leaf holds: slipped into the sealed past, or not sealed yet.
                if row.seq <= last_sealed {
                    report.add(Problem::Inserted { seq: row.seq });
                } else {
                    report.unsealed += 1;
                }
                continue;
            }
            let Some(leaf) = walk.leaves.next() else {
                break;
            };
            if !self.check_leaf(leaf, next_row, &mut walk, report).await? {
                break;
            }
            report.sealed += 1;
            checks.at_size(&walk.frontier, report).await?;
        }
        Ok(())
    }

    /// Checks one leaf against the row of its seq (`next_row` is the seq of the row the
    /// walk is at) and adds it to the recomputed tree; `false` if the rows ended under
    /// the walk.
    async fn check_leaf(
        &self,
        leaf: Leaf,
        next_row: Option<i64>,
        walk: &mut EntryWalk,
        report: &mut VerifyReport,
    ) -> Result<bool, StoreError> {
        if leaf.seq <= walk.last_leaf_seq && leaf.index > 0 {
            report.add(Problem::LeafOrder { leaf: leaf.index });
        }
        walk.last_leaf_seq = leaf.seq;
        if next_row == Some(leaf.seq) {
            let Some(row) = walk.next_row(report) else {
                return Ok(false);
            };
            let canonical = row.canonical()?;
            if canonical != leaf.canonical {
                let problem = self
                    .what_differs(&row, &canonical, &leaf, &walk.leaves, &walk.rows, report)
                    .await?;
                report.add(problem);
            }
        } else {
            report.add(Problem::Missing {
                seq: leaf.seq,
                leaf: leaf.index,
            });
        }
        walk.frontier.push(leaf_hash(leaf.canonical.as_bytes()));
        Ok(true)
    }

    async fn last_sealed_seq(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_leaves")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("seq")?)
    }

    /// How the row at a sealed seq differs: the entries after it moved down (one was
    /// deleted and the rest renumbered), moved up (one was slipped in), it holds another
    /// entry's sealed bytes (swapped or moved), or it was changed.
    async fn what_differs(
        &self,
        row: &RawEntry,
        canonical: &str,
        leaf: &Leaf,
        leaves: &Paged<Leaf>,
        rows: &Paged<RawEntry>,
        report: &VerifyReport,
    ) -> Result<Problem, StoreError> {
        if leaves
            .peek()
            .is_some_and(|next| next.canonical == canonical)
        {
            return Ok(Problem::Missing {
                seq: leaf.seq,
                leaf: leaf.index,
            });
        }
        if let Some(next) = rows.peek()
            && next.canonical()? == leaf.canonical
        {
            return Ok(Problem::Inserted { seq: row.seq });
        }
        // Searching the sealed bytes reads the whole table: only for the first few.
        if report.problems.len() < 10 {
            let found =
                sqlx::query("SELECT seq FROM audit_leaves WHERE canonical = $1 AND seq <> $2")
                    .bind(canonical)
                    .bind(row.seq)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(other) = found {
                return Ok(Problem::Reordered {
                    seq: row.seq,
                    leaf: leaf.index,
                    holds: other.try_get("seq")?,
                });
            }
        }
        Ok(Problem::Changed {
            seq: row.seq,
            leaf: leaf.index,
        })
    }

    /// Every stored node is the hash of its children; leaf nodes the hash of their
    /// sealed bytes.
    async fn check_nodes(&self, size: u64, report: &mut VerifyReport) -> Result<(), StoreError> {
        let mut start = 0;
        while start < size {
            let leaves = self.leaf_page(start).await?;
            let end = leaves.last().map_or(start, |l| l.index + 1);
            let nodes = self.node_range(0, start, end).await?;
            for leaf in &leaves {
                if nodes.get(&NodeId::leaf(leaf.index))
                    != Some(&leaf_hash(leaf.canonical.as_bytes()))
                {
                    report.add(Problem::Node {
                        level: 0,
                        index: leaf.index,
                    });
                }
            }
            start += (leaves.len() as u64).max(1);
        }
        let mut level = 1u8;
        while size >> level > 0 {
            let count = size >> level;
            let mut from = 0;
            while from < count {
                let to = (from + PAGE as u64 / 2).min(count);
                let parents: Vec<NodeId> =
                    (from..to).map(|index| NodeId { level, index }).collect();
                let mut nodes = self.node_range(level, from, to).await?;
                nodes.extend(self.node_range(level - 1, 2 * from, 2 * to).await?);
                for parent in parents {
                    let child = |i| {
                        nodes.get(&NodeId {
                            level: level - 1,
                            index: i,
                        })
                    };
                    let expected = match (child(2 * parent.index), child(2 * parent.index + 1)) {
                        (Some(l), Some(r)) => Some(node_hash(l, r)),
                        _ => None,
                    };
                    if expected.is_none() || nodes.get(&parent) != expected.as_ref() {
                        report.add(Problem::Node {
                            level,
                            index: parent.index,
                        });
                    }
                }
                from = to;
            }
            level += 1;
        }
        Ok(())
    }

    /// The stored nodes of one level with indices in `[from, to)`: one range of ids.
    async fn node_range(
        &self,
        level: u8,
        from: u64,
        to: u64,
    ) -> Result<std::collections::HashMap<NodeId, Hash>, StoreError> {
        let rows = sqlx::query("SELECT id, hash FROM audit_nodes WHERE id >= $1 AND id < $2")
            .bind(NodeId { level, index: from }.key())
            .bind(NodeId { level, index: to }.key())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(node_of).collect()
    }

    async fn nodes(
        &self,
        ids: &[NodeId],
    ) -> Result<std::collections::HashMap<NodeId, Hash>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_nodes(&mut conn, ids).await
    }
}
