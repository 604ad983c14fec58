//! Verified API keys kept in memory for a short bound, so that authenticating a request
//! is not a query (issue 12).
//!
//! An entry is trusted only while three things hold: it is younger than the bound
//! (`api.key_cache_ttl_ms`), its key's own end (a rotation's overlap) has not come, and
//! the *key generation* it was cached under is still the current one. The generation is
//! a counter in the database that every change able to make an entry wrong increments
//! in its own transaction (a key revoked or rotated, a cooperative deactivated,
//! reactivated or given other services; see `lifecycle`). A process reads it at most
//! every [`GENERATION_CHECK`], so another process's change is seen within that; this
//! process's own changes empty the cache at once ([`KeyCache::invalidate`]).
//!
//! Why a polled counter and not PostgreSQL's LISTEN/NOTIFY: it costs one primary-key
//! read per process and interval whatever the load, needs no dedicated connection, has
//! no window in which a dropped listener loses a notification, and works the same on
//! SQLite. Its price is the interval: a revocation elsewhere takes up to a quarter of a
//! second to reach this process.
//!
//! Only valid keys of active cooperatives are cached. An unknown, revoked or expired key
//! is never remembered: each attempt with one is looked up again. Looking a digest up in
//! a hash map leaks, through timing, at most how much of a SHA-256 digest matches a
//! stored one, which says nothing about a key that hashes to it (the same holds of the
//! database's index, which was the lookup before).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::cooperatives::Cooperative;

/// The longest the key generation goes unread while the cache is used: how long a key
/// revoked by another process may still be accepted here.
pub const GENERATION_CHECK: Duration = Duration::from_millis(250);
/// The most keys kept; reaching it empties the cache (memory stays bounded whatever
/// callers send, and a deployment has far fewer valid keys than this).
const MAX_ENTRIES: usize = 10_000;

/// The cache of one [`crate::Store`] (shared by its clones).
#[derive(Debug)]
pub(crate) struct KeyCache {
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Incremented by [`KeyCache::invalidate`]: a lookup that began before it must not
    /// store what it read.
    epoch: u64,
    /// The newest generation read, and when the read began; `None` after an
    /// invalidation (read it again before trusting anything).
    generation: Option<(i64, Instant)>,
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    holder: Cooperative,
    generation: i64,
    cached_at: Instant,
    key_ends_at: Option<DateTime<Utc>>,
}

/// What a lookup saw when it began; given back to [`KeyCache::put`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookup {
    epoch: u64,
}

impl KeyCache {
    /// A cache keeping entries for `ttl`; zero turns it off (every lookup is a query).
    pub(crate) fn new(ttl: Duration) -> KeyCache {
        KeyCache {
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Starts a lookup.
    pub(crate) fn begin(&self) -> Lookup {
        Lookup {
            epoch: self.lock().epoch,
        }
    }

    /// The current generation if it was read recently enough to trust.
    pub(crate) fn fresh_generation(&self, now: Instant) -> Option<i64> {
        let within = GENERATION_CHECK.min(self.ttl);
        self.lock()
            .generation
            .filter(|(_, read_at)| now.saturating_duration_since(*read_at) < within)
            .map(|(generation, _)| generation)
    }

    /// Records a generation read that began at `read_at`. The counter only grows, so an
    /// older read finishing late never replaces a newer one.
    pub(crate) fn set_generation(&self, lookup: Lookup, generation: i64, read_at: Instant) {
        let mut state = self.lock();
        if state.epoch != lookup.epoch {
            return;
        }
        match state.generation {
            Some((known, _)) if known > generation => {}
            _ => state.generation = Some((generation, read_at)),
        }
    }

    /// The cached holder of the key with this digest, if its entry can be trusted under
    /// `generation` at `now`.
    pub(crate) fn get(
        &self,
        digest: &str,
        generation: i64,
        now: Instant,
        wall: DateTime<Utc>,
    ) -> Option<Cooperative> {
        let state = self.lock();
        let entry = state.entries.get(digest)?;
        let trusted = entry.generation == generation
            && now.saturating_duration_since(entry.cached_at) < self.ttl
            && entry.key_ends_at.is_none_or(|end| end > wall);
        trusted.then(|| entry.holder.clone())
    }

    /// Caches a valid key's active holder, read under `generation` by a lookup that
    /// began as `lookup` (dropped if the cache was invalidated since).
    pub(crate) fn put(
        &self,
        lookup: Lookup,
        digest: &str,
        holder: Cooperative,
        generation: i64,
        key_ends_at: Option<DateTime<Utc>>,
        now: Instant,
    ) {
        let mut state = self.lock();
        if state.epoch != lookup.epoch || !holder.active {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES {
            state.entries.clear();
        }
        let entry = Entry {
            holder,
            generation,
            cached_at: now,
            key_ends_at,
        };
        state.entries.insert(digest.to_owned(), entry);
    }

    /// Forgets every entry and the generation: this process changed credentials, so
    /// its next lookups go to the database.
    pub(crate) fn invalidate(&self) {
        let mut state = self.lock();
        state.epoch += 1;
        state.generation = None;
        state.entries.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every operation leaves the state consistent before it can panic, so a poisoned
        // lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn holder(active: bool) -> Cooperative {
        Cooperative {
            id: rabt_core::CooperativeId::new(),
            name: "Al-Nakheel".to_owned(),
            unified_number: rabt_core::UnifiedNumber::parse("7000000001").unwrap(),
            services: BTreeSet::new(),
            active,
            created_at: Utc::now(),
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn an_entry_holds_for_its_generation_its_bound_and_its_keys_end() {
        let cache = KeyCache::new(5 * SECOND);
        let t0 = Instant::now();
        let wall = Utc::now();
        let lookup = cache.begin();
        cache.put(lookup, "d", holder(true), 7, None, t0);
        assert!(cache.get("d", 7, t0 + SECOND, wall).is_some());
        assert!(
            cache.get("d", 8, t0 + SECOND, wall).is_none(),
            "generation moved"
        );
        assert!(
            cache.get("d", 7, t0 + 5 * SECOND, wall).is_none(),
            "past the bound"
        );
        assert!(cache.get("other", 7, t0, wall).is_none());

        let ends = wall + chrono::Duration::seconds(2);
        cache.put(cache.begin(), "e", holder(true), 7, Some(ends), t0);
        assert!(cache.get("e", 7, t0, wall).is_some());
        let later = wall + chrono::Duration::seconds(3);
        assert!(cache.get("e", 7, t0, later).is_none(), "the key ended");
    }

    #[test]
    fn inactive_holders_are_not_cached() {
        let cache = KeyCache::new(5 * SECOND);
        let t0 = Instant::now();
        cache.put(cache.begin(), "d", holder(false), 1, None, t0);
        assert!(cache.get("d", 1, t0, Utc::now()).is_none());
    }

    #[test]
    fn an_invalidation_forgets_everything_and_what_was_read_before_it() {
        let cache = KeyCache::new(5 * SECOND);
        let t0 = Instant::now();
        let before = cache.begin();
        cache.set_generation(before, 3, t0);
        cache.put(before, "d", holder(true), 3, None, t0);
        assert_eq!(cache.fresh_generation(t0), Some(3));
        cache.invalidate();
        assert_eq!(cache.fresh_generation(t0), None);
        assert!(cache.get("d", 3, t0, Utc::now()).is_none());
        // A lookup that began before the invalidation finishes after it: dropped.
        cache.set_generation(before, 3, t0);
        cache.put(before, "d", holder(true), 3, None, t0);
        assert_eq!(cache.fresh_generation(t0), None);
        assert!(cache.get("d", 3, t0, Utc::now()).is_none());
    }

    #[test]
    fn the_generation_is_read_again_after_the_check_interval_and_never_goes_back() {
        let cache = KeyCache::new(5 * SECOND);
        let t0 = Instant::now();
        cache.set_generation(cache.begin(), 4, t0);
        assert_eq!(cache.fresh_generation(t0 + GENERATION_CHECK / 2), Some(4));
        assert_eq!(cache.fresh_generation(t0 + GENERATION_CHECK), None);
        cache.set_generation(cache.begin(), 3, t0);
        assert_eq!(cache.fresh_generation(t0), Some(4), "an older read lost");
    }

    #[test]
    fn a_zero_bound_turns_the_cache_off() {
        assert!(!KeyCache::new(Duration::ZERO).enabled());
        assert!(KeyCache::new(SECOND).enabled());
    }
}
