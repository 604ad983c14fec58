//! `[audit]`, `[privacy]` and `[retention]`: the sealed audit log's name, interval and
//! keys, the key of personal-data digests, and how long payloads are kept.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rabt_audit::{PiiKey, SigningKey, VerifierKey};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    origin: String,
    seal_interval_ms: u64,
    signing_key: String,
    signing_key_file: String,
    trusted_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrivacy {
    pii_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    payloads: String,
    sweep_interval_ms: u64,
}

/// The sealed audit log's settings.
#[derive(Debug, Clone)]
pub(crate) struct AuditConfig {
    /// The log's name on every checkpoint.
    pub origin: String,
    /// How often the sealer looks for new entries.
    pub seal_interval: Duration,
    /// The checkpoint signing key; `None`: this process does not seal.
    pub signing_key: Option<Arc<SigningKey>>,
    /// Verifier keys `rabt audit verify` trusts besides the signing key's own (former
    /// keys, after a rotation).
    pub trusted_keys: Vec<VerifierKey>,
}

impl AuditConfig {
    /// Every key checkpoints may carry: the current one first, then former ones.
    pub(crate) fn all_trusted_keys(&self) -> Vec<VerifierKey> {
        let mut keys: Vec<VerifierKey> = self.signing_key.iter().map(|k| k.verifier()).collect();
        for key in &self.trusted_keys {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        keys
    }
}

/// How long payloads are kept.
#[derive(Debug, Clone)]
pub(crate) struct RetentionConfig {
    /// Inputs and outputs of a completed request are replaced by digests this long
    /// after it was accepted.
    pub payloads: Duration,
    /// How often the sweeper looks.
    pub sweep_interval: Duration,
}

pub(super) fn audit(raw: &RawAudit) -> anyhow::Result<AuditConfig> {
    let origin = raw.origin.trim();
    if origin.is_empty() || origin.contains(['\n', '\r']) || origin.len() > 256 {
        bail!("`audit.origin` must be one line of 1 to 256 characters, e.g. rabt.example.sa/audit");
    }
    if !(10..=3_600_000).contains(&raw.seal_interval_ms) {
        bail!("`audit.seal_interval_ms` must be between 10 and 3600000");
    }
    let key_text = match (raw.signing_key.trim(), raw.signing_key_file.trim()) {
        ("", "") => None,
        (text, "") => Some(text.to_owned()),
        ("", file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("`audit.signing_key_file`: cannot read {file}"))?,
        ),
        _ => bail!(
            "set one of `audit.signing_key` (RABT_AUDIT_SIGNING_KEY) and `audit.signing_key_file`, not both"
        ),
    };
    // The key's text never appears in an error: only what is wrong with it.
    let signing_key = key_text
        .map(|text| SigningKey::parse(&text).map(Arc::new))
        .transpose()
        .map_err(|e| anyhow!("the audit signing key: {e}"))?;
    let trusted_keys = raw
        .trusted_keys
        .iter()
        .map(|k| VerifierKey::parse(k).map_err(|e| anyhow!("`audit.trusted_keys`: {e}")))
        .collect::<anyhow::Result<_>>()?;
    Ok(AuditConfig {
        origin: origin.to_owned(),
        seal_interval: Duration::from_millis(raw.seal_interval_ms),
        signing_key,
        trusted_keys,
    })
}

pub(super) fn pii_key(raw: &RawPrivacy) -> anyhow::Result<Option<PiiKey>> {
    match raw.pii_key.trim() {
        "" => Ok(None),
        text => PiiKey::new(text)
            .map(Some)
            .map_err(|e| anyhow!("`privacy.pii_key` (RABT_PII_KEY): {e}")),
    }
}

pub(super) fn retention(raw: &RawRetention) -> anyhow::Result<RetentionConfig> {
    let payloads = period(&raw.payloads)
        .map_err(|why| anyhow!("`retention.payloads`: `{}`: {why}", raw.payloads))?;
    if raw.sweep_interval_ms == 0 {
        bail!("`retention.sweep_interval_ms` must be positive");
    }
    Ok(RetentionConfig {
        payloads,
        sweep_interval: Duration::from_millis(raw.sweep_interval_ms),
    })
}

/// A period such as `90d`, `12h`, `30m` or `45s`: positive, at most ten years.
fn period(text: &str) -> Result<Duration, &'static str> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("needs a unit (s, m, h or d)")?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| "must start with a whole number")?;
    let unit_s: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("the unit must be s, m, h or d"),
    };
    let seconds = number.saturating_mul(unit_s);
    if seconds == 0 || seconds > 3650 * 86_400 {
        return Err("must be positive and at most ten years (3650d)");
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn periods_have_units() {
        assert_eq!(period("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(period("30s").unwrap(), Duration::from_secs(30));
        for bad in ["", "90", "0d", "5w", "d", "99999d"] {
            assert!(period(bad).is_err(), "{bad}");
        }
    }
}
