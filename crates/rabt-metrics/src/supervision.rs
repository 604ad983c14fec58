//! The health of a process's long-running tasks (the outbox relay, each agency's
//! consumer, the deadline sweeper, the dead-letter drains, the notifier), as their
//! supervisor reports it and `/readyz` reads it. A task that died and waits to be
//! started again is *down* until it runs again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// What the supervisor last said of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskHealth {
    /// Running.
    Running {
        /// How often it was restarted since the process started.
        restarts: u32,
    },
    /// It died (`why`) at `since` and waits for its backoff before it starts again.
    Restarting {
        /// How often it was restarted (this time included).
        restarts: u32,
        /// When it died.
        since: Instant,
        /// How it ended: `panicked` or `returned`.
        why: &'static str,
    },
    /// It died too often: the supervisor gave up, and the process is exiting.
    GaveUp,
}

/// The tasks of one process and their health; cheap to clone, shared by the clones.
#[derive(Debug, Clone, Default)]
pub struct Supervision(Arc<Mutex<BTreeMap<String, TaskHealth>>>);

impl Supervision {
    /// Records `task`'s health.
    pub fn set(&self, task: &str, health: TaskHealth) {
        self.lock().insert(task.to_owned(), health);
    }

    /// Forgets `task` (it ended as asked, at shutdown).
    pub fn remove(&self, task: &str) {
        self.lock().remove(task);
    }

    /// Every task that is not running now, with what happened to it, in name order.
    pub fn down(&self) -> Vec<(String, TaskHealth)> {
        self.lock()
            .iter()
            .filter(|(_, health)| !matches!(health, TaskHealth::Running { .. }))
            .map(|(name, health)| (name.clone(), health.clone()))
            .collect()
    }

    /// Every task, in name order.
    pub fn all(&self) -> Vec<(String, TaskHealth)> {
        self.lock()
            .iter()
            .map(|(name, health)| (name.clone(), health.clone()))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, TaskHealth>> {
        // Every update is one insert or remove: a poisoned lock holds a consistent map.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
