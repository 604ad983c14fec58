//! `[worker.breaker]` and `[worker.limits.<agency>]`: the circuit breakers and the
//! per-agency limits of worker processes, checked into rabt-worker's types (whose
//! errors name the key at fault, which this module prefixes with its table).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::anyhow;
use rabt_core::Agency;
use rabt_worker::{AgencyLimits, BreakerSettings, SettingsError};
use serde::Deserialize;

/// `[worker.breaker]`: every key is in the shipped defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBreaker {
    failures: u32,
    error_rate: f64,
    window_ms: u64,
    min_calls: u32,
    cooldown_ms: u64,
    max_cooldown_ms: u64,
}

/// `[worker.limits.<agency>]`: each key optional; none means no limit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    concurrency: Option<u32>,
    rate_per_second: Option<f64>,
    burst: Option<u32>,
}

pub(super) fn breaker(raw: &RawBreaker) -> anyhow::Result<BreakerSettings> {
    BreakerSettings {
        failures: raw.failures,
        error_rate: raw.error_rate,
        window: Duration::from_millis(raw.window_ms),
        min_calls: raw.min_calls,
        cooldown: Duration::from_millis(raw.cooldown_ms),
        max_cooldown: Duration::from_millis(raw.max_cooldown_ms),
    }
    .validated()
    .map_err(|e| named("worker.breaker", e))
}

pub(super) fn limits(
    raw: &BTreeMap<String, RawLimits>,
) -> anyhow::Result<BTreeMap<Agency, AgencyLimits>> {
    raw.iter()
        .map(|(name, raw)| {
            let agency: Agency = name
                .parse()
                .map_err(|e| anyhow!("`worker.limits.{name}`: {e}"))?;
            let limits = AgencyLimits::try_new(raw.concurrency, raw.rate_per_second, raw.burst)
                .map_err(|e| named(&format!("worker.limits.{name}"), e))?;
            Ok((agency, limits))
        })
        .collect()
}

/// The error with its key's full path.
fn named(table: &str, error: SettingsError) -> anyhow::Error {
    match error {
        SettingsError::Invalid { key, problem } => anyhow!("`{table}.{key}` {problem}"),
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::super::Config;
    use super::*;

    fn error(file: &str) -> String {
        format!("{:#}", Config::from_sources(Some(file), &[]).unwrap_err())
    }

    #[test]
    fn the_shipped_defaults_are_the_workers_defaults() {
        let config = Config::from_sources(None, &[]).unwrap();
        assert_eq!(config.worker_breaker, BreakerSettings::default());
        assert!(config.worker_limits.is_empty(), "no limits beyond prefetch");
    }

    #[test]
    fn breaker_settings_and_limits_come_from_the_file() {
        let file = "[worker.breaker]\nfailures = 3\ncooldown_ms = 2000\n\
                    [worker.limits.saudi-post]\nconcurrency = 4\nrate_per_second = 2.5\n\
                    [worker.limits.labor]\nrate_per_second = 10\nburst = 5\n";
        let config = Config::from_sources(Some(file), &[]).unwrap();
        assert_eq!(config.worker_breaker.failures, 3);
        assert_eq!(config.worker_breaker.cooldown, Duration::from_secs(2));
        assert_eq!(config.worker_breaker.max_cooldown, Duration::from_secs(60));
        let post = config.worker_limits[&Agency::SaudiPost];
        assert_eq!(post.concurrency(), NonZeroU32::new(4));
        assert_eq!(
            post.rate().map(|r| (r.per_second(), r.burst())),
            Some((2.5, 1))
        );
        let labor = config.worker_limits[&Agency::Labor];
        assert_eq!(labor.concurrency(), None);
        assert_eq!(
            labor.rate().map(|r| (r.per_second(), r.burst())),
            Some((10.0, 5))
        );
        assert_eq!(config.worker_limits.len(), 2);
    }

    #[test]
    fn mistakes_are_named_by_their_key() {
        let unknown_agency = error("[worker.limits.post]\nconcurrency = 2\n");
        assert!(
            unknown_agency.contains("`worker.limits.post`"),
            "{unknown_agency}"
        );
        let unknown_key = error("[worker.limits.labor]\nconcurency = 2\n");
        assert!(
            unknown_key.contains("worker.limits.labor") && unknown_key.contains("concurency"),
            "{unknown_key}"
        );
        let unknown_breaker_key = error("[worker.breaker]\nthreshold = 2\n");
        assert!(
            unknown_breaker_key.contains("worker.breaker")
                && unknown_breaker_key.contains("threshold"),
            "{unknown_breaker_key}"
        );
        for (file, key) in [
            (
                "[worker.limits.labor]\nconcurrency = 0\n",
                "`worker.limits.labor.concurrency`",
            ),
            (
                "[worker.limits.labor]\nrate_per_second = 0.0\n",
                "`worker.limits.labor.rate_per_second`",
            ),
            (
                "[worker.limits.labor]\nburst = 3\n",
                "`worker.limits.labor.burst`",
            ),
            (
                "[worker.breaker]\nerror_rate = 1.5\n",
                "`worker.breaker.error_rate`",
            ),
            (
                "[worker.breaker]\ncooldown_ms = 0\n",
                "`worker.breaker.cooldown_ms`",
            ),
            (
                "[worker.breaker]\nmax_cooldown_ms = 10\n",
                "`worker.breaker.max_cooldown_ms`",
            ),
        ] {
            let text = error(file);
            assert!(text.contains(key), "{file}: {text}");
        }
        let wrong_type = error("[worker.limits.labor]\nconcurrency = \"four\"\n");
        assert!(
            wrong_type.contains("worker.limits.labor.concurrency"),
            "{wrong_type}"
        );
    }
}
