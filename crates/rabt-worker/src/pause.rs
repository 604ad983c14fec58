//! Which agencies an operator paused, as this worker last read them. Every worker reads
//! the pauses from the database every `pause_poll` (one tiny query), so a pause or a
//! resume reaches all of them within that; a task of a paused agency is sent back
//! through the retry tier unattempted, as during an open circuit (gate.rs explains why
//! the retry tier and not a paused consumer).

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rabt_core::Agency;
use rabt_store::Store;
use tokio_util::sync::CancellationToken;

/// How long a paused agency's task waits before it asks again.
pub(crate) const PAUSED_RECHECK: Duration = Duration::from_secs(5);

/// The paused agencies, shared by every clone of a worker.
#[derive(Debug, Default, Clone)]
pub(crate) struct PauseBoard(Arc<RwLock<BTreeSet<Agency>>>);

impl PauseBoard {
    /// Whether `agency` was paused at the last read.
    pub(crate) fn is_paused(&self, agency: Agency) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&agency)
    }

    fn set(&self, paused: BTreeSet<Agency>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = paused;
    }

    /// Reads the pauses once.
    pub(crate) async fn refresh(&self, store: &Store) {
        match store.agency_pauses().await {
            Ok(pauses) => {
                let paused: BTreeSet<Agency> = pauses.iter().map(|p| p.agency).collect();
                let before = self
                    .0
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                for agency in paused.difference(&before) {
                    tracing::info!(%agency, "agency paused by an operator: its tasks wait, unattempted");
                }
                for agency in before.difference(&paused) {
                    tracing::info!(%agency, "agency resumed: its tasks run again");
                }
                self.set(paused);
            }
            // Keep what was known: a database outage neither pauses nor resumes anything.
            Err(err) => tracing::debug!(error = %err, "cannot read agency pauses"),
        }
    }

    /// Reads the pauses every `every` until `shutdown`.
    pub(crate) async fn follow(self, store: Store, every: Duration, shutdown: CancellationToken) {
        loop {
            self.refresh(&store).await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}
