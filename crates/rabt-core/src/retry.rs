//! How often and how patiently a task is retried after a transient failure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A retry policy that does not make sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid retry policy: {0}")]
pub struct InvalidRetryPolicy(&'static str);

/// Exponential backoff with jitter, bounded in attempts and in delay.
///
/// Serialised in the catalogue as
/// `{"maxAttempts": 5, "initialBackoffMs": 500, "maxBackoffMs": 30000, "multiplier": 2.0}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRetryPolicy", into = "RawRetryPolicy")]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRetryPolicy {
    max_attempts: u32,
    initial_backoff_ms: u64,
    max_backoff_ms: u64,
    multiplier: f64,
}

impl RetryPolicy {
    /// A policy; `max_attempts` counts the first call, so 1 means "never retry".
    pub fn try_new(
        max_attempts: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
        multiplier: f64,
    ) -> Result<Self, InvalidRetryPolicy> {
        if max_attempts == 0 {
            return Err(InvalidRetryPolicy("maxAttempts must be at least 1"));
        }
        if max_attempts > 100 {
            return Err(InvalidRetryPolicy("maxAttempts must be at most 100"));
        }
        if initial_backoff.is_zero() {
            return Err(InvalidRetryPolicy("initialBackoffMs must be positive"));
        }
        if max_backoff < initial_backoff {
            return Err(InvalidRetryPolicy(
                "maxBackoffMs must be at least initialBackoffMs",
            ));
        }
        if !(1.0..=10.0).contains(&multiplier) {
            return Err(InvalidRetryPolicy("multiplier must be between 1 and 10"));
        }
        Ok(Self {
            max_attempts,
            initial_backoff,
            max_backoff,
            multiplier,
        })
    }

    /// How many calls in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether another attempt may follow attempt number `attempt` (1-based).
    pub fn allows_another_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The ceiling of the wait after attempt number `attempt` (1-based) failed:
    /// `initial × multiplier^(attempt-1)`, at most the maximum backoff.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let scaled = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let capped = scaled.min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(capped)
    }

    /// The wait after attempt `attempt` failed, with "equal jitter": half the base
    /// delay plus a random share of the other half, so retries of many tasks that
    /// failed together spread out but never come sooner than half the base.
    /// `jitter` is a random number in `[0, 1)`. An agency's `Retry-After` is a floor.
    pub fn delay(&self, attempt: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let base = self.base_delay(attempt);
        let jitter = jitter.clamp(0.0, 1.0);
        let delay = base.mul_f64(0.5 + 0.5 * jitter);
        match retry_after {
            Some(floor) if floor > delay => floor,
            _ => delay,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            multiplier: 2.0,
        }
    }
}

impl TryFrom<RawRetryPolicy> for RetryPolicy {
    type Error = InvalidRetryPolicy;
    fn try_from(raw: RawRetryPolicy) -> Result<Self, Self::Error> {
        RetryPolicy::try_new(
            raw.max_attempts,
            Duration::from_millis(raw.initial_backoff_ms),
            Duration::from_millis(raw.max_backoff_ms),
            raw.multiplier,
        )
    }
}

impl From<RetryPolicy> for RawRetryPolicy {
    fn from(p: RetryPolicy) -> Self {
        RawRetryPolicy {
            max_attempts: p.max_attempts,
            initial_backoff_ms: p.initial_backoff.as_millis() as u64,
            max_backoff_ms: p.max_backoff.as_millis() as u64,
            multiplier: p.multiplier,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::try_new(6, Duration::from_millis(100), Duration::from_secs(2), 2.0).unwrap()
    }

    #[test]
    fn base_delay_grows_then_caps() {
        let p = policy();
        let delays: Vec<u128> = (1..=7).map(|a| p.base_delay(a).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(p.base_delay(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn jittered_delay_stays_within_half_and_whole_base() {
        let p = policy();
        for attempt in 1..=10 {
            let base = p.base_delay(attempt);
            for step in 0..=20 {
                let jitter = f64::from(step) / 20.0;
                let d = p.delay(attempt, jitter, None);
                assert!(
                    d >= base / 2 && d <= base,
                    "attempt {attempt} jitter {jitter}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn retry_after_is_a_floor() {
        let p = policy();
        assert_eq!(
            p.delay(1, 0.0, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            p.delay(5, 1.0, Some(Duration::from_millis(1))),
            Duration::from_millis(1600)
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let p = policy();
        assert!(p.allows_another_after(5));
        assert!(!p.allows_another_after(6));
    }

    #[test]
    fn nonsense_policies_are_rejected() {
        let ms = Duration::from_millis;
        assert!(RetryPolicy::try_new(0, ms(1), ms(1), 2.0).is_err());
        assert!(RetryPolicy::try_new(3, ms(0), ms(1), 2.0).is_err());
        assert!(RetryPolicy::try_new(3, ms(10), ms(1), 2.0).is_err());
        assert!(RetryPolicy::try_new(3, ms(1), ms(10), 0.5).is_err());
    }

    #[test]
    fn catalogue_form_round_trips() {
        let json =
            r#"{"maxAttempts":4,"initialBackoffMs":250,"maxBackoffMs":8000,"multiplier":3.0}"#;
        let p: RetryPolicy = serde_json::from_str(json).unwrap();
        assert_eq!(p.max_attempts(), 4);
        assert_eq!(serde_json::to_string(&p).unwrap(), json);
        let bad =
            r#"{"maxAttempts":0,"initialBackoffMs":250,"maxBackoffMs":8000,"multiplier":3.0}"#;
        assert!(serde_json::from_str::<RetryPolicy>(bad).is_err());
    }
}
