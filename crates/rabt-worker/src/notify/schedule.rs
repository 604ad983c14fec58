//! When a notification that failed is tried again: a schedule of waits growing
//! roughly exponentially over hours (a receiver down overnight still gets its
//! notifications), each wait jittered so that the notifications that failed together
//! during an outage do not all come back at the same second.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// How much a wait may differ from the schedule, either way.
const JITTER: f64 = 0.2;

/// The waits between attempts: attempt `n + 1` comes `delays[n - 1]` (± 20 %) after
/// attempt `n` failed; after the last, the notification has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    /// Ten attempts over about 31 hours (Standard Webhooks suggests retrying for a day
    /// or more): at once, then after 10 s, 1 min, 5 min, 30 min, 1 h, 2 h, 4 h, 8 h and
    /// 16 h.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        RetrySchedule {
            delays: vec![
                Duration::from_secs(10),
                minutes(1),
                minutes(5),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
                minutes(480),
                minutes(960),
            ],
        }
    }
}

impl RetrySchedule {
    /// A schedule of these waits; empty means a single attempt.
    pub fn new(delays: Vec<Duration>) -> RetrySchedule {
        RetrySchedule { delays }
    }

    /// The waits.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// How many attempts a notification gets.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The sum of the waits: roughly how long a receiver may be down before a
    /// notification fails.
    pub fn span(&self) -> Duration {
        self.delays.iter().sum()
    }

    /// When to try again after attempt `attempt` (from 1) failed at `now`, no sooner
    /// than `at_least` after it (a receiver's `Retry-After`); `None` once the schedule
    /// is exhausted.
    pub fn next_after(
        &self,
        attempt: u32,
        now: DateTime<Utc>,
        at_least: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Option<DateTime<Utc>> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        let base = *self.delays.get(index)?;
        let factor = rng.random_range((1.0 - JITTER)..=(1.0 + JITTER));
        // No Retry-After from the receiver: no lower bound (zero) over the schedule's wait.
        let wait = base.mul_f64(factor).max(at_least.unwrap_or_default());
        let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        Some(
            now.checked_add_signed(wait)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn the_default_retries_ten_times_over_a_day_or_more() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 10);
        let hours = schedule.span().as_secs_f64() / 3600.0;
        assert!((24.0..=75.0).contains(&hours), "{hours} h");
        assert!(
            schedule.delays().windows(2).all(|w| w[0] < w[1]),
            "waits grow"
        );
    }

    #[test]
    fn waits_are_jittered_within_a_fifth_and_end_with_the_schedule() {
        let schedule =
            RetrySchedule::new(vec![Duration::from_secs(100), Duration::from_secs(1000)]);
        let now = Utc::now();
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let next = schedule.next_after(1, now, None, &mut rng).unwrap();
            let wait = (next - now).num_milliseconds();
            assert!((80_000..=120_000).contains(&wait), "{wait}");
            seen.insert(wait / 1000);
            let second = schedule.next_after(2, now, None, &mut rng).unwrap();
            assert!((800_000..=1_200_000).contains(&(second - now).num_milliseconds()));
        }
        assert!(seen.len() > 10, "jitter spreads retries: {seen:?}");
        assert_eq!(schedule.next_after(3, now, None, &mut rng), None);
        assert_eq!(schedule.next_after(0, now, None, &mut rng), None);
        assert_eq!(RetrySchedule::new(vec![]).attempts(), 1);
    }

    #[test]
    fn a_retry_after_longer_than_the_wait_is_honoured() {
        let schedule = RetrySchedule::new(vec![Duration::from_secs(10)]);
        let now = Utc::now();
        let mut rng = StdRng::seed_from_u64(1);
        let next = schedule
            .next_after(1, now, Some(Duration::from_secs(600)), &mut rng)
            .unwrap();
        assert_eq!((next - now).num_seconds(), 600);
        let short = schedule
            .next_after(1, now, Some(Duration::from_secs(1)), &mut rng)
            .unwrap();
        assert!((next - short).num_seconds() > 500);
    }
}
