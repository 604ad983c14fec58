//! The sealed tree's rows: reading nodes by id, and writing leaves, nodes, gaps and
//! checkpoints in multi-row statements.

use std::collections::HashMap;

use rabt_audit::{Checkpoint, Frontier, Hash, NodeId, SigningKey};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::error::StoreError;

/// Rows per multi-row INSERT (4 binds each at most: well under every bind limit).
const INSERT_CHUNK: usize = 200;

/// Stored nodes by id.
pub(crate) async fn read_nodes(
    conn: &mut AnyConnection,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, StoreError> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id, hash FROM audit_nodes WHERE id IN ({})",
            marks.join(", ")
        );
        // Assembled from placeholders only; every value is bound.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.key());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let (id, hash) = node_of(&row)?;
            found.insert(id, hash);
        }
    }
    Ok(found)
}

/// A row of `SELECT id, hash FROM audit_nodes`: a hash that is not 32 bytes is named as
/// corrupt.
pub(crate) fn node_of(row: &AnyRow) -> Result<(NodeId, Hash), StoreError> {
    let id = NodeId::from_key(row.try_get("id")?);
    let bytes: Vec<u8> = row.try_get("hash")?;
    let hash = Hash::from_slice(&bytes).map_err(|_| StoreError::Corrupt {
        column: "audit_nodes.hash",
        value: format!("node {}/{}", id.level, id.index),
    })?;
    Ok((id, hash))
}

pub(super) async fn insert_gaps(
    conn: &mut AnyConnection,
    gaps: &[i64],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in gaps.chunks(INSERT_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO audit_gaps (seq, noted_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for seq in chunk {
            query = query.bind(*seq).bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn insert_leaves(
    conn: &mut AnyConnection,
    leaves: &[(u64, i64, String)],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in leaves.chunks(INSERT_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = 4 * i;
                format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_leaves (leaf_index, seq, canonical, sealed_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (index, seq, canonical) in chunk {
            query = query
                .bind(*index as i64)
                .bind(*seq)
                .bind(canonical.as_str())
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn insert_nodes(
    conn: &mut AnyConnection,
    nodes: &[(NodeId, Hash)],
) -> Result<(), StoreError> {
    for chunk in nodes.chunks(INSERT_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO audit_nodes (id, hash) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, hash) in chunk {
            query = query.bind(id.key()).bind(hash.as_bytes().to_vec());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Signs a checkpoint of the tree if it grew since the latest one, or if the latest
/// one was signed by another key (a rotation takes effect at once).
pub(super) async fn sign_if_due(
    conn: &mut AnyConnection,
    frontier: &Frontier,
    key: &SigningKey,
    origin: &str,
    now: i64,
) -> Result<Option<u64>, StoreError> {
    let size = frontier.size();
    if size == 0 {
        return Ok(None);
    }
    let verifier = key.verifier().to_string();
    let latest = sqlx::query(
        "SELECT tree_size, verifier_key FROM audit_checkpoints ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(latest) = latest {
        let latest_size: i64 = latest.try_get("tree_size")?;
        let latest_key: String = latest.try_get("verifier_key")?;
        if latest_size as u64 > size {
            return Err(StoreError::Corrupt {
                column: "audit_checkpoints.tree_size",
                value: format!("{latest_size} is larger than the tree ({size})"),
            });
        }
        if latest_size as u64 == size && latest_key == verifier {
            return Ok(None);
        }
    }
    let checkpoint = Checkpoint {
        origin: origin.to_owned(),
        size,
        root: frontier.root(),
    };
    let note = checkpoint.sign(key).map_err(|err| StoreError::Corrupt {
        column: "audit.origin",
        value: err.to_string(),
    })?;
    sqlx::query(
        "INSERT INTO audit_keys (verifier_key, added_at) VALUES ($1, $2) \
         ON CONFLICT (verifier_key) DO NOTHING",
    )
    .bind(verifier.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO audit_checkpoints (tree_size, root, note, verifier_key, signed_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(size as i64)
    .bind(checkpoint.root.as_bytes().to_vec())
    .bind(note)
    .bind(verifier)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Some(size))
}
