//! Cooperatives' webhook secrets: the Standard Webhooks `whsec_…` secret each
//! cooperative's notifications are signed with. `rabt coop add` issues one; `rabt coop
//! webhook-secret` replaces it (a cooperative onboarded before notifications existed
//! has none, and its notifications fail until it gets one). Shown once; stored as it
//! is, because signing needs it; audited without it.

use anyhow::{Context, anyhow, bail};
use rabt_core::CooperativeId;
use rabt_store::{Actor, Store};

use crate::logging::print;

/// The longest operator name accepted for the audit log.
const MAX_OPERATOR_CHARS: usize = 64;

/// Generates a secret for `cooperative`, stores it (audited as done by `by`) and
/// returns its `whsec_…` text, to be shown once.
pub(crate) async fn issue(
    store: &Store,
    cooperative: CooperativeId,
    by: Actor,
) -> anyhow::Result<String> {
    let secret = rabt_webhook::Secret::generate().expose();
    let stored = store
        .set_webhook_secret(cooperative, &secret, by)
        .await
        .context("cannot store the webhook secret")?;
    if !stored {
        bail!("no cooperative {cooperative}");
    }
    Ok(secret)
}

/// `rabt coop webhook-secret --id coop_… [--operator NAME]`: a new secret replaces the
/// old one at once (notifications in flight are signed with the new one from their
/// next attempt).
pub(crate) async fn replace(
    store: &Store,
    id: &str,
    operator: Option<String>,
) -> anyhow::Result<()> {
    let cooperative = CooperativeId::parse(id.trim()).map_err(|e| anyhow!("--id: {e}"))?;
    let operator = operator_name(operator)?;
    let secret = issue(store, cooperative, Actor::Operator(operator)).await?;
    print(&format!("cooperative:    {cooperative}"))?;
    print(&format!("webhook secret: {secret}"))?;
    print(
        "Give it to the cooperative now: its notifications are signed with it from now on, and it is not shown again.",
    )?;
    Ok(())
}

/// The operator's name for the audit log: `--operator`, else the OS user (also for
/// `rabt dlq`).
pub(crate) fn operator_name(given: Option<String>) -> anyhow::Result<String> {
    let name = given
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .ok_or_else(|| anyhow!("cannot tell who you are: name yourself with --operator NAME"))?;
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_OPERATOR_CHARS
        || name.chars().any(char::is_control)
    {
        bail!("--operator must be 1 to {MAX_OPERATOR_CHARS} printable characters");
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_are_checked() {
        assert_eq!(operator_name(Some(" huda ".to_owned())).unwrap(), "huda");
        assert!(operator_name(Some(" ".to_owned())).is_err());
        assert!(operator_name(Some("a\nb".to_owned())).is_err());
        assert!(operator_name(Some("x".repeat(65))).is_err());
    }
}
