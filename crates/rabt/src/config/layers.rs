//! How the layers meet: a TOML table laid over the defaults key by key, and the
//! `RABT_…` environment variables of the configuration contract set into it.

use anyhow::{anyhow, bail};
use rabt_core::Agency;
use toml::{Table, Value};

/// Keys that take a string or a list of strings (the nodes of a RabbitMQ cluster).
const STRING_OR_LIST: &[&str] = &["queue.amqp_url"];

/// Lays `overlay` over `base`: tables merge key by key, other values replace. A key
/// whose type differs from the default's is an error naming it.
pub(super) fn merge(base: &mut Table, overlay: Table, prefix: &str) -> anyhow::Result<()> {
    for (key, value) in overlay {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (Some(Value::Table(existing)), Value::Table(incoming)) => {
                merge(existing, incoming, &path)?
            }
            (Some(existing), incoming)
                if existing.type_str() != incoming.type_str()
                    && !STRING_OR_LIST.contains(&path.as_str()) =>
            {
                bail!(
                    "`{path}` must be a {}, not a {}",
                    existing.type_str(),
                    incoming.type_str()
                )
            }
            (_, incoming) => {
                base.insert(key, incoming);
            }
        }
    }
    Ok(())
}

/// The environment variables of the configuration contract.
pub(super) fn apply_env(table: &mut Table, env: &[(String, String)]) -> anyhow::Result<()> {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("RABT_") else {
            continue;
        };
        if let Some(agency_var) = rest.strip_prefix("AGENCY_") {
            apply_agency_env(table, name, agency_var, value)?;
        } else if let Some(path) = key_of(rest) {
            set_path(table, path, Value::String(value.clone()));
        }
    }
    Ok(())
}

/// The configuration key a `RABT_<rest>` variable sets, if it is one of the contract's.
fn key_of(rest: &str) -> Option<&'static [&'static str]> {
    Some(match rest {
        "LISTEN" => &["api", "listen"],
        "OPS_LISTEN" => &["api", "ops_listen"],
        "DATABASE_URL" => &["database", "url"],
        "AMQP_URL" => &["queue", "amqp_url"],
        "LOG" => &["log", "filter"],
        "WORKER_METRICS_LISTEN" => &["worker", "metrics_listen"],
        "LOG_FORMAT" => &["log", "format"],
        "SIMULATE_CALLBACK_URL" => &["simulate", "callback_url"],
        "SIMULATE_PKI_DIR" => &["simulate", "pki_dir"],
        "AUDIT_SIGNING_KEY" => &["audit", "signing_key"],
        "AUDIT_SIGNING_KEY_FILE" => &["audit", "signing_key_file"],
        "AUDIT_ORIGIN" => &["audit", "origin"],
        "PII_KEY" => &["privacy", "pii_key"],
        "RETENTION_PAYLOADS" => &["retention", "payloads"],
        _ => return None,
    })
}

/// `RABT_AGENCY_<AGENCY>_<FIELD>` (`name`, whose part after `RABT_AGENCY_` is
/// `agency_var`): the agency's URL, API key, callback secrets (separated by commas or
/// spaces), or one of its credentials.
fn apply_agency_env(
    table: &mut Table,
    name: &str,
    agency_var: &str,
    value: &str,
) -> anyhow::Result<()> {
    let (agency, field) = Agency::ALL
        .iter()
        .find_map(|a| {
            let field = agency_var.strip_prefix(a.env_name())?.strip_prefix('_')?;
            Some((a.as_str(), field))
        })
        .ok_or_else(|| {
            let known: Vec<&str> = Agency::ALL.iter().map(|a| a.env_name()).collect();
            anyhow!("`{name}` names no agency ({})", known.join(", "))
        })?;
    let text = |value: &str| Value::String(value.to_owned());
    match field {
        "URL" => set_path(table, &["agencies", agency, "url"], text(value)),
        "API_KEY" => set_path(table, &["agencies", agency, "api_key"], text(value)),
        "CALLBACK_SECRETS" => {
            let secrets = value
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(text)
                .collect();
            set_path(
                table,
                &["agencies", agency, "callback_secrets"],
                Value::Array(secrets),
            );
        }
        // Anything else is one of the agency's credentials, whose names its adapter
        // checks (an unknown one is an error there).
        other => {
            let credential = other.to_ascii_lowercase();
            set_path(
                table,
                &["agencies", agency, "credentials", &credential],
                text(value),
            );
        }
    }
    Ok(())
}

fn set_path(table: &mut Table, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = table;
    for part in parents {
        let entry = current
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else { return };
        current = next;
    }
    current.insert((*last).to_owned(), value);
}
