//! The checkpoints met as the recomputed tree grows, and reading a query a page at a
//! time.

use std::collections::VecDeque;

use rabt_audit::tree::{consistency_ranges, nodes_for, proof_from};
use rabt_audit::{Checkpoint, Frontier, Hash, VerifierKey};
use sqlx::Row;

use super::{PAGE, Problem, VerifyReport};
use crate::audit::proofs::{StoredCheckpoint, checkpoint_from_row};
use crate::connect::Store;
use crate::error::StoreError;

/// A query's results read a page at a time.
pub(super) struct Paged<T> {
    page: std::vec::IntoIter<T>,
    /// The last page was full: there may be more.
    more: bool,
}

impl<T> Paged<T> {
    pub(super) fn new() -> Self {
        Paged {
            page: Vec::new().into_iter(),
            more: true,
        }
    }

    pub(super) fn wants_more(&self) -> bool {
        self.more && self.page.len() == 0
    }

    pub(super) fn refill(&mut self, page: Vec<T>) {
        self.more = page.len() as i64 == PAGE;
        self.page = page.into_iter();
    }

    pub(super) fn peek(&self) -> Option<&T> {
        self.page.as_slice().first()
    }

    pub(super) fn next(&mut self) -> Option<T> {
        self.page.next()
    }
}

/// The checkpoints, met in order of size as the recomputed tree grows.
pub(super) struct CheckpointChecks<'a> {
    store: &'a Store,
    keys: &'a [VerifierKey],
    origin: Option<&'a str>,
    /// Checkpoints not met yet, in id order.
    pending: VecDeque<StoredCheckpoint>,
    last_id: i64,
    /// The last checkpoint signed when the verification began: one signed while it
    /// walks the leaves covers leaves sealed after the walk passed, and would read
    /// as a tree with leaves removed.
    up_to: i64,
    exhausted: bool,
    /// The previous checkpoint met (size, root), for consistency.
    previous: Option<(u64, Hash)>,
}

impl<'a> CheckpointChecks<'a> {
    pub(super) fn new(
        store: &'a Store,
        keys: &'a [VerifierKey],
        origin: Option<&'a str>,
        up_to: i64,
    ) -> Self {
        CheckpointChecks {
            store,
            keys,
            origin,
            pending: Default::default(),
            last_id: 0,
            up_to,
            exhausted: false,
            previous: None,
        }
    }

    async fn next(&mut self) -> Result<Option<&StoredCheckpoint>, StoreError> {
        if self.pending.is_empty() && !self.exhausted {
            let rows = sqlx::query(
                "SELECT id, tree_size, root, note, verifier_key, signed_at FROM audit_checkpoints \
                 WHERE id > $1 AND id <= $3 ORDER BY id LIMIT $2",
            )
            .bind(self.last_id)
            .bind(PAGE)
            .bind(self.up_to)
            .fetch_all(&self.store.pool)
            .await?;
            self.exhausted = rows.len() < PAGE as usize;
            for row in &rows {
                self.last_id = row.try_get("id")?;
                self.pending.push_back(checkpoint_from_row(row)?);
            }
        }
        Ok(self.pending.front())
    }

    /// Checks every checkpoint of the frontier's size.
    pub(super) async fn at_size(
        &mut self,
        frontier: &Frontier,
        report: &mut VerifyReport,
    ) -> Result<(), StoreError> {
        while let Some(checkpoint) = self.next().await? {
            if checkpoint.tree_size > frontier.size() {
                return Ok(());
            }
            let Some(checkpoint) = self.pending.pop_front() else {
                return Ok(());
            };
            report.checkpoints += 1;
            report.latest_checkpoint = Some(checkpoint.tree_size);
            if checkpoint.tree_size < frontier.size() {
                report.add(Problem::Checkpoint {
                    size: checkpoint.tree_size,
                    why: "checkpoints are out of order (a smaller tree signed after a larger one)"
                        .into(),
                });
                continue;
            }
            if let Err(why) = self.check(&checkpoint, frontier.root()).await {
                report.add(Problem::Checkpoint {
                    size: checkpoint.tree_size,
                    why,
                });
            }
        }
        Ok(())
    }

    /// Signature, contents, root and consistency with the previous checkpoint.
    async fn check(&mut self, checkpoint: &StoredCheckpoint, root: Hash) -> Result<(), String> {
        let key = self
            .keys
            .iter()
            .find(|k| k.to_string() == checkpoint.verifier_key)
            .ok_or_else(|| {
                format!(
                    "signed by {}, which is not a trusted key",
                    checkpoint.verifier_key
                )
            })?;
        let signed = Checkpoint::open(&checkpoint.note, key).map_err(|e| e.to_string())?;
        if signed.size != checkpoint.tree_size || signed.root != checkpoint.root {
            return Err("the signed note and the stored size or root differ".into());
        }
        if let Some(origin) = self.origin.filter(|o| *o != signed.origin) {
            return Err(format!(
                "names the origin `{}`, not `{origin}`",
                signed.origin
            ));
        }
        if signed.root != root {
            return Err(
                "its signed root is not the root of the entries as sealed: sealed bytes were changed"
                    .into(),
            );
        }
        if let Some((size, previous_root)) = self.previous
            && size < signed.size
        {
            let ranges = consistency_ranges(size, signed.size).map_err(|e| e.to_string())?;
            let nodes = self
                .store
                .nodes(&nodes_for(&ranges))
                .await
                .map_err(|e| e.to_string())?;
            let proof = proof_from(&ranges, &nodes).map_err(|e| e.to_string())?;
            rabt_audit::verify_consistency(size, signed.size, &proof, &previous_root, &signed.root)
                .map_err(|e| format!("not consistent with the checkpoint of size {size}: {e}"))?;
        }
        self.previous = Some((signed.size, signed.root));
        Ok(())
    }

    /// Checkpoints larger than the sealed tree.
    pub(super) async fn finish(&mut self, report: &mut VerifyReport) -> Result<(), StoreError> {
        while self.next().await?.is_some() {
            if let Some(checkpoint) = self.pending.pop_front() {
                report.checkpoints += 1;
                report.add(Problem::Checkpoint {
                    size: checkpoint.tree_size,
                    why: format!(
                        "larger than the sealed tree ({} entries): leaves were removed",
                        report.sealed
                    ),
                });
            }
        }
        Ok(())
    }
}
