//! Administration commands: `migrate`, `coop add|list`, `operator add`, `openapi`.

use anyhow::{Context, anyhow, bail};
use rabt_api::auth::{API_KEY_PREFIX, OPERATOR_TOKEN_PREFIX, generate_secret, hash_secret};
use rabt_catalogue::Catalogue;
use rabt_core::{CooperativeId, ServiceName, UnifiedNumber};
use rabt_store::{Actor, NewCooperative, OperatorRole, Store, StoreError};

use crate::config::Config;
use crate::logging::print;
use crate::runtime::{open_and_migrate, open_store};
use crate::{CoopCommand, OperatorCommand};

async fn store(config: &Config) -> anyhow::Result<Store> {
    open_store(config.database()?, 2).await
}

/// `rabt migrate`.
pub(crate) async fn migrate(config: &Config) -> anyhow::Result<()> {
    let (_, migrated) = open_and_migrate(config.database()?, 2).await?;
    print(&match migrated.applied {
        0 => format!(
            "the database schema was already up to date (version {})",
            migrated.version
        ),
        n => format!(
            "applied {n} migration{}: the database schema is at version {}",
            if n == 1 { "" } else { "s" },
            migrated.version
        ),
    })?;
    Ok(())
}

/// Checks service names against the catalogue.
pub(crate) fn services(names: &[String]) -> anyhow::Result<Vec<ServiceName>> {
    let catalogue = Catalogue::bundled().context("the built-in service catalogue is invalid")?;
    names
        .iter()
        .map(|name| {
            let name = name.trim();
            catalogue
                .service(name)
                .map(|s| s.name.clone())
                .ok_or_else(|| {
                    let known: Vec<String> =
                        catalogue.services().map(|s| s.name.to_string()).collect();
                    anyhow!(
                        "unknown service `{name}`; the catalogue has: {}",
                        known.join(", ")
                    )
                })
        })
        .collect()
}

/// Onboards a cooperative and returns its new API key and webhook secret.
pub(crate) async fn add_cooperative(
    store: &Store,
    name: &str,
    unified_number: UnifiedNumber,
    services: Vec<ServiceName>,
) -> anyhow::Result<(CooperativeId, String, String)> {
    let id = CooperativeId::new();
    let created = store
        .create_cooperative(&NewCooperative {
            id,
            name: name.to_owned(),
            unified_number: unified_number.clone(),
            services,
        })
        .await;
    match created {
        Ok(_) => {}
        // The only unique key a new cooperative can collide on (its id is new).
        Err(StoreError::Duplicate { .. }) => bail!(
            "a cooperative with the unified number {} is already onboarded (`rabt coop list` shows it)",
            unified_number.as_str()
        ),
        Err(other) => {
            return Err(anyhow::Error::new(other).context("cannot create the cooperative"));
        }
    }
    let key = generate_secret(API_KEY_PREFIX);
    store
        .add_api_key(id, &hash_secret(&key), "created by rabt coop add")
        .await
        .context("cannot store the API key")?;
    let webhook_secret = crate::webhook_secret::issue(store, id, Actor::System).await?;
    Ok((id, key, webhook_secret))
}

/// `rabt coop add|list`.
pub(crate) async fn coop(config: &Config, command: CoopCommand) -> anyhow::Result<()> {
    let store = store(config).await?;
    match command {
        CoopCommand::Add {
            name,
            unified_number,
            services: names,
        } => {
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let unified_number = UnifiedNumber::parse(&unified_number)
                .map_err(|e| anyhow!("--unified-number: {e}"))?;
            let services = services(&names)?;
            let (id, key, webhook_secret) =
                add_cooperative(&store, name.trim(), unified_number, services).await?;
            print(&format!("cooperative: {id}"))?;
            print(&format!("api key:     {key}"))?;
            print(&format!("webhook secret: {webhook_secret}"))?;
            print("Keep this key now: it is stored only as a digest and cannot be shown again.")?;
            print(
                "Give the webhook secret to the cooperative: its notifications are signed with it (rabt coop webhook-secret replaces it).",
            )?;
        }
        CoopCommand::SetLimit {
            id,
            rate,
            burst,
            quota,
            default,
            operator,
        } => {
            let args = crate::limits::SetLimit {
                id,
                rate,
                burst,
                quota,
                default,
                operator,
            };
            crate::limits::set_limit(config, args).await?;
        }
        CoopCommand::WebhookSecret { id, operator } => {
            crate::webhook_secret::replace(&store, &id, operator).await?;
        }
        CoopCommand::List => {
            let cooperatives = store
                .list_cooperatives()
                .await
                .context("cannot list cooperatives")?;
            print(&format!(
                "{:<37} {:<11} {:<7} {:<40} services",
                "id", "unified", "active", "name"
            ))?;
            for coop in cooperatives {
                let services: Vec<&str> = coop.services.iter().map(ServiceName::as_str).collect();
                print(&format!(
                    "{:<37} {:<11} {:<7} {:<40} {}",
                    coop.id.to_string(),
                    coop.unified_number.as_str(),
                    if coop.active { "yes" } else { "no" },
                    coop.name,
                    services.join(",")
                ))?;
            }
        }
    }
    Ok(())
}

/// Parses an operator role.
pub(crate) fn role(name: &str) -> anyhow::Result<OperatorRole> {
    match name {
        "viewer" => Ok(OperatorRole::Viewer),
        "operator" => Ok(OperatorRole::Operator),
        "admin" => Ok(OperatorRole::Admin),
        other => bail!("unknown role `{other}` (viewer, operator or admin)"),
    }
}

/// `rabt operator add`.
pub(crate) async fn operator(config: &Config, command: OperatorCommand) -> anyhow::Result<()> {
    let store = store(config).await?;
    match command {
        OperatorCommand::Add {
            name,
            role: role_name,
        } => {
            let role = role(&role_name)?;
            let token = generate_secret(OPERATOR_TOKEN_PREFIX);
            store
                .create_operator(name.trim(), role, &hash_secret(&token))
                .await
                .context("cannot create the operator")?;
            print(&format!("operator: {} ({role_name})", name.trim()))?;
            print(&format!("token:    {token}"))?;
            print("Keep this token now: it is stored only as a digest and cannot be shown again.")?;
        }
    }
    Ok(())
}

/// `rabt openapi`.
pub(crate) fn openapi() -> anyhow::Result<()> {
    let catalogue = Catalogue::bundled().context("the built-in service catalogue is invalid")?;
    let document = rabt_api::openapi::document(&catalogue);
    print(&serde_json::to_string_pretty(&document)?)?;
    Ok(())
}
