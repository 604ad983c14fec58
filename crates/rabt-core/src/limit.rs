//! Rate limits as operators write them (`5/s`, `300/m`, `10000/h`) and as the generic
//! cell rate algorithm (GCRA) uses them: one call per emission interval, with up to
//! `burst` calls back to back after a quiet spell. Over any interval of length `t`, at
//! most `burst + t / interval` calls get through.

use std::fmt;
use std::time::Duration;

/// A rate limit: `events` per `period`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    events: u32,
    period: Period,
    burst: u32,
}

/// The period a rate is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// `/s`
    Second,
    /// `/m`
    Minute,
    /// `/h`
    Hour,
}

impl Period {
    /// Its length.
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Period::Second => 1,
            Period::Minute => 60,
            Period::Hour => 3600,
        })
    }

    fn suffix(self) -> &'static str {
        match self {
            Period::Second => "s",
            Period::Minute => "m",
            Period::Hour => "h",
        }
    }
}

/// Why a rate limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// Not `N/s`, `N/m` or `N/h`.
    #[error("`{0}` is not a rate: write it as N/s, N/m or N/h (e.g. 5/s)")]
    Syntax(String),
    /// Zero, or faster than [`RateLimit::MAX_PER_SECOND`].
    #[error("a rate must be at least 1 per hour and at most 10000/s")]
    OutOfRange,
    /// A burst of 0 or above [`RateLimit::MAX_BURST`].
    #[error("a burst must be from 1 to 100000")]
    Burst,
}

impl RateLimit {
    /// The fastest rate allowed: more is no limit.
    pub const MAX_PER_SECOND: u32 = 10_000;
    /// The largest burst.
    pub const MAX_BURST: u32 = 100_000;

    /// `events` per `period` with bursts of `burst`.
    pub fn new(events: u32, period: Period, burst: u32) -> Result<RateLimit, RateLimitError> {
        let per_second = f64::from(events) / period.duration().as_secs_f64();
        if events == 0 || per_second > f64::from(RateLimit::MAX_PER_SECOND) {
            return Err(RateLimitError::OutOfRange);
        }
        if burst == 0 || burst > RateLimit::MAX_BURST {
            return Err(RateLimitError::Burst);
        }
        Ok(RateLimit {
            events,
            period,
            burst,
        })
    }

    /// Parses `5/s`, `300/m` or `10000/h`, with `burst`.
    pub fn parse(text: &str, burst: u32) -> Result<RateLimit, RateLimitError> {
        let syntax = || RateLimitError::Syntax(text.chars().take(32).collect());
        let (events, period) = text.trim().split_once('/').ok_or_else(syntax)?;
        let events: u32 = events.trim().parse().map_err(|_| syntax())?;
        let period = match period.trim() {
            "s" | "sec" | "second" => Period::Second,
            "m" | "min" | "minute" => Period::Minute,
            "h" | "hour" => Period::Hour,
            _ => return Err(syntax()),
        };
        RateLimit::new(events, period, burst)
    }

    /// Calls per period.
    pub fn events(&self) -> u32 {
        self.events
    }

    /// The period.
    pub fn period(&self) -> Period {
        self.period
    }

    /// Calls that may go back to back.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Calls per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.events) / self.period.duration().as_secs_f64()
    }

    /// The time one call uses up, in microseconds: the GCRA's emission interval.
    pub fn interval_us(&self) -> i64 {
        let period_us = i64::try_from(self.period.duration().as_micros()).unwrap_or(i64::MAX);
        (period_us / i64::from(self.events)).max(1)
    }

    /// How far ahead of now the next call's theoretical arrival may be, in
    /// microseconds, for a call to go: `burst` intervals.
    pub fn tolerance_us(&self) -> i64 {
        self.interval_us().saturating_mul(i64::from(self.burst))
    }

    /// The time a full burst takes to come back, rounded up to seconds (the window of
    /// the `RateLimit-Policy` header).
    pub fn window_seconds(&self) -> u64 {
        let us = u64::try_from(self.tolerance_us()).unwrap_or(u64::MAX);
        us.div_ceil(1_000_000).max(1)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} (burst {})",
            self.events,
            self.period.suffix(),
            self.burst
        )
    }
}

/// A rate limit's verdict on one call, from the GCRA's theoretical arrival time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the call goes.
    pub allowed: bool,
    /// Calls that could go right after this one.
    pub remaining: u32,
    /// Until the burst is whole again.
    pub reset: Duration,
    /// For a refused call: when one would go.
    pub retry_after: Duration,
}

impl RateDecision {
    /// The decision given the theoretical arrival time `tat_us` after the decision
    /// (advanced by this call if it went) and the time `now_us` it was made.
    pub fn from_tat(limit: &RateLimit, allowed: bool, tat_us: i64, now_us: i64) -> RateDecision {
        let interval = limit.interval_us();
        let ahead = (tat_us - now_us).max(0);
        let free = (limit.tolerance_us() - ahead).max(0) / interval;
        let retry_after = if allowed {
            Duration::ZERO
        } else {
            // The next call goes once its arrival would be within the tolerance.
            let wait = (ahead + interval - limit.tolerance_us()).max(0);
            Duration::from_micros(u64::try_from(wait).unwrap_or(0))
        };
        RateDecision {
            allowed,
            remaining: u32::try_from(free).unwrap_or(u32::MAX),
            reset: Duration::from_micros(u64::try_from(ahead).unwrap_or(0)),
            retry_after,
        }
    }
}

/// The pure GCRA step, for callers that keep the state themselves (and as the
/// reference the database statement implements): the new theoretical arrival time if
/// a call at `now_us` goes, or `None` if it must wait.
pub fn gcra(limit: &RateLimit, tat_us: Option<i64>, now_us: i64) -> Option<i64> {
    let next = tat_us.unwrap_or(now_us).max(now_us) + limit.interval_us();
    (next - now_us <= limit.tolerance_us()).then_some(next)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_operators_write_them() {
        let five = RateLimit::parse("5/s", 10).unwrap();
        assert_eq!(
            (five.events(), five.period(), five.burst()),
            (5, Period::Second, 10)
        );
        assert_eq!(five.interval_us(), 200_000);
        assert_eq!(five.window_seconds(), 2);
        assert_eq!(five.to_string(), "5/s (burst 10)");
        assert_eq!(RateLimit::parse("300/m", 1).unwrap().interval_us(), 200_000);
        assert_eq!(
            RateLimit::parse(" 3600 / h ", 1).unwrap().interval_us(),
            1_000_000
        );
        for bad in ["5", "5/d", "x/s", "-1/s", "", "5/s/s"] {
            assert!(
                matches!(RateLimit::parse(bad, 1), Err(RateLimitError::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(RateLimit::parse("0/s", 1), Err(RateLimitError::OutOfRange));
        assert_eq!(
            RateLimit::parse("10001/s", 1),
            Err(RateLimitError::OutOfRange)
        );
        assert_eq!(RateLimit::parse("5/s", 0), Err(RateLimitError::Burst));
    }

    /// Whatever the arrivals, no interval of length t lets more than burst + t/interval
    /// calls through, and a steady caller above the rate gets the rate.
    #[test]
    fn gcra_holds_its_bound() {
        let limit = RateLimit::parse("5/s", 3).unwrap();
        let mut tat = None;
        let mut allowed = Vec::new();
        // A call every 50 ms for 10 s (20/s offered).
        for i in 0..200 {
            let now = i * 50_000;
            if let Some(next) = gcra(&limit, tat, now) {
                tat = Some(next);
                allowed.push(now);
            }
        }
        assert!((50..=53).contains(&allowed.len()), "{}", allowed.len());
        for (i, start) in allowed.iter().enumerate() {
            for (j, end) in allowed.iter().enumerate().skip(i) {
                let calls = (j - i + 1) as i64;
                assert!(
                    calls <= 3 + (end - start) / 200_000 + 1,
                    "{calls} in {}",
                    end - start
                );
            }
        }
    }

    #[test]
    fn decisions_say_what_is_left_and_when_to_come_back() {
        let limit = RateLimit::parse("5/s", 2).unwrap();
        let first = gcra(&limit, None, 0).unwrap();
        let d = RateDecision::from_tat(&limit, true, first, 0);
        assert_eq!((d.remaining, d.reset), (1, Duration::from_millis(200)));
        let second = gcra(&limit, Some(first), 0).unwrap();
        assert_eq!(RateDecision::from_tat(&limit, true, second, 0).remaining, 0);
        assert_eq!(gcra(&limit, Some(second), 0), None);
        let refused = RateDecision::from_tat(&limit, false, second, 0);
        assert_eq!(refused.retry_after, Duration::from_millis(200));
        assert_eq!(gcra(&limit, Some(second), 200_000), Some(second + 200_000));
    }
}
