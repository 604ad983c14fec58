//! Capped exponential backoff with full jitter, for the reconnect loop and for
//! re-opening consumers.
//!
//! Full jitter (a uniform draw in `[0, min(cap, base·2^n)]`) spreads the reconnects of
//! many processes after a broker restart instead of having them all knock at once
//! (AWS Architecture Blog, "Exponential Backoff And Jitter").

use std::time::Duration;

/// The first retry waits up to this long.
const BASE: Duration = Duration::from_millis(100);
/// No retry waits longer than this, so a recovered broker is found within seconds.
const CAP: Duration = Duration::from_secs(5);

/// The upper bound of the wait before retry number `attempt` (0-based).
pub(crate) fn ceiling(attempt: u32) -> Duration {
    // 2^6 · 100 ms already passes the cap; clamping the exponent avoids overflow.
    let factor = 1u32 << attempt.min(16);
    BASE.saturating_mul(factor).min(CAP)
}

/// The wait before retry number `attempt`: uniform in `[ceiling/10, ceiling]` — mostly
/// full jitter, with a small floor so that a flapping broker is never hammered in a
/// tight loop.
pub(crate) fn delay(attempt: u32) -> Duration {
    let ceiling = ceiling(attempt);
    let floor = ceiling / 10;
    let span = ceiling.saturating_sub(floor).as_millis();
    let span = u64::try_from(span).unwrap_or(u64::MAX);
    floor + Duration::from_millis(rand::random_range(0..=span))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_then_stays_at_the_cap() {
        assert_eq!(ceiling(0), Duration::from_millis(100));
        assert_eq!(ceiling(1), Duration::from_millis(200));
        assert_eq!(ceiling(4), Duration::from_millis(1_600));
        assert_eq!(ceiling(6), CAP);
        assert_eq!(ceiling(u32::MAX), CAP);
    }

    #[test]
    fn every_delay_lies_between_a_tenth_of_the_ceiling_and_the_ceiling() {
        for attempt in [0, 1, 2, 5, 10, 40, u32::MAX] {
            for _ in 0..200 {
                let d = delay(attempt);
                assert!(d <= ceiling(attempt), "{d:?} above ceiling at {attempt}");
                assert!(d >= ceiling(attempt) / 10, "{d:?} below floor at {attempt}");
            }
        }
    }
}
