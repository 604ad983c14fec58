//! Running async cleanup from `Drop`.
//!
//! `Drop` cannot await, and a guard is usually dropped inside the test's own tokio
//! runtime, where blocking on that runtime panics ("cannot start a runtime from within a
//! runtime") or, on a current-thread runtime, would wait for itself forever. A thread of
//! its own with a small runtime of its own has neither problem, inside a runtime or
//! not; the dropping thread waits for it, so the cleanup is done when `drop` returns.
//!
//! The work must open its own connections: one made on the test's runtime (a pooled
//! HTTP connection, say) is driven by that runtime, which is blocked in `drop` waiting
//! for the work, so on a current-thread runtime the two would wait for each other.

use std::future::Future;

use crate::Error;

/// Runs `work` to completion on a new thread with a current-thread runtime, and waits.
pub(crate) fn run_to_completion<F>(work: F) -> Result<(), Error>
where
    F: Future<Output = Result<(), Error>> + Send + 'static,
{
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                action: "building a runtime for the cleanup".to_owned(),
                source,
            })?;
        runtime.block_on(work)
    });
    thread.join().map_err(|_| Error::CleanupPanicked)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_outside_a_runtime() {
        run_to_completion(async { Ok(()) }).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runs_inside_a_current_thread_runtime() {
        run_to_completion(async {
            tokio::task::yield_now().await;
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_panicking_cleanup_is_an_error_not_a_panic() {
        let error = run_to_completion(async {
            if true {
                panic!("the cleanup failed");
            }
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(error, Error::CleanupPanicked), "{error:?}");
    }
}
