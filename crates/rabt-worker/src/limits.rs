//! Per-agency limits an agency's SLA asks for: at most so many calls in flight, at most
//! so many calls per second. The token bucket here is pure arithmetic over the caller's
//! clock; `gate` waits on it.
//!
//! The limits hold per worker process: with several worker processes serving one
//! agency, the agency sees up to their sum (docs/operations.md says so).

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

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
                if burst == 0 {
                    return Err(invalid("burst", "must be at least 1"));
                }
                Some(Rate { per_second, burst })
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
}

/// A token bucket: `burst` tokens at most, refilled at `per_second`; a call takes one.
/// Over any interval of length `t`, at most `burst + per_second × t` calls get a token.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: Rate,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// Float error (and waits rounded to the nanosecond) must not turn a token due now
    /// into another wait of a nanosecond: a millionth of a token is close enough.
    const EPSILON: f64 = 1e-6;

    /// A full bucket.
    pub(crate) fn new(rate: Rate) -> TokenBucket {
        TokenBucket {
            rate,
            tokens: f64::from(rate.burst),
            last: None,
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 - Self::EPSILON {
            self.tokens = (self.tokens - 1.0).max(0.0);
            return Ok(());
        }
        let missing = 1.0 - self.tokens;
        // At least a microsecond, so a caller sleeping on it makes progress.
        let wait = Duration::from_secs_f64(missing / self.rate.per_second);
        Err(wait.max(Duration::from_micros(1)))
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens =
                (self.tokens + elapsed * self.rate.per_second).min(f64::from(self.rate.burst));
        }
        // A clock that went back (an injected one) does not move `last` back.
        self.last = Some(self.last.map_or(now, |last| last.max(now)));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::sync::OnceLock;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn at(ms: u64) -> Instant {
        static START: OnceLock<Instant> = OnceLock::new();
        *START.get_or_init(Instant::now) + Duration::from_millis(ms)
    }

    fn bucket(per_second: f64, burst: u32) -> TokenBucket {
        let limits = AgencyLimits::try_new(None, Some(per_second), Some(burst)).unwrap();
        TokenBucket::new(limits.rate().unwrap())
    }

    /// The wait, to the microsecond (it comes from float arithmetic).
    fn wait_ms(taken: Result<(), Duration>) -> f64 {
        let wait = taken.expect_err("a wait");
        (wait.as_secs_f64() * 1_000_000.0).round() / 1000.0
    }

    #[test]
    fn a_full_bucket_gives_its_burst_then_spaces_calls() {
        let mut b = bucket(4.0, 2);
        assert_eq!(b.take(at(0)), Ok(()));
        assert_eq!(b.take(at(0)), Ok(()));
        assert_eq!(wait_ms(b.take(at(0))), 250.0);
        assert_eq!(wait_ms(b.take(at(100))), 150.0);
        assert_eq!(b.take(at(250)), Ok(()));
        assert_eq!(wait_ms(b.take(at(250))), 250.0);
    }

    #[test]
    fn a_quiet_spell_refills_no_more_than_the_burst() {
        let mut b = bucket(10.0, 3);
        for _ in 0..3 {
            b.take(at(0)).unwrap();
        }
        // An hour later: three tokens, not 36,000.
        for _ in 0..3 {
            assert_eq!(b.take(at(3_600_000)), Ok(()));
        }
        assert!(b.take(at(3_600_000)).is_err());
    }

    #[test]
    fn slow_rates_wait_seconds() {
        let mut b = bucket(0.5, 1);
        b.take(at(0)).unwrap();
        assert_eq!(wait_ms(b.take(at(0))), 2_000.0);
        assert_eq!(wait_ms(b.take(at(1_500))), 500.0);
        assert_eq!(b.take(at(2_000)), Ok(()));
    }

    #[test]
    fn waiting_exactly_the_wait_given_gets_a_token() {
        let mut b = bucket(3.0, 1);
        let mut now = at(0);
        for _ in 0..100 {
            match b.take(now) {
                Ok(()) => {}
                Err(wait) => {
                    now += wait;
                    assert_eq!(b.take(now), Ok(()), "the wait was enough");
                }
            }
        }
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
    /// `burst + rate × t` tokens handed out.
    #[test]
    fn no_interval_gets_more_than_burst_plus_rate_times_length() {
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            let per_second = rng.random_range(0.2..50.0);
            let burst = rng.random_range(1..5);
            let mut b = bucket(per_second, burst);
            let mut granted = Vec::new();
            let mut now = 0u64;
            for _ in 0..300 {
                now += rng.random_range(0..200);
                if b.take(at(now)).is_ok() {
                    granted.push(now);
                }
            }
            for (i, start) in granted.iter().enumerate() {
                for (j, end) in granted.iter().enumerate().skip(i) {
                    let calls = (j - i + 1) as f64;
                    let length = (end - start) as f64 / 1000.0;
                    assert!(
                        calls <= f64::from(burst) + per_second * length + 1e-6,
                        "seed {seed}: {calls} calls in {length} s at {per_second}/s, burst {burst}"
                    );
                }
            }
        }
    }
}
