//! `rabt coop set-limit`: a cooperative's rate limit and daily quota, as
//! `/ops/v1/cooperatives/{id}/limit` sets them.

use anyhow::{Context, anyhow, bail};
use rabt_core::{CooperativeId, RateLimit};
use rabt_store::{CooperativeLimit, Store, StoreError};

use crate::config::Config;
use crate::logging::print;

/// What `rabt coop set-limit` was asked.
#[derive(Debug)]
pub(crate) struct SetLimit {
    pub rate: Option<String>,
    pub burst: Option<u32>,
    pub quota: Option<String>,
    pub default: bool,
}

/// `rabt coop set-limit`: sets `id`'s limits, audited with `operator` as actor.
pub(crate) async fn set_limit(
    config: &Config,
    store: &Store,
    id: CooperativeId,
    args: SetLimit,
    operator: &str,
) -> anyhow::Result<()> {
    let limit = if args.default {
        None
    } else {
        Some(parse(&args)?)
    };
    match store.set_cooperative_limit(id, limit, operator).await {
        Ok(()) => {}
        Err(StoreError::NotFound { .. }) => {
            bail!("no cooperative {id} (`rabt coop list` shows them)")
        }
        Err(err) => return Err(anyhow::Error::new(err).context("cannot set the limit")),
    }
    let effective = limit.unwrap_or(config.cooperative_default_limit);
    let origin = if limit.is_some() {
        "its own"
    } else {
        "the configuration's default"
    };
    print(&format!("cooperative: {id}"))?;
    print(&format!("limit:       {} ({origin})", describe(&effective)))?;
    print("Every api process applies it within 2 s.")?;
    Ok(())
}

/// `--rate`, `--burst` and `--quota` as a limit.
fn parse(args: &SetLimit) -> anyhow::Result<CooperativeLimit> {
    let rate = match args.rate.as_deref().map(str::trim) {
        None => bail!("give --rate (e.g. --rate 5/s --burst 10, or --rate none), or --default"),
        Some("none") => {
            if args.burst.is_some() {
                bail!("--burst needs a --rate");
            }
            None
        }
        Some(text) => {
            // Without a burst, one period's worth may go at once.
            let parsed = RateLimit::parse(text, args.burst.unwrap_or(1))
                .with_context(|| "--rate / --burst")?;
            Some(match args.burst {
                Some(_) => parsed,
                None => RateLimit::new(
                    parsed.events(),
                    parsed.period(),
                    parsed.events().min(RateLimit::MAX_BURST),
                )
                .with_context(|| "--rate")?,
            })
        }
    };
    let quota_per_day = match args.quota.as_deref().map(str::trim) {
        None | Some("none") => None,
        Some(text) => {
            let number = text.strip_suffix("/day").unwrap_or(text);
            Some(
                number
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= 100_000_000)
                    .ok_or_else(|| {
                        anyhow!(
                            "--quota must be a number of requests per day, e.g. 10000/day, or none"
                        )
                    })?,
            )
        }
    };
    Ok(CooperativeLimit {
        rate,
        quota_per_day,
    })
}

fn describe(limit: &CooperativeLimit) -> String {
    let rate = limit
        .rate
        .map_or_else(|| "no rate limit".to_owned(), |r| r.to_string());
    match limit.quota_per_day {
        Some(quota) => format!("{rate}, {quota} requests/day"),
        None => format!("{rate}, no daily quota"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn args(rate: Option<&str>, burst: Option<u32>, quota: Option<&str>) -> SetLimit {
        SetLimit {
            rate: rate.map(str::to_owned),
            burst,
            quota: quota.map(str::to_owned),
            default: false,
        }
    }

    #[test]
    fn flags_parse_into_a_limit() {
        let limit = parse(&args(Some("5/s"), Some(10), Some("10000/day"))).unwrap();
        assert_eq!(describe(&limit), "5/s (burst 10), 10000 requests/day");
        let limit = parse(&args(Some("300/m"), None, None)).unwrap();
        assert_eq!(describe(&limit), "300/m (burst 300), no daily quota");
        let none = parse(&args(Some("none"), None, Some("none"))).unwrap();
        assert_eq!(describe(&none), "no rate limit, no daily quota");
        assert!(parse(&args(None, None, None)).is_err());
        assert!(parse(&args(Some("none"), Some(3), None)).is_err());
        assert!(parse(&args(Some("5/fortnight"), None, None)).is_err());
        assert!(parse(&args(Some("5/s"), None, Some("lots"))).is_err());
    }
}
