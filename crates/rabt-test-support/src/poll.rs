//! Waiting with a deadline. Tests never sleep a fixed time to wait for something: they
//! poll the condition until it holds, and fail once the deadline has passed.

use std::future::Future;
use std::time::Duration;

use crate::Error;

/// How long [`eventually`] waits between two checks: often enough not to slow a test
/// down, seldom enough not to load the services it polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Awaits `future`, or fails with [`Error::TimedOut`] naming `what` after `timeout`.
pub async fn within<T>(
    timeout: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> Result<T, Error> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| Error::TimedOut {
            what: what.to_owned(),
            timeout,
        })
}

/// Runs `check` every [`POLL_INTERVAL`] until it returns `Some`, and returns that
/// value; fails with [`Error::TimedOut`] naming `what` after `timeout`. The timeout
/// also bounds a check that hangs.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(timeout, what, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eventually_returns_the_first_value_found() {
        let mut calls = 0;
        let found = eventually(Duration::from_secs(60), "the third call", || {
            calls += 1;
            let now = calls;
            async move { (now == 3).then_some(now) }
        })
        .await
        .unwrap();
        assert_eq!(found, 3);
    }

    #[tokio::test]
    async fn eventually_fails_naming_what_it_waited_for() {
        let error = eventually(Duration::from_millis(120), "a miracle", || async {
            None::<()>
        })
        .await
        .unwrap_err();
        assert!(matches!(error, Error::TimedOut { .. }), "{error:?}");
        assert_eq!(error.to_string(), "a miracle: not done within 120ms");
    }

    #[tokio::test]
    async fn within_bounds_a_future_that_never_ends() {
        let error = within(
            Duration::from_millis(50),
            "forever",
            std::future::pending::<()>(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.to_string(), "forever: not done within 50ms");
        assert_eq!(
            within(Duration::from_secs(60), "now", async { 7 })
                .await
                .unwrap(),
            7
        );
    }
}
