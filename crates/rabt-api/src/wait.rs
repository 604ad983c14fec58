//! `Prefer: wait=N` (RFC 7240): a POST may wait up to N seconds for its request to
//! complete. Waiters register before the request is stored, so a completion event can
//! never slip between "stored" and "waiting"; completion events from `rabt.events` wake
//! them. Events are only hints: after waking (or timing out) the handler reads the
//! database, which is the truth.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use rabt_core::RequestId;
use tokio::sync::oneshot;

type Slots = HashMap<RequestId, Vec<(u64, oneshot::Sender<()>)>>;

/// The requests someone is waiting for, in this process.
#[derive(Debug, Clone, Default)]
pub struct Waiters {
    slots: Arc<Mutex<Slots>>,
    next: Arc<AtomicU64>,
}

impl Waiters {
    /// Starts waiting for `request`; the wait ends when the [`Waiter`] is dropped.
    pub fn register(&self, request: RequestId) -> Waiter {
        let (tx, rx) = oneshot::channel();
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(request).or_default().push((token, tx));
        Waiter {
            waiters: self.clone(),
            request,
            token,
            rx: Some(rx),
        }
    }

    /// Wakes everyone waiting for `request`.
    pub fn notify(&self, request: RequestId) {
        if let Some(list) = self.lock().remove(&request) {
            for (_, tx) in list {
                let _ = tx.send(());
            }
        }
    }

    /// How many requests are being waited for (for metrics and tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // A panic while holding this lock cannot leave the map inconsistent (every
        // operation is a single insert or remove), so a poisoned lock is still usable.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One registered wait.
#[derive(Debug)]
pub struct Waiter {
    waiters: Waiters,
    request: RequestId,
    token: u64,
    rx: Option<oneshot::Receiver<()>>,
}

impl Waiter {
    /// Waits until notified or `timeout` passes; true when notified.
    pub async fn wait(mut self, timeout: Duration) -> bool {
        match self.rx.take() {
            Some(rx) => matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(()))),
            None => false,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut slots = self.waiters.lock();
        if let Some(list) = slots.get_mut(&self.request) {
            list.retain(|(token, _)| *token != self.token);
            if list.is_empty() {
                slots.remove(&self.request);
            }
        }
    }
}

/// The wait asked for with `Prefer: wait=N`, capped at `max`; `None` when not asked
/// (or asked for 0, or `respond-async`). Unparseable preferences are ignored, as RFC
/// 7240 §2 asks.
pub(crate) fn preferred_wait(headers: &HeaderMap, max: Duration) -> Option<Duration> {
    let mut wait = None;
    for value in headers.get_all("prefer") {
        let Ok(text) = value.to_str() else { continue };
        for token in text.split(',').map(str::trim) {
            if token.eq_ignore_ascii_case("respond-async") {
                return None;
            }
            let Some((name, seconds)) = token.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("wait") {
                wait = seconds.trim().trim_matches('"').parse::<u64>().ok();
            }
        }
    }
    wait.filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn prefer(value: &str) -> Option<Duration> {
        let mut h = HeaderMap::new();
        h.insert("prefer", HeaderValue::from_str(value).unwrap());
        preferred_wait(&h, Duration::from_secs(30))
    }

    #[test]
    fn parses_prefer_wait() {
        assert_eq!(prefer("wait=5"), Some(Duration::from_secs(5)));
        assert_eq!(
            prefer("return=minimal, wait=10"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(prefer("wait=100"), Some(Duration::from_secs(30)));
        assert_eq!(prefer("wait=0"), None);
        assert_eq!(prefer("wait=soon"), None);
        assert_eq!(prefer("respond-async, wait=5"), None);
        assert_eq!(
            preferred_wait(&HeaderMap::new(), Duration::from_secs(30)),
            None
        );
    }

    #[tokio::test]
    async fn notify_wakes_registered_waiters_and_drop_cleans_up() {
        let waiters = Waiters::default();
        let id = RequestId::new();
        let first = waiters.register(id);
        let second = waiters.register(id);
        waiters.notify(id);
        assert!(first.wait(Duration::from_secs(5)).await);
        assert!(second.wait(Duration::from_secs(5)).await);
        assert!(waiters.is_empty());

        let late = waiters.register(id);
        assert!(!late.wait(Duration::from_millis(10)).await);
        assert!(waiters.is_empty(), "a timed-out waiter removes itself");
    }
}
