//! Notifications to cooperatives: when a request with a `notify_url` completes, the
//! store queues a notification in the completion's transaction; this notifier (one per
//! worker process, any number of them) claims due notifications with a lease, POSTs a
//! Standard Webhooks event signed with the cooperative's secret, records every attempt,
//! and reschedules a failed one with a jittered backoff over hours until it is
//! delivered or its schedule runs out.
//!
//! The `webhook-id` is the notification's id, the same on every attempt, so a receiver
//! that sees it twice (a retry after a lost answer, or a notifier that stalled past its
//! lease) drops the duplicate. Every connection passes the SSRF guard.
//!
//! Layout:
//! - [`guard`]: the SSRF guard, the resolver it owns, and its refusals.
//! - `schedule`: [`RetrySchedule`], the waits between attempts.
//! - `send`: one attempt over HTTP, redirects followed by hand.
//! - `event`: the JSON body.

use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use rabt_metrics::metrics;
use rabt_store::{AttemptReport, DueNotification, NextStep, Store, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod event;
pub mod guard;
mod schedule;
mod send;

pub use event::REQUEST_COMPLETED;
pub use guard::{Refused, ResolveError, Resolver, SystemResolver, TargetGuard};
pub use schedule::RetrySchedule;
pub use send::ClientError;

use send::{Sender, Sent};

/// How the notifier runs (`[notifications]` in the configuration).
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// Allow loopback, private and link-local targets and plain `http` (tests, the
    /// demo). Off in production.
    pub allow_private_targets: bool,
    /// The longest one attempt may take, redirects included.
    pub timeout: Duration,
    /// The waits between attempts.
    pub schedule: RetrySchedule,
    /// How often to look for due notifications.
    pub poll_interval: Duration,
    /// Notifications claimed, and sent concurrently, per round.
    pub batch_size: u32,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            timeout: Duration::from_secs(10),
            schedule: RetrySchedule::default(),
            poll_interval: Duration::from_secs(1),
            batch_size: 16,
        }
    }
}

/// The notifier of one process.
#[derive(Debug, Clone)]
pub struct Notifier {
    store: Store,
    sender: Sender,
    settings: NotifierSettings,
}

impl Notifier {
    /// A notifier guarded as `settings.allow_private_targets` says.
    pub fn new(store: Store, settings: NotifierSettings) -> Result<Notifier, ClientError> {
        let guard = TargetGuard::new(settings.allow_private_targets);
        Notifier::with_guard(store, guard, settings)
    }

    /// A notifier with its own guard (a resolver of its own, exempted addresses).
    pub fn with_guard(
        store: Store,
        guard: TargetGuard,
        settings: NotifierSettings,
    ) -> Result<Notifier, ClientError> {
        Ok(Notifier {
            store,
            sender: Sender::new(guard, settings.timeout)?,
            settings,
        })
    }

    /// Sends due notifications until `shutdown`. A round in progress finishes (each
    /// attempt is bounded by the timeout).
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let pause = match self.notify_due().await {
                Ok(sent) => {
                    failures = 0;
                    if sent == self.settings.batch_size as usize {
                        continue;
                    }
                    self.settings.poll_interval
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    // One line per outage, not per round.
                    if failures == 1 || failures.is_multiple_of(30) {
                        tracing::warn!(error = %err, failures, "notifier cannot claim notifications");
                    }
                    self.settings.poll_interval * failures.min(5)
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One round: claims the due notifications, sends them concurrently and records
    /// each attempt. Returns how many were claimed.
    pub async fn notify_due(&self) -> Result<usize, StoreError> {
        // The lease outlives an attempt with room to record it.
        let lease = self.settings.timeout * 2 + Duration::from_secs(10);
        let due = self
            .store
            .claim_notifications(Utc::now(), self.settings.batch_size, lease)
            .await?;
        let claimed = due.len();
        futures_util::future::join_all(due.into_iter().map(|d| {
            // The attempt's CLIENT span continues the request's trace.
            let span = rabt_trace::notification(
                &d.id.to_string(),
                &d.request.to_string(),
                d.attempt,
                d.traceparent.as_deref(),
            );
            self.attempt(d).instrument(span)
        }))
        .await;
        Ok(claimed)
    }

    async fn attempt(&self, due: DueNotification) {
        let at = Utc::now().trunc_subsecs(3);
        let started = Instant::now();
        let sent = match signing_secret(&due) {
            Ok(secret) => {
                let body = event::body(&due);
                let id = due.id.to_string();
                let headers = rabt_webhook::sign(&[secret], &id, at.timestamp(), &body);
                self.sender.send(&due.url, &headers, &body).await
            }
            Err(error) => Sent::Failed {
                error,
                permanent: true,
            },
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let report = self.report(&due, at, latency_ms, sent);
        let span = tracing::Span::current();
        if let Some(host) = url::Url::parse(&due.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            span.record("server.address", host);
        }
        if let Some(status) = report.status_code {
            span.record("http.response.status_code", i64::from(status));
        }
        if !matches!(report.next, NextStep::Delivered) {
            rabt_trace::set_error(&span, "not delivered");
        }
        log_attempt(&due, &report);
        match self.store.record_notification_attempt(&report).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                notification = %due.id,
                "the notification's lease ran out during the attempt; another notifier owns it now"
            ),
            Err(err) => tracing::warn!(
                notification = %due.id,
                error = %err,
                "cannot record a notification attempt; it is sent again when its lease runs out"
            ),
        }
    }

    fn report(
        &self,
        due: &DueNotification,
        at: chrono::DateTime<Utc>,
        latency_ms: i64,
        sent: Sent,
    ) -> AttemptReport {
        let (status_code, error, retry_after, permanent) = match sent {
            Sent::Delivered { status } => (Some(status), None, None, false),
            Sent::Refused {
                status,
                retry_after,
            } => (
                Some(status),
                Some(format!("the receiver answered {status}")),
                retry_after,
                false,
            ),
            Sent::Failed { error, permanent } => (None, Some(error), None, permanent),
        };
        let next = if error.is_none() {
            NextStep::Delivered
        } else if permanent {
            NextStep::Failed
        } else {
            let now = Utc::now().trunc_subsecs(3);
            let next =
                self.settings
                    .schedule
                    .next_after(due.attempt, now, retry_after, &mut rand::rng());
            next.map_or(NextStep::Failed, NextStep::RetryAt)
        };
        AttemptReport {
            notification: due.id,
            lease: due.lease,
            attempt: due.attempt,
            at,
            status_code,
            error,
            latency_ms: Some(latency_ms),
            next,
        }
    }
}

/// The cooperative's secret, or why the notification can never be signed.
fn signing_secret(due: &DueNotification) -> Result<rabt_webhook::Secret, String> {
    let text = due.webhook_secret.as_deref().ok_or_else(|| {
        "the cooperative has no webhook secret (rabt coop webhook-secret creates one)".to_owned()
    })?;
    rabt_webhook::Secret::parse(text)
        .map_err(|_| "the cooperative's webhook secret is not a valid whsec_ secret".to_owned())
}

/// One line per attempt, naming the receiver's host only (the path and query may
/// hold the cooperative's token).
fn log_attempt(due: &DueNotification, report: &AttemptReport) {
    // The URL was checked at accept, so it has a host; were it not, the line says so
    // rather than naming an empty host.
    let host = url::Url::parse(&due.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "(no host)".to_owned());
    // The error may quote the URL, which a cooperative may have built with personal data.
    // An attempt without an error (delivered) logs none.
    let error = rabt_core::pii::redact(report.error.as_deref().unwrap_or_default());
    let error = error.as_str();
    metrics().notification(match report.next {
        NextStep::Delivered => "delivered",
        NextStep::RetryAt(_) => "retrying",
        NextStep::Failed => "failed",
    });
    match report.next {
        NextStep::Delivered => tracing::info!(
            notification = %due.id, request = %due.request, attempt = due.attempt, %host,
            status = report.status_code, "notification delivered"
        ),
        NextStep::RetryAt(at) => tracing::info!(
            notification = %due.id, request = %due.request, attempt = due.attempt, %host,
            error, next_attempt = %at, "notification attempt failed; rescheduled"
        ),
        NextStep::Failed => tracing::warn!(
            notification = %due.id, request = %due.request, attempt = due.attempt, %host,
            error, "notification failed for good"
        ),
    }
}
