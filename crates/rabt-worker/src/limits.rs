//! Per-agency limits an agency's SLA asks for: at most so many calls in flight, at most
//! so many calls per second, **whatever the number of worker processes**.
//!
//! The state lives in the shared database ([`SharedLimits`]): a call first takes one of
//! the agency's concurrency slots (a row held with a lease, so a worker that dies gives
//! it back), then the rate's turn (a GCRA row, decided and taken in one statement),
//! right before the call. A task that has to wait, waits: it neither fails nor spends
//! an attempt, and its deadline still applies. Each worker process also keeps the
//! concurrency limit locally (a semaphore in `gate`), so that no more of its tasks than
//! that poll the database for a slot.

use std::num::NonZeroU32;
use std::time::Duration;

use rabt_core::{Agency, RateLimit};
use rabt_store::Store;
use tokio_util::sync::CancellationToken;

/// A breaker setting or a limit that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// `key` (its name in `[worker.breaker]` or `[worker.limits.<agency>]`) is wrong.
    #[error("`{key}` {problem}")]
    Invalid {
        /// The configuration key.
        key: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// One agency's limits; none by default (then only the prefetch bounds its calls).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgencyLimits {
    concurrency: Option<NonZeroU32>,
    rate: Option<Rate>,
}

impl AgencyLimits {
    /// Checked limits: `concurrency` calls in flight at most; `rate_per_second` calls
    /// per second at most, with bursts of `burst` calls (default 1: calls evenly
    /// spaced). A limit left out is no limit. Errors name the `[worker.limits.<agency>]`
    /// key at fault.
    pub fn try_new(
        concurrency: Option<u32>,
        rate_per_second: Option<f64>,
        burst: Option<u32>,
    ) -> Result<AgencyLimits, SettingsError> {
        let invalid = |key, problem| SettingsError::Invalid { key, problem };
        let concurrency = concurrency
            .map(|n| NonZeroU32::new(n).ok_or(invalid("concurrency", "must be at least 1")))
            .transpose()?;
        let rate = match (rate_per_second, burst) {
            (None, None) => None,
            (None, Some(_)) => return Err(invalid("burst", "needs rate_per_second")),
            (Some(per_second), burst) => {
                // At most 10,000 calls per second: more is no limit, and the spacing of
                // calls stays a tenth of a millisecond or more.
                if !(per_second > 0.0 && per_second <= 10_000.0) {
                    return Err(invalid(
                        "rate_per_second",
                        "must be above 0 and at most 10000",
                    ));
                }
                let burst = burst.unwrap_or(1);
                if burst == 0 || burst > RateLimit::MAX_BURST {
                    return Err(invalid("burst", "must be from 1 to 100000"));
                }
                let shared = shared_rate(per_second, burst).ok_or(invalid(
                    "rate_per_second",
                    "must be at least one call an hour (0.0003)",
                ))?;
                Some(Rate {
                    per_second,
                    burst,
                    shared,
                })
            }
        };
        Ok(AgencyLimits { concurrency, rate })
    }

    /// The most calls in flight, if limited.
    pub fn concurrency(&self) -> Option<NonZeroU32> {
        self.concurrency
    }

    /// The rate limit, if any.
    pub fn rate(&self) -> Option<Rate> {
        self.rate
    }
}

/// A rate limit: calls per second, and how many may go at once after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
    burst: u32,
    shared: RateLimit,
}

impl Rate {
    /// Calls per second.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Calls that may go back to back.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// As the shared rate limit: so many calls an hour (whole calls), the same burst.
    fn as_rate_limit(&self) -> RateLimit {
        self.shared
    }
}

/// `per_second` and `burst` as a shared rate limit of whole calls per hour.
fn shared_rate(per_second: f64, burst: u32) -> Option<RateLimit> {
    let per_hour = (per_second * 3600.0).round();
    if !(1.0..=36_000_000.0).contains(&per_hour) {
        return None;
    }
    RateLimit::new(per_hour as u32, rabt_core::limit::Period::Hour, burst).ok()
}

/// An agency's limits shared by every worker process through the database.
#[derive(Debug)]
pub(crate) struct SharedLimits {
    store: Store,
    agency: Agency,
    /// This worker process, as the holder of the slots it takes.
    holder: String,
    concurrency: Option<u32>,
    rate: Option<RateLimit>,
    /// How long a slot is held before another worker may take it (its holder died).
    lease: Duration,
}

/// A concurrency slot held for one call; given back when dropped.
#[derive(Debug)]
pub(crate) struct SharedSlot {
    store: Store,
    agency: Agency,
    slot: i64,
    holder: String,
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        let (store, agency, slot, holder) = (
            self.store.clone(),
            self.agency,
            self.slot,
            std::mem::take(&mut self.holder),
        );
        // Dropping cannot wait: the release runs on its own. If it fails (the database
        // is down), the slot is free again when its lease runs out.
        tokio::spawn(async move {
            if let Err(err) = store.release_agency_slot(agency, slot, &holder).await {
                tracing::debug!(%agency, %err, "cannot give an agency slot back; its lease will");
            }
        });
    }
}

/// The longest pause between two looks for a free slot.
const SLOT_POLL_MAX: Duration = Duration::from_millis(200);

impl SharedLimits {
    /// `limits` of `agency` shared through `store`, held by `holder`; `None` when the
    /// agency has no limit. Calls take at most `call_timeout`.
    pub(crate) fn new(
        store: Store,
        agency: Agency,
        holder: &str,
        limits: &AgencyLimits,
        call_timeout: Duration,
    ) -> Option<SharedLimits> {
        let concurrency = limits.concurrency().map(NonZeroU32::get);
        let rate = limits.rate().map(|r| r.as_rate_limit());
        if concurrency.is_none() && rate.is_none() {
            return None;
        }
        // A slot is held through the wait for the rate's turn and the call itself: at
        // most `concurrency` calls wait for turns, so the wait is bounded by that many
        // intervals; then the call's timeout, and a margin.
        let turns = rate.map_or(Duration::ZERO, |rate| {
            Duration::from_micros(rate.interval_us().unsigned_abs()) * concurrency.unwrap_or(1)
        });
        Some(SharedLimits {
            store,
            agency,
            holder: holder.to_owned(),
            concurrency,
            rate,
            lease: call_timeout + turns + Duration::from_secs(10),
        })
    }

    /// Waits for a concurrency slot (if limited), then for the rate's turn (if
    /// limited). `None` when `stop` comes first (the call must not be made then).
    pub(crate) async fn wait_turn(&self, stop: &CancellationToken) -> Option<Option<SharedSlot>> {
        let slot = match self.concurrency {
            Some(slots) => Some(self.slot(slots, stop).await?),
            None => None,
        };
        if let Some(rate) = self.rate {
            self.turn(&rate, stop).await?;
        }
        Some(slot)
    }

    async fn slot(&self, slots: u32, stop: &CancellationToken) -> Option<SharedSlot> {
        let mut pause = Duration::from_millis(10);
        loop {
            match self
                .store
                .acquire_agency_slot(self.agency, slots, &self.holder, self.lease)
                .await
            {
                Ok(Some(slot)) => {
                    return Some(SharedSlot {
                        store: self.store.clone(),
                        agency: self.agency,
                        slot,
                        holder: self.holder.clone(),
                    });
                }
                Ok(None) => pause = (pause * 2).min(SLOT_POLL_MAX),
                Err(err) => {
                    tracing::warn!(agency = %self.agency, %err, "cannot take an agency slot; trying again");
                    pause = Duration::from_millis(500);
                }
            }
            tokio::select! {
                biased;
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn turn(&self, rate: &RateLimit, stop: &CancellationToken) -> Option<()> {
        let key = format!("agency:{}", self.agency);
        loop {
            let pause = match self.store.take_rate(&key, rate).await {
                Ok(decision) if decision.allowed => return Some(()),
                // At least a millisecond, so that a caller makes progress.
                Ok(decision) => decision.retry_after.max(Duration::from_millis(1)),
                Err(err) => {
                    tracing::warn!(agency = %self.agency, %err, "cannot take the agency's rate; trying again");
                    Duration::from_millis(500)
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use rabt_core::limit::gcra;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn shared(per_second: f64, burst: u32) -> RateLimit {
        let limits = AgencyLimits::try_new(None, Some(per_second), Some(burst)).unwrap();
        limits.rate().unwrap().as_rate_limit()
    }

    #[test]
    fn the_shared_rate_is_the_configured_one() {
        let rate = shared(2.5, 1);
        assert_eq!((rate.interval_us(), rate.burst()), (400_000, 1));
        assert_eq!(shared(4.0, 2).interval_us(), 250_000);
        assert_eq!(shared(10_000.0, 5).interval_us(), 100);
    }

    #[test]
    fn limits_that_make_no_sense_are_refused_naming_the_key() {
        let key = |r: Result<AgencyLimits, SettingsError>| match r {
            Err(SettingsError::Invalid { key, .. }) => key,
            Ok(limits) => panic!("accepted {limits:?}"),
        };
        assert_eq!(
            key(AgencyLimits::try_new(Some(0), None, None)),
            "concurrency"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 10_001.0] {
            assert_eq!(
                key(AgencyLimits::try_new(None, Some(bad), None)),
                "rate_per_second"
            );
        }
        assert_eq!(
            key(AgencyLimits::try_new(None, Some(1.0), Some(0))),
            "burst"
        );
        assert_eq!(key(AgencyLimits::try_new(None, None, Some(2))), "burst");
        let none = AgencyLimits::try_new(None, None, None).unwrap();
        assert_eq!(none, AgencyLimits::default());
        let both = AgencyLimits::try_new(Some(4), Some(2.5), None).unwrap();
        assert_eq!(both.concurrency().map(NonZeroU32::get), Some(4));
        assert_eq!(
            both.rate().map(|r| (r.per_second(), r.burst())),
            Some((2.5, 1))
        );
    }

    /// Whatever the pattern of calls, no interval of length `t` sees more than
    /// `burst + rate × t` calls let through by the shared rate.
    #[test]
    fn no_interval_gets_more_than_burst_plus_rate_times_length() {
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            let per_second = rng.random_range(0.2..50.0);
            let burst = rng.random_range(1..5);
            let rate = shared(per_second, burst);
            let per_second = 1_000_000.0 / rate.interval_us() as f64;
            let mut tat = None;
            let mut granted = Vec::new();
            let mut now = 0i64;
            for _ in 0..300 {
                now += rng.random_range(0..200_000);
                if let Some(next) = gcra(&rate, tat, now) {
                    tat = Some(next);
                    granted.push(now);
                }
            }
            for (i, start) in granted.iter().enumerate() {
                for (j, end) in granted.iter().enumerate().skip(i) {
                    let calls = (j - i + 1) as f64;
                    let length = (end - start) as f64 / 1_000_000.0;
                    assert!(
                        calls <= f64::from(burst) + per_second * length + 1e-6,
                        "seed {seed}: {calls} calls in {length} s at {per_second}/s, burst {burst}"
                    );
                }
            }
        }
    }
}
