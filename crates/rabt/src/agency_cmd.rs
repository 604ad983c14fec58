//! `rabt agency list|pause|resume`: each agency's settings as configured, and the
//! maintenance pause (as `/ops/v1/agencies` offers them). A pause is stored in the
//! database, so every worker sees it within a second; resuming gives the waiting tasks
//! back the time they spent paused. Audited with `--operator` (default: the OS user).

use anyhow::{anyhow, bail};
use clap::builder::TypedValueParser;
use clap::{Args, Subcommand};
use rabt_core::Agency;
use rabt_store::{PauseOutcome, Store};
use serde_json::{Value, json};

use crate::config::{Config, redact_url};
use crate::logging::print;
use crate::runtime::open_store;
use crate::webhook_secret::operator_name;

/// `rabt agency …`.
#[derive(Debug, Args)]
pub(crate) struct AgencyArgs {
    /// Who you are, for the audit log (default: the OS user).
    #[arg(long, global = true)]
    operator: Option<String>,
    #[command(subcommand)]
    command: AgencyCommand,
}

#[derive(Debug, Subcommand)]
enum AgencyCommand {
    /// Every agency: URL, timeout, limits, breaker (never a secret), and its pause.
    List,
    /// Pauses an agency for maintenance: its tasks wait, unattempted, until resumed.
    Pause {
        /// The agency.
        #[arg(value_parser = agency_arg())]
        agency: Agency,
        /// Why (operators see it; it goes to the audit log).
        #[arg(long)]
        reason: String,
        /// When the agency is expected back (RFC 3339, e.g. 2026-12-07T18:00:00+03:00).
        #[arg(long)]
        until: Option<String>,
    },
    /// Resumes a paused agency: its tasks run again.
    Resume {
        /// The agency.
        #[arg(value_parser = agency_arg())]
        agency: Agency,
    },
}

/// An agency argument: clap offers and checks the wire names of `Agency::ALL`, so the
/// help and the error of a wrong name list every agency of this build.
pub(crate) fn agency_arg() -> impl TypedValueParser<Value = Agency> {
    clap::builder::PossibleValuesParser::new(Agency::wire_names())
        .try_map(|name| name.parse::<Agency>())
}

/// Each agency's settings as shown to operators: never a secret or a credential.
pub(crate) fn settings_views(config: &Config) -> std::collections::BTreeMap<Agency, Value> {
    let breaker = &config.worker_breaker;
    config
        .agencies
        .iter()
        .map(|(agency, settings)| {
            let limits = config.worker_limits.get(agency);
            let view = json!({
                "url": redact_url(settings.url.as_str()),
                "timeoutMs": settings.timeout.as_millis() as u64,
                "callTimeoutMs": config.call_timeout.as_millis() as u64,
                "prefetch": config.prefetch,
                "callbackSecrets": settings.callback_secrets.len(),
                "concurrency": limits.and_then(|l| l.concurrency()).map(|n| n.get()),
                "ratePerSecond": limits.and_then(|l| l.rate()).map(|r| r.per_second()),
                "burst": limits.and_then(|l| l.rate()).map(|r| r.burst()),
                "breaker": {
                    "failures": breaker.failures,
                    "errorRate": breaker.error_rate,
                    "windowMs": breaker.window.as_millis() as u64,
                    "minCalls": breaker.min_calls,
                    "cooldownMs": breaker.cooldown.as_millis() as u64,
                    "maxCooldownMs": breaker.max_cooldown.as_millis() as u64,
                },
            });
            (*agency, view)
        })
        .collect()
}

/// Runs `rabt agency …`.
pub(crate) async fn run(config: &Config, args: AgencyArgs) -> anyhow::Result<()> {
    let store = open_store(config.database()?, 2).await?;
    match args.command {
        AgencyCommand::List => list(config, &store).await,
        AgencyCommand::Pause {
            agency,
            reason,
            until,
        } => pause(&store, agency, &reason, until.as_deref(), args.operator).await,
        AgencyCommand::Resume { agency } => resume(&store, agency, args.operator).await,
    }
}

/// `rabt agency list`: every agency, paused or running, with its settings.
async fn list(config: &Config, store: &Store) -> anyhow::Result<()> {
    let pauses = store.agency_pauses().await?;
    let views = settings_views(config);
    for agency in Agency::ALL {
        let settings = views.get(&agency).cloned().unwrap_or(Value::Null);
        let state = match pauses.iter().find(|p| p.agency == agency) {
            Some(p) => format!(
                "PAUSED by {} since {} ({}){}",
                p.paused_by,
                p.paused_at.to_rfc3339(),
                p.reason,
                // A pause without an expected end says nothing of one.
                p.expected_end
                    .map(|t| format!(", expected back {}", t.to_rfc3339()))
                    .unwrap_or_default()
            ),
            None => "running".to_owned(),
        };
        print(&format!("{:<11} {state}", agency.as_str()))?;
        print(&format!("            {settings}"))?;
    }
    Ok(())
}

/// `rabt agency pause`: the agency's tasks wait, unattempted, until it is resumed.
async fn pause(
    store: &Store,
    agency: Agency,
    reason: &str,
    until: Option<&str>,
    operator: Option<String>,
) -> anyhow::Result<()> {
    let operator = operator_name(operator)?;
    if reason.trim().is_empty() {
        bail!("--reason must not be empty");
    }
    let until = match until {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text.trim())
                .map_err(|e| anyhow!("--until: {e} (RFC 3339, e.g. 2026-12-07T18:00:00+03:00)"))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    match store
        .pause_agency(agency, reason.trim(), until, &operator)
        .await?
    {
        PauseOutcome::Paused(_) => print(&format!(
            "{agency} is paused: its tasks wait until `rabt agency resume {agency}`"
        ))?,
        PauseOutcome::Already(p) => {
            bail!(
                "{agency} is paused already (by {}, {})",
                p.paused_by,
                p.reason
            )
        }
    }
    Ok(())
}

/// `rabt agency resume`: its tasks run again, with their paused time given back.
async fn resume(store: &Store, agency: Agency, operator: Option<String>) -> anyhow::Result<()> {
    let operator = operator_name(operator)?;
    match store.resume_agency(agency, &operator).await? {
        Some(resumed) => print(&format!(
            "{agency} is resumed; {} waiting task(s) got their paused time back",
            resumed.extended_tasks
        ))?,
        None => bail!("{agency} is not paused"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rabt_core::Agency;

    use super::agency_arg;

    #[test]
    fn an_agency_argument_takes_every_agency_and_names_them_when_refusing() {
        let command =
            clap::Command::new("t").arg(clap::Arg::new("agency").value_parser(agency_arg()));
        for agency in Agency::ALL {
            let matches = command
                .clone()
                .try_get_matches_from(["t", agency.as_str()])
                .unwrap();
            assert_eq!(matches.get_one::<Agency>("agency"), Some(&agency));
        }
        let refused = command
            .clone()
            .try_get_matches_from(["t", "nobody"])
            .unwrap_err()
            .to_string();
        for agency in Agency::ALL {
            assert!(refused.contains(agency.as_str()), "{refused}");
        }
    }
}
