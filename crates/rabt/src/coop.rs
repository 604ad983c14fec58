//! `rabt coop`: the cooperative lifecycle from the command line, on the database of the
//! configuration, as `/ops/v1/cooperatives` offers it. Changes are audited with the
//! operator named by `--operator` (default: the OS user). Keys and webhook secrets are
//! printed once and stored only as digests (the secret as it is: it signs).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use rabt_api::auth::{API_KEY_PREFIX, generate_secret, hash_secret};
use rabt_core::{CooperativeId, ServiceName, UnifiedNumber};
use rabt_store::{Actor, Cooperative, NewCooperative, Revoked, Store, StoreError};

use crate::admin::services;
use crate::config::Config;
use crate::logging::print;
use crate::runtime::open_store;
use crate::webhook_secret::operator_name;

/// `rabt coop …`.
#[derive(Debug, Args)]
pub(crate) struct CoopArgs {
    /// Who you are, for the audit log (default: the OS user).
    #[arg(long, global = true)]
    operator: Option<String>,
    #[command(subcommand)]
    command: CoopCommand,
}

#[derive(Debug, Subcommand)]
enum CoopCommand {
    /// Onboards a cooperative and prints its API key and webhook secret, once.
    Add {
        /// The cooperative's registered name.
        #[arg(long)]
        name: String,
        /// Its unified number (700 number: 7xxxxxxxxx).
        #[arg(long)]
        unified_number: String,
        /// Services it may call, comma separated (e.g. post.address.verify).
        #[arg(long, value_delimiter = ',', required = true)]
        services: Vec<String>,
    },
    /// Lists cooperatives with their requests of the last 24 hours.
    List,
    /// One cooperative: its services, state and keys (ids, never keys).
    Show {
        /// The cooperative (coop_…) or its unified number.
        cooperative: String,
    },
    /// Gives a cooperative a new API key (printed once); its other keys keep working
    /// for the overlap, then stop.
    RotateKey {
        /// The cooperative (coop_…) or its unified number.
        cooperative: String,
        /// How long the old keys keep working, in seconds (default:
        /// api.key_rotation_overlap_seconds; 0 stops them at once).
        #[arg(long)]
        overlap_seconds: Option<u64>,
    },
    /// Revokes one key at once (`rabt coop show` lists their ids).
    RevokeKey {
        /// The cooperative (coop_…) or its unified number.
        cooperative: String,
        /// The key's id (key_…).
        key: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Replaces the services a cooperative may call.
    SetServices {
        /// The cooperative (coop_…) or its unified number.
        cooperative: String,
        /// Comma separated catalogue names.
        #[arg(long, value_delimiter = ',', required = true)]
        services: Vec<String>,
    },
    /// Deactivates a cooperative: its keys answer 403 until it is activated again.
    Deactivate {
        /// The cooperative (coop_…) or its unified number.
        cooperative: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Reactivates a deactivated cooperative.
    Activate {
        /// The cooperative (coop_…) or its unified number.
        cooperative: String,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Sets a cooperative's rate limit and daily quota, held across all api processes
    /// (e.g. `set-limit coop_… --rate 5/s --burst 10`), or with --default goes back to
    /// the configuration's default. Applies within 2 s.
    SetLimit {
        /// The cooperative (coop_…) or its unified number.
        cooperative: String,
        /// Calls per second, minute or hour (5/s, 300/m, 10000/h), or `none`.
        #[arg(long)]
        rate: Option<String>,
        /// Calls that may go back to back (default: one period's worth).
        #[arg(long)]
        burst: Option<u32>,
        /// Requests accepted per UTC day (10000/day), or `none` (the default).
        #[arg(long)]
        quota: Option<String>,
        /// Remove the cooperative's own limits: the configuration's default applies.
        #[arg(long, conflicts_with_all = ["rate", "burst", "quota"])]
        default: bool,
    },
    /// Gives a cooperative a new webhook secret (its notifications are signed with it)
    /// and prints it, once.
    WebhookSecret {
        /// The cooperative (coop_…).
        #[arg(long)]
        id: String,
    },
}

/// Onboards a cooperative, audited as done by `by`; its id, API key and webhook secret.
pub(crate) async fn onboard(
    store: &Store,
    name: &str,
    unified_number: UnifiedNumber,
    services: Vec<ServiceName>,
    by: &Actor,
) -> anyhow::Result<(CooperativeId, String, String)> {
    let new = NewCooperative {
        id: CooperativeId::new(),
        name: name.to_owned(),
        unified_number,
        services,
    };
    let key = generate_secret(API_KEY_PREFIX);
    let secret = rabt_webhook::Secret::generate().expose();
    match store
        .onboard_cooperative(&new, &hash_secret(&key), &secret, by)
        .await
    {
        Ok(_) => Ok((new.id, key, secret)),
        // Its id and key are new: the unified number is what collided.
        Err(StoreError::Duplicate {
            what: "cooperative",
            ..
        }) => bail!(
            "a cooperative with the unified number {} is already onboarded (`rabt coop show {}` shows it)",
            new.unified_number.as_str(),
            new.unified_number.as_str()
        ),
        Err(other) => Err(anyhow::Error::new(other).context("cannot create the cooperative")),
    }
}

/// Runs `rabt coop …`.
pub(crate) async fn run(config: &Config, args: CoopArgs) -> anyhow::Result<()> {
    let store = open_store(config.database()?, 2).await?;
    let actor = actor_for(&args.command, args.operator.clone())?;
    match args.command {
        CoopCommand::Add {
            name,
            unified_number,
            services: names,
        } => add(&store, &name, &unified_number, &names, &actor).await?,
        CoopCommand::List => list(&store).await?,
        CoopCommand::Show { cooperative } => {
            show(&store, &find(&store, &cooperative).await?).await?
        }
        CoopCommand::RotateKey {
            cooperative,
            overlap_seconds,
        } => {
            let overlap = overlap_seconds.map_or(config.key_overlap, Duration::from_secs);
            rotate_key(&store, &cooperative, overlap, &actor).await?;
        }
        CoopCommand::RevokeKey {
            cooperative,
            key,
            reason,
        } => revoke_key(&store, &cooperative, &key, &reason, &actor).await?,
        CoopCommand::SetServices {
            cooperative,
            services: names,
        } => set_services(&store, &cooperative, &names, &actor).await?,
        CoopCommand::Deactivate {
            cooperative,
            reason,
        } => set_active(&store, &cooperative, false, &reason, &actor).await?,
        CoopCommand::Activate {
            cooperative,
            reason,
        } => set_active(&store, &cooperative, true, &reason, &actor).await?,
        CoopCommand::SetLimit {
            cooperative,
            rate,
            burst,
            quota,
            default,
        } => {
            let limit = crate::limits::SetLimit {
                rate,
                burst,
                quota,
                default,
            };
            set_limit(config, &store, &cooperative, limit, &actor).await?;
        }
        CoopCommand::WebhookSecret { id } => {
            let Actor::Operator(name) = actor else {
                bail!("an operator is needed");
            };
            crate::webhook_secret::replace(&store, &id, Some(name)).await?;
        }
    }
    Ok(())
}

/// Who a command is audited as. Reads need no name; onboarding from a deployment
/// script may run without a user (audited as the system then); every other change
/// must name its operator.
fn actor_for(command: &CoopCommand, operator: Option<String>) -> anyhow::Result<Actor> {
    Ok(match command {
        CoopCommand::List | CoopCommand::Show { .. } => Actor::System,
        CoopCommand::Add { .. } => operator_name(operator)
            .map(Actor::Operator)
            .unwrap_or(Actor::System),
        _ => Actor::Operator(operator_name(operator)?),
    })
}

/// `rabt coop set-services`: replaces the services and shows the cooperative after.
async fn set_services(
    store: &Store,
    cooperative: &str,
    names: &[String],
    actor: &Actor,
) -> anyhow::Result<()> {
    let coop = find(store, cooperative).await?;
    store
        .set_cooperative_services(coop.id, &services(names)?, actor)
        .await?;
    show(store, &find(store, cooperative).await?).await
}

/// `rabt coop set-limit`: only an operator may change a cooperative's limits.
async fn set_limit(
    config: &Config,
    store: &Store,
    cooperative: &str,
    args: crate::limits::SetLimit,
    actor: &Actor,
) -> anyhow::Result<()> {
    let Actor::Operator(name) = actor else {
        bail!("an operator is needed");
    };
    let coop = find(store, cooperative).await?;
    crate::limits::set_limit(config, store, coop.id, args, name).await
}

/// `rabt coop add`: onboards the cooperative and prints its key and webhook secret,
/// shown this once.
async fn add(
    store: &Store,
    name: &str,
    unified_number: &str,
    names: &[String],
    actor: &Actor,
) -> anyhow::Result<()> {
    if name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    let unified_number =
        UnifiedNumber::parse(unified_number).map_err(|e| anyhow!("--unified-number: {e}"))?;
    let (id, key, secret) =
        onboard(store, name.trim(), unified_number, services(names)?, actor).await?;
    print(&format!("cooperative: {id}"))?;
    print(&format!("api key:     {key}"))?;
    print(&format!("webhook secret: {secret}"))?;
    print("Keep this key now: it is stored only as a digest and cannot be shown again.")?;
    print(
        "Give the webhook secret to the cooperative: its notifications are signed with it (rabt coop webhook-secret replaces it).",
    )?;
    Ok(())
}

/// `rabt coop rotate-key`: a new key, printed once; the others stop after `overlap`
/// (30 days at most).
async fn rotate_key(
    store: &Store,
    cooperative: &str,
    overlap: Duration,
    actor: &Actor,
) -> anyhow::Result<()> {
    let coop = find(store, cooperative).await?;
    if overlap > Duration::from_secs(30 * 24 * 3600) {
        bail!("--overlap-seconds must be at most 2592000 (30 days)");
    }
    let key = generate_secret(API_KEY_PREFIX);
    let rotated = store
        .rotate_api_key(coop.id, &hash_secret(&key), overlap, actor)
        .await
        .context("cannot rotate the key")?
        .ok_or_else(|| anyhow!("no cooperative {}", coop.id))?;
    print(&format!("cooperative: {}", coop.id))?;
    print(&format!("api key:     {key}   ({})", rotated.key))?;
    for old in &rotated.expiring {
        print(&format!(
            "{old} stops working at {}",
            rotated.until.to_rfc3339()
        ))?;
    }
    print("Keep this key now: it is stored only as a digest and cannot be shown again.")?;
    Ok(())
}

/// `rabt coop revoke-key`: the key is refused at once.
async fn revoke_key(
    store: &Store,
    cooperative: &str,
    key: &str,
    reason: &str,
    actor: &Actor,
) -> anyhow::Result<()> {
    let coop = find(store, cooperative).await?;
    match store
        .revoke_api_key_id(coop.id, key.trim(), reason.trim(), actor)
        .await?
    {
        Revoked::Now => Ok(print(&format!("revoked {key}: it is refused from now on"))?),
        Revoked::Already(at) => bail!("{key} was revoked already at {}", at.to_rfc3339()),
        Revoked::NoSuchKey => bail!("{} has no key {key} (rabt coop show lists them)", coop.id),
    }
}

async fn set_active(
    store: &Store,
    cooperative: &str,
    active: bool,
    reason: &str,
    actor: &Actor,
) -> anyhow::Result<()> {
    // Deactivating stops a cooperative's calls: the audit log must say why.
    if !active && reason.trim().is_empty() {
        bail!("--reason must not be empty: it goes to the audit log");
    }
    let coop = find(store, cooperative).await?;
    let changed = store
        .set_cooperative_active(coop.id, active, reason.trim(), actor)
        .await?
        .ok_or_else(|| anyhow!("no cooperative {}", coop.id))?;
    let state = if active { "active" } else { "deactivated" };
    if changed {
        print(&format!("{} is {state} now", coop.id))?;
    } else {
        print(&format!("{} was {state} already: nothing changed", coop.id))?;
    }
    Ok(())
}

/// A cooperative by id (`coop_…`) or unified number.
async fn find(store: &Store, given: &str) -> anyhow::Result<Cooperative> {
    let given = given.trim();
    if let Ok(id) = CooperativeId::parse(given) {
        return store
            .cooperative(id)
            .await?
            .ok_or_else(|| anyhow!("no cooperative {id}"));
    }
    let number = UnifiedNumber::parse(given)
        .map_err(|_| anyhow!("`{given}` is neither a coop_… id nor a unified number"))?;
    store
        .list_cooperatives()
        .await?
        .into_iter()
        .find(|c| c.unified_number == number)
        .ok_or_else(|| anyhow!("no cooperative with unified number {}", number.as_str()))
}

async fn list(store: &Store) -> anyhow::Result<()> {
    let cooperatives = store
        .list_cooperatives()
        .await
        .context("cannot list cooperatives")?;
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let activity = store.cooperative_activity(since).await?;
    print(&format!(
        "{:<37} {:<11} {:<7} {:>8} {:>7} {:<40} services",
        "id", "unified", "active", "req/24h", "partial", "name"
    ))?;
    for coop in cooperatives {
        // Absent from the activity: no request in the last 24 hours, all counts zero.
        let recent = activity
            .iter()
            .find(|(id, _)| *id == coop.id)
            .map(|(_, a)| a.clone())
            .unwrap_or_default();
        let services: Vec<&str> = coop.services.iter().map(ServiceName::as_str).collect();
        print(&format!(
            "{:<37} {:<11} {:<7} {:>8} {:>7} {:<40} {}",
            coop.id.to_string(),
            coop.unified_number.as_str(),
            if coop.active { "yes" } else { "no" },
            recent.requests,
            recent.partial,
            coop.name,
            services.join(",")
        ))?;
    }
    Ok(())
}

async fn show(store: &Store, coop: &Cooperative) -> anyhow::Result<()> {
    let services: Vec<&str> = coop.services.iter().map(ServiceName::as_str).collect();
    print(&format!("cooperative: {}", coop.id))?;
    print(&format!("name:        {}", coop.name))?;
    print(&format!("unified:     {}", coop.unified_number.as_str()))?;
    print(&format!(
        "active:      {}",
        if coop.active { "yes" } else { "no" }
    ))?;
    print(&format!("services:    {}", services.join(",")))?;
    let now = chrono::Utc::now();
    for key in store.api_keys(coop.id).await? {
        let state = match (key.revoked_at, key.expires_at) {
            (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
            (None, Some(end)) if end <= now => format!("expired {}", end.to_rfc3339()),
            (None, Some(end)) => format!("valid until {}", end.to_rfc3339()),
            (None, None) => "valid".to_owned(),
        };
        print(&format!(
            "key:         {}  {state}  ({})",
            key.id, key.label
        ))?;
    }
    Ok(())
}
