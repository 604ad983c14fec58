//! Reading the sealed log: checkpoints, inclusion and consistency proofs from stored
//! nodes (O(log n) of them, in one query), and a request's evidence.

use chrono::{DateTime, Utc};
use rabt_audit::tree::{consistency_ranges, inclusion_ranges, nodes_for, proof_from, range_hash};
use rabt_audit::{AuditError, Hash};
use rabt_core::RequestId;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::rows::read_nodes;
use crate::codec::get_time;
use crate::connect::Store;
use crate::error::StoreError;

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// How many entries the tree held.
    pub tree_size: u64,
    /// Its root.
    pub root: Hash,
    /// The signed note, exactly as signed.
    pub note: String,
    /// The key that signed it, in verifier form.
    pub verifier_key: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
}

/// One audit entry of a request, sealed or not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceEntry {
    /// Its position in the log.
    pub seq: i64,
    /// What happened.
    pub action: String,
    /// Its leaf and proof, once a checkpoint covers it.
    pub sealed: Option<SealedEntry>,
}

/// An entry covered by the checkpoint of its [`Evidence`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEntry {
    /// Its leaf index.
    pub leaf_index: u64,
    /// Its RFC 8785 bytes, as hashed.
    pub canonical: String,
    /// Its inclusion proof against the checkpoint, bottom-up.
    pub proof: Vec<Hash>,
}

/// What a cooperative gets to check its request's entries: the latest checkpoint, and
/// each entry with its inclusion proof against it (or pending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The checkpoint the proofs lead to (`None`: nothing is sealed yet).
    pub checkpoint: Option<StoredCheckpoint>,
    /// The request's entries, oldest first.
    pub entries: Vec<EvidenceEntry>,
}

impl Evidence {
    /// Whether every entry is covered by the checkpoint.
    pub fn complete(&self) -> bool {
        self.entries.iter().all(|e| e.sealed.is_some())
    }
}

fn corrupt_tree(err: AuditError) -> StoreError {
    StoreError::Corrupt {
        column: "audit_nodes",
        value: err.to_string(),
    }
}

pub(crate) fn checkpoint_from_row(row: &AnyRow) -> Result<StoredCheckpoint, StoreError> {
    let size: i64 = row.try_get("tree_size")?;
    let root: Vec<u8> = row.try_get("root")?;
    Ok(StoredCheckpoint {
        tree_size: size as u64,
        root: Hash::from_slice(&root).map_err(|_| StoreError::Corrupt {
            column: "audit_checkpoints.root",
            value: format!("checkpoint of size {size}"),
        })?,
        note: row.try_get("note")?,
        verifier_key: row.try_get("verifier_key")?,
        signed_at: get_time(row, "signed_at")?,
    })
}

impl Store {
    /// The latest signed checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT tree_size, root, note, verifier_key, signed_at FROM audit_checkpoints \
             ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    /// How many entries the tree holds (sealed, perhaps not yet in a checkpoint).
    pub async fn audit_tree_size(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(leaf_index) + 1, 0) AS size FROM audit_leaves")
            .fetch_one(&self.pool)
            .await?;
        let size: i64 = row.try_get("size")?;
        Ok(size as u64)
    }

    /// The root of the tree of its first `size` leaves, from stored nodes.
    pub async fn audit_root(&self, size: u64) -> Result<Hash, StoreError> {
        let range = 0..size;
        let mut conn = self.pool.acquire().await?;
        let nodes = read_nodes(&mut conn, &nodes_for(std::slice::from_ref(&range))).await?;
        range_hash(&range, &nodes).map_err(corrupt_tree)
    }

    /// The RFC 9162 consistency proof between trees of `first` and `second` leaves
    /// (1 ≤ first ≤ second ≤ the sealed size; the caller checks).
    pub async fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let ranges = consistency_ranges(first, second).map_err(corrupt_tree)?;
        let mut conn = self.pool.acquire().await?;
        let nodes = read_nodes(&mut conn, &nodes_for(&ranges)).await?;
        proof_from(&ranges, &nodes).map_err(corrupt_tree)
    }

    /// RFC 9162 inclusion proofs of several leaves in the tree of `size` leaves, read
    /// in one query.
    pub async fn inclusion_proofs(
        &self,
        leaves: &[u64],
        size: u64,
    ) -> Result<Vec<Vec<Hash>>, StoreError> {
        let ranges = leaves
            .iter()
            .map(|leaf| inclusion_ranges(*leaf, size))
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt_tree)?;
        let all: Vec<_> = ranges.iter().flatten().cloned().collect();
        let mut conn = self.pool.acquire().await?;
        let nodes = read_nodes(&mut conn, &nodes_for(&all)).await?;
        ranges
            .iter()
            .map(|r| proof_from(r, &nodes).map_err(corrupt_tree))
            .collect()
    }

    /// The evidence of a request's audit entries against the latest checkpoint. The
    /// caller has checked that the request is the caller's.
    pub async fn request_evidence(&self, request: RequestId) -> Result<Evidence, StoreError> {
        // The checkpoint first: every leaf it covers was committed before it.
        let checkpoint = self.latest_checkpoint().await?;
        let rows = sqlx::query(
            "SELECT a.seq, a.action, l.leaf_index, l.canonical FROM audit_log a \
             LEFT JOIN audit_leaves l ON l.seq = a.seq WHERE a.request_id = $1 ORDER BY a.seq",
        )
        .bind(request.to_string())
        .fetch_all(&self.pool)
        .await?;
        let size = checkpoint.as_ref().map_or(0, |c| c.tree_size);
        let mut entries = Vec::with_capacity(rows.len());
        let mut covered = Vec::new();
        for row in &rows {
            let leaf: Option<i64> = row.try_get("leaf_index")?;
            let canonical: Option<String> = row.try_get("canonical")?;
            let sealed = match (leaf, canonical) {
                (Some(leaf), Some(canonical)) if (leaf as u64) < size => {
                    covered.push(leaf as u64);
                    Some(SealedEntry {
                        leaf_index: leaf as u64,
                        canonical,
                        proof: Vec::new(),
                    })
                }
                _ => None,
            };
            entries.push(EvidenceEntry {
                seq: row.try_get("seq")?,
                action: row.try_get("action")?,
                sealed,
            });
        }
        if !covered.is_empty() {
            let proofs = self.inclusion_proofs(&covered, size).await?;
            let sealed = entries.iter_mut().filter_map(|e| e.sealed.as_mut());
            for (entry, proof) in sealed.zip(proofs) {
                entry.proof = proof;
            }
        }
        Ok(Evidence {
            checkpoint,
            entries,
        })
    }
}
