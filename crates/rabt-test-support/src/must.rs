//! The waits of [`poll`](crate::poll) for tests in which running out of time is simply
//! a failure: bounded by [`DEADLINE`], they panic with the [`Error::TimedOut`]
//! message, naming what was awaited. `use rabt_test_support::must::{eventually,
//! within};` and then `eventually("the outbox drained", || …).await`.

use std::future::Future;
use std::time::Duration;

use crate::Error;

/// The bound of every `must` wait: generous, because a test shares two cores with
/// everything else a test run does, and only a hung test ever reaches it.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Awaits `future`, or fails the test after [`DEADLINE`].
///
/// # Panics
///
/// When [`DEADLINE`] passes first.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    crate::poll::within(DEADLINE, what, future)
        .await
        .unwrap_or_else(|e| fail(&e))
}

/// Polls `check` until it returns `Some` (see [`poll::eventually`](crate::eventually)),
/// or fails the test after [`DEADLINE`].
///
/// # Panics
///
/// When [`DEADLINE`] passes first.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    crate::poll::eventually(DEADLINE, what, check)
        .await
        .unwrap_or_else(|e| fail(&e))
}

fn fail(error: &Error) -> ! {
    panic!("{error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_return_what_they_waited_for() {
        assert_eq!(within("a value", async { 7 }).await, 7);
        assert_eq!(eventually("a value", || async { Some(8) }).await, 8);
    }
}
