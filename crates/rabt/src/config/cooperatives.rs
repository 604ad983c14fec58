//! `[cooperatives]`: the limits of a cooperative that has none of its own.

use anyhow::anyhow;
use rabt_core::RateLimit;
use rabt_store::CooperativeLimit;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCooperatives {
    default_rate: String,
    default_burst: u32,
    default_quota_per_day: u64,
}

/// Validates `[cooperatives]`.
pub(super) fn default_limit(raw: &RawCooperatives) -> anyhow::Result<CooperativeLimit> {
    let rate = match raw.default_rate.trim() {
        "" => None,
        text => Some(
            RateLimit::parse(text, raw.default_burst)
                .map_err(|e| anyhow!("`cooperatives.default_rate` / `default_burst`: {e}"))?,
        ),
    };
    Ok(CooperativeLimit {
        rate,
        quota_per_day: (raw.default_quota_per_day > 0).then_some(raw.default_quota_per_day),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn raw(rate: &str, burst: u32, quota: u64) -> RawCooperatives {
        RawCooperatives {
            default_rate: rate.to_owned(),
            default_burst: burst,
            default_quota_per_day: quota,
        }
    }

    #[test]
    fn defaults_parse_and_mistakes_name_the_key() {
        let limit = default_limit(&raw("20/s", 40, 0)).unwrap();
        assert_eq!(limit.rate.map(|r| (r.events(), r.burst())), Some((20, 40)));
        assert_eq!(limit.quota_per_day, None);
        let none = default_limit(&raw("", 1, 5000)).unwrap();
        assert_eq!((none.rate, none.quota_per_day), (None, Some(5000)));
        let err = default_limit(&raw("20/day", 1, 0)).unwrap_err().to_string();
        assert!(err.contains("cooperatives.default_rate"), "{err}");
        assert!(default_limit(&raw("20/s", 0, 0)).is_err());
    }
}
