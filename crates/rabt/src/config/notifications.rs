//! `[notifications]`: the notifier of worker processes and the SSRF rules of notify
//! URLs (also applied by the API when it accepts a request).

use std::time::Duration;

use anyhow::{anyhow, bail};
use rabt_worker::{NotifierSettings, RetrySchedule};
use serde::Deserialize;

/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most attempts a notification may get.
const MAX_ATTEMPTS: usize = 30;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotifications {
    allow_private_targets: bool,
    timeout_ms: u64,
    schedule: Vec<String>,
    poll_ms: u64,
    batch_size: u32,
}

/// Validates `[notifications]`.
pub(super) fn settings(raw: &RawNotifications) -> anyhow::Result<NotifierSettings> {
    if !(1..=60_000).contains(&raw.timeout_ms) {
        bail!("`notifications.timeout_ms` must be between 1 and 60000");
    }
    if raw.poll_ms == 0 {
        bail!("`notifications.poll_ms` must be positive");
    }
    if !(1..=100).contains(&raw.batch_size) {
        bail!("`notifications.batch_size` must be between 1 and 100");
    }
    if raw.schedule.len() >= MAX_ATTEMPTS {
        bail!(
            "`notifications.schedule` allows at most {} waits ({MAX_ATTEMPTS} attempts)",
            MAX_ATTEMPTS - 1
        );
    }
    let delays = raw
        .schedule
        .iter()
        .map(|text| wait(text).map_err(|why| anyhow!("`notifications.schedule`: `{text}`: {why}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(NotifierSettings {
        allow_private_targets: raw.allow_private_targets,
        timeout: Duration::from_millis(raw.timeout_ms),
        schedule: RetrySchedule::new(delays),
        poll_interval: Duration::from_millis(raw.poll_ms),
        batch_size: raw.batch_size,
    })
}

/// A wait such as `500ms`, `10s`, `5m` or `16h`: positive, at most a week.
fn wait(text: &str) -> Result<Duration, &'static str> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("needs a unit (ms, s, m or h)")?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| "must start with a whole number")?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err("the unit must be ms, s, m or h"),
    };
    let wait = Duration::from_millis(number.saturating_mul(unit_ms));
    if wait.is_zero() || wait > MAX_WAIT {
        return Err("must be positive and at most a week (168h)");
    }
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_with_their_unit() {
        assert_eq!(wait("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(wait("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(wait("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(wait(" 16h "), Ok(Duration::from_secs(16 * 3600)));
        for bad in ["10", "s", "1.5h", "0s", "169h", "10d", "-1s", ""] {
            assert!(wait(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_defaults_retry_for_a_day_and_refuse_private_targets() {
        let config = crate::config::Config::from_sources(None, &[]).unwrap();
        let n = &config.notifications;
        assert!(!n.allow_private_targets);
        assert_eq!(n.schedule, RetrySchedule::default());
        assert_eq!(n.timeout, Duration::from_secs(10));
    }

    #[test]
    fn the_file_sets_them_and_mistakes_are_named() {
        let file =
            "[notifications]\nallow_private_targets = true\nschedule = [\"100ms\", \"2s\"]\n";
        let config = crate::config::Config::from_sources(Some(file), &[]).unwrap();
        assert!(config.notifications.allow_private_targets);
        assert_eq!(config.notifications.schedule.attempts(), 3);
        for (bad, named) in [
            (
                "[notifications]\nschedule = [\"10\"]\n",
                "notifications.schedule",
            ),
            (
                "[notifications]\ntimeout_ms = 0\n",
                "notifications.timeout_ms",
            ),
            (
                "[notifications]\nbatch_size = 1000\n",
                "notifications.batch_size",
            ),
            ("[notifications]\nallow_private = true\n", "allow_private"),
        ] {
            let err = crate::config::Config::from_sources(Some(bad), &[]).unwrap_err();
            assert!(format!("{err:#}").contains(named), "{bad}: {err:#}");
        }
    }
}
