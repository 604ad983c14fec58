//! The retention sweeper: every `retention.sweep_interval`, completed requests older than
//! `retention.payloads` get their inputs and outputs replaced by keyed digests (the
//! store's `expire_payloads`). Any number of processes may run it: each request is
//! expired in a transaction of its own, under a row lock, once.

use std::time::Duration;

use chrono::Utc;
use rabt_audit::PiiKey;
use rabt_metrics::metrics;
use rabt_store::Store;
use tokio_util::sync::CancellationToken;

/// How the sweeper runs.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// How long a request's payloads are kept after it was accepted.
    pub payloads: Duration,
    /// How often to look for expired payloads.
    pub interval: Duration,
    /// The deployment's key for personal-data digests.
    pub key: PiiKey,
}

/// Requests expired per round (more rounds follow at once while there are more).
const BATCH: u32 = 200;

/// Expires payloads until `shutdown`.
pub async fn run(store: Store, settings: RetentionSettings, shutdown: CancellationToken) {
    loop {
        sweep(&store, &settings).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(settings.interval) => {}
        }
    }
}

async fn sweep(store: &Store, settings: &RetentionSettings) {
    let Ok(keep) = chrono::Duration::from_std(settings.payloads) else {
        return;
    };
    loop {
        let cutoff = Utc::now() - keep;
        match store.expire_payloads(cutoff, &settings.key, BATCH).await {
            Ok(0) => return,
            Ok(count) => {
                metrics().payloads_expired(u64::from(count));
                tracing::info!(count, "request payloads expired and replaced by digests");
                if count < BATCH {
                    return;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "expiring request payloads failed; retrying later");
                return;
            }
        }
    }
}
