//! Administration commands: `migrate`, `operator add`, `openapi` (`coop` has its own
//! module).

use anyhow::{Context, anyhow, bail};
use rabt_api::auth::{OPERATOR_TOKEN_PREFIX, generate_secret, hash_secret};
use rabt_catalogue::Catalogue;
use rabt_core::ServiceName;
use rabt_store::{OperatorRole, Store};

use crate::OperatorCommand;
use crate::config::Config;
use crate::logging::print;
use crate::runtime::{open_and_migrate, open_store};

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
