//! The audit log's sealer, run by every process that holds the signing key: one of them
//! (the PostgreSQL advisory lock decides) appends new entries to the Merkle tree every
//! `audit.seal_interval` and signs a checkpoint when the tree grew; the others stand by
//! and take over when it stops.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rabt_audit::SigningKey;
use rabt_metrics::metrics;
use rabt_store::{Sealer, Store};
use tokio_util::sync::CancellationToken;

/// How the sealer runs.
#[derive(Debug, Clone)]
pub struct SealerSettings {
    /// How often it looks for new entries.
    pub interval: Duration,
    /// The log's name in every checkpoint (`audit.origin`).
    pub origin: String,
    /// The key checkpoints are signed with.
    pub key: Arc<SigningKey>,
    /// Entries appended per database round (more rounds follow at once while there is
    /// more to seal).
    pub batch: u32,
}

/// How often a standing-by sealer tries to take the role over.
const STANDBY_RETRY: Duration = Duration::from_secs(5);

/// How long the sealer may wait at one missing seq before it says so.
const HOLD_WARNING: Duration = Duration::from_secs(10);

/// The sealer service of one process.
#[derive(Debug)]
pub struct SealerService {
    sealer: Sealer,
    settings: SealerSettings,
    /// The missing seq the sealer waits at, and since when (and when it last said so).
    held: Option<(i64, tokio::time::Instant, tokio::time::Instant)>,
}

impl SealerService {
    /// A sealer on `store`.
    pub fn new(store: &Store, settings: SealerSettings) -> SealerService {
        SealerService {
            sealer: store.sealer(settings.batch),
            settings,
            held: None,
        }
    }

    /// Seals until `shutdown`, then gives the role up for another process.
    pub async fn run(mut self, shutdown: CancellationToken) {
        // Rounds start on a fixed beat, not an interval after the previous round ended:
        // an entry then waits at most one interval plus one round to be sealed, however
        // long rounds take under load.
        let mut beat = tokio::time::interval(self.settings.interval);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut standby_until = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = beat.tick() => {}
            }
            if tokio::time::Instant::now() >= standby_until {
                standby_until = tokio::time::Instant::now() + self.round().await;
            }
        }
        self.sealer.release().await;
    }

    /// Warns when the sealer has waited at one missing seq for long: a transaction that
    /// took that seq is still open (`pg_stat_activity` shows it by `backend_xid`), and
    /// nothing after it is sealed until it ends.
    fn note_hold(&mut self, waiting: Option<&(i64, Vec<u64>)>) {
        let now = tokio::time::Instant::now();
        let Some((seq, xids)) = waiting else {
            self.held = None;
            return;
        };
        match &mut self.held {
            Some((held_seq, since, told)) if held_seq == seq => {
                if now.duration_since(*since) >= HOLD_WARNING
                    && now.duration_since(*told) >= HOLD_WARNING
                {
                    *told = now;
                    tracing::warn!(
                        seq,
                        waiting_s = now.duration_since(*since).as_secs(),
                        transactions = ?xids,
                        "the audit log's sealer waits for a transaction that took this seq and is still open"
                    );
                }
            }
            _ => self.held = Some((*seq, now, now)),
        }
    }

    /// Seals what there is (taking the role if free); how long to stand by before the
    /// next try if another process holds the role.
    async fn round(&mut self) -> Duration {
        if !self.sealer.holds() {
            match self.sealer.acquire().await {
                Ok(true) => tracing::info!(origin = %self.settings.origin, "sealing the audit log"),
                Ok(false) => return STANDBY_RETRY,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot take the sealer role; retrying");
                    return STANDBY_RETRY;
                }
            }
        }
        loop {
            match self
                .sealer
                .seal(&self.settings.key, &self.settings.origin)
                .await
            {
                Ok(report) => {
                    let lag = report
                        .oldest_at
                        .and_then(|at| (Utc::now() - at).to_std().ok());
                    metrics().audit_sealed(report.sealed, report.tree_size, lag);
                    if report.gaps > 0 {
                        tracing::info!(
                            gaps = report.gaps,
                            "audit seqs never committed, recorded as gaps"
                        );
                    }
                    if let Some(size) = report.checkpoint {
                        tracing::debug!(size, "checkpoint signed");
                    }
                    self.note_hold(report.waiting.as_ref());
                    if !report.more {
                        return Duration::ZERO;
                    }
                }
                Err(err) => {
                    // The role was given up with the failed round; take it again later.
                    tracing::warn!(error = %err, "sealing the audit log failed; retrying");
                    return Duration::ZERO;
                }
            }
        }
    }
}
