//! Supervision of a process's long-running tasks. A relay, a consumer, the deadline
//! sweeper or a drain that panics (or returns while the process runs) must not leave a
//! process that looks healthy and does nothing: its supervisor logs it, counts it
//! (`rabt_task_restarts_total`), marks it down in the process's [`Supervision`] (which
//! `/readyz` reports), and starts it again after a backoff. A task that keeps dying
//! ([`RestartPolicy::max_restarts`] within [`RestartPolicy::window`]) is given up on:
//! the supervisor's [`Supervisor::fatal`] token is cancelled and the process exits
//! non-zero, for its own supervisor (systemd, Kubernetes) to restart it whole.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use rabt_metrics::{Supervision, TaskHealth, metrics};
use tokio_util::sync::CancellationToken;

/// When a dead task is started again, and when the supervisor gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The first pause before a restart; it doubles with each restart in a row.
    pub first_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
    /// A task that ran this long before dying starts again with the first backoff.
    pub healthy_after: Duration,
    /// More restarts than this within `window` give up on the process.
    pub max_restarts: usize,
    /// See `max_restarts`.
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            max_restarts: 10,
            window: Duration::from_secs(300),
        }
    }
}

/// Runs tasks and restarts the ones that die; see the module documentation.
#[derive(Debug, Clone)]
pub struct Supervisor {
    supervision: Supervision,
    fatal: CancellationToken,
    policy: RestartPolicy,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::new(Supervision::default(), RestartPolicy::default())
    }
}

impl Supervisor {
    /// A supervisor reporting into `supervision`.
    pub fn new(supervision: Supervision, policy: RestartPolicy) -> Supervisor {
        Supervisor {
            supervision,
            fatal: CancellationToken::new(),
            policy,
        }
    }

    /// Where the tasks' health is reported.
    pub fn supervision(&self) -> &Supervision {
        &self.supervision
    }

    /// Cancelled when a task died too often: the process should exit non-zero.
    pub fn fatal(&self) -> CancellationToken {
        self.fatal.clone()
    }

    /// Runs the task `start` makes, as `name`, until `shutdown`; starts it again each
    /// time it dies before then. Returns when the task ends after `shutdown` (the task
    /// itself watches `shutdown` and finishes its work first), or when giving up.
    pub async fn run<F, Fut>(&self, name: String, shutdown: CancellationToken, mut start: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut restarts = 0u32;
        let mut recent = RecentDeaths::default();
        let mut backoff = self.policy.first_backoff;
        loop {
            self.supervision
                .set(&name, TaskHealth::Running { restarts });
            let started = Instant::now();
            // A task of its own, so that a panic ends it and not the supervisor.
            let ended = tokio::spawn(start()).await;
            if shutdown.is_cancelled() {
                self.supervision.remove(&name);
                return;
            }
            let why = why_ended(&ended);
            let now = Instant::now();
            if now.duration_since(started) >= self.policy.healthy_after {
                backoff = self.policy.first_backoff;
            }
            if recent.too_many(now, &self.policy) {
                self.give_up(&name, why, restarts);
                return;
            }
            restarts += 1;
            tracing::error!(
                task = %name, why, restarts, backoff_ms = backoff.as_millis() as u64,
                "a long-running task died; starting it again"
            );
            metrics().task_restarted(&name);
            self.supervision.set(
                &name,
                TaskHealth::Restarting {
                    restarts,
                    since: now,
                    why,
                },
            );
            tokio::select! {
                () = shutdown.cancelled() => {
                    self.supervision.remove(&name);
                    return;
                }
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
    }

    /// Marks the task given up and cancels [`Supervisor::fatal`].
    fn give_up(&self, name: &str, why: &'static str, restarts: u32) {
        tracing::error!(
            task = %name, why, restarts,
            "a long-running task keeps dying; giving up so that the process exits and is restarted whole"
        );
        self.supervision.set(name, TaskHealth::GaveUp);
        self.fatal.cancel();
    }
}

/// How a task's run ended, for the log and the health report.
fn why_ended(ended: &Result<(), tokio::task::JoinError>) -> &'static str {
    match ended {
        Ok(()) => "returned",
        Err(err) if err.is_panic() => "panicked",
        Err(_) => "was cancelled",
    }
}

/// When one task died, within the policy's window.
#[derive(Default)]
struct RecentDeaths(VecDeque<Instant>);

impl RecentDeaths {
    /// Counts a death at `now`; whether more than `max_restarts` fell within the window.
    fn too_many(&mut self, now: Instant, policy: &RestartPolicy) -> bool {
        self.0.push_back(now);
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            self.0.pop_front();
        }
        self.0.len() > policy.max_restarts
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick(max_restarts: usize) -> RestartPolicy {
        RestartPolicy {
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(80),
            healthy_after: Duration::from_secs(60),
            max_restarts,
            window: Duration::from_secs(60),
        }
    }

    /// Polls `check` every 5 ms for up to 5 s.
    async fn eventually(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !check() {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_task_that_panics_is_restarted_and_reported_down_meanwhile() {
        let supervisor = Supervisor::new(Supervision::default(), quick(10));
        let shutdown = CancellationToken::new();
        let starts = Arc::new(AtomicU32::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let run = {
            let (supervisor, shutdown, starts, release) = (
                supervisor.clone(),
                shutdown.clone(),
                starts.clone(),
                release.clone(),
            );
            tokio::spawn(async move {
                supervisor
                    .run("relay".to_owned(), shutdown.clone(), move || {
                        let n = starts.fetch_add(1, Ordering::SeqCst);
                        let (shutdown, release) = (shutdown.clone(), release.clone());
                        async move {
                            // The first two runs die: the first once released, the
                            // second at once; the third runs until shutdown.
                            match n {
                                0 => {
                                    release.notified().await;
                                    panic!("injected by the test")
                                }
                                1 => panic!("injected by the test"),
                                _ => shutdown.cancelled().await,
                            }
                        }
                    })
                    .await
            })
        };
        let supervision = supervisor.supervision().clone();
        eventually("running", || {
            supervision.all() == [("relay".to_owned(), TaskHealth::Running { restarts: 0 })]
        })
        .await;
        assert!(supervision.down().is_empty());
        release.notify_one();
        eventually("down, then running again", || {
            supervision.all() == [("relay".to_owned(), TaskHealth::Running { restarts: 2 })]
        })
        .await;
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert!(!supervisor.fatal().is_cancelled());
        shutdown.cancel();
        run.await.unwrap();
        assert!(supervision.all().is_empty(), "forgotten at shutdown");
    }

    #[tokio::test]
    async fn the_down_state_says_why_while_the_backoff_runs() {
        let supervision = Supervision::default();
        let supervisor = Supervisor::new(
            supervision.clone(),
            RestartPolicy {
                first_backoff: Duration::from_secs(30),
                ..quick(10)
            },
        );
        let shutdown = CancellationToken::new();
        let run = {
            let (supervisor, shutdown) = (supervisor.clone(), shutdown.clone());
            tokio::spawn(async move {
                supervisor
                    .run("sweeper".to_owned(), shutdown, || async {})
                    .await
            })
        };
        eventually("restarting", || !supervision.down().is_empty()).await;
        let down = supervision.down();
        assert!(
            matches!(&down[..], [(name, TaskHealth::Restarting { restarts: 1, why: "returned", .. })] if name == "sweeper"),
            "{down:?}"
        );
        // Shutdown during the backoff ends the supervisor at once.
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_task_that_keeps_dying_gives_the_process_up() {
        let supervision = Supervision::default();
        let supervisor = Supervisor::new(supervision.clone(), quick(3));
        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        tokio::time::timeout(
            Duration::from_secs(5),
            supervisor.run(
                "consumer:labor".to_owned(),
                CancellationToken::new(),
                move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async { panic!("injected by the test") }
                },
            ),
        )
        .await
        .unwrap();
        assert_eq!(
            starts.load(Ordering::SeqCst),
            4,
            "three restarts, then given up"
        );
        assert!(supervisor.fatal().is_cancelled());
        assert_eq!(
            supervision.down(),
            [("consumer:labor".to_owned(), TaskHealth::GaveUp)]
        );
    }
}
