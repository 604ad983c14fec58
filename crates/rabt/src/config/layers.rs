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
        let mut set =
            |path: &[&str], value: &str| set_path(table, path, Value::String(value.to_owned()));
        let Some(rest) = name.strip_prefix("RABT_") else {
            continue;
        };
        match rest {
            "LISTEN" => set(&["api", "listen"], value),
            "OPS_LISTEN" => set(&["api", "ops_listen"], value),
            "DATABASE_URL" => set(&["database", "url"], value),
            "AMQP_URL" => set(&["queue", "amqp_url"], value),
            "LOG" => set(&["log", "filter"], value),
            "WORKER_METRICS_LISTEN" => set(&["worker", "metrics_listen"], value),
            "LOG_FORMAT" => set(&["log", "format"], value),
            "SIMULATE_CALLBACK_URL" => set(&["simulate", "callback_url"], value),
            "SIMULATE_PKI_DIR" => set(&["simulate", "pki_dir"], value),
            "AUDIT_SIGNING_KEY" => set(&["audit", "signing_key"], value),
            "AUDIT_SIGNING_KEY_FILE" => set(&["audit", "signing_key_file"], value),
            "AUDIT_ORIGIN" => set(&["audit", "origin"], value),
            "PII_KEY" => set(&["privacy", "pii_key"], value),
            "RETENTION_PAYLOADS" => set(&["retention", "payloads"], value),
            _ => {
                if let Some(agency_var) = rest.strip_prefix("AGENCY_") {
                    let (agency, field) = Agency::ALL
                        .iter()
                        .find_map(|a| {
                            let field = agency_var.strip_prefix(a.env_name())?.strip_prefix('_')?;
                            Some((a.as_str(), field))
                        })
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                Agency::ALL.iter().map(|a| a.env_name()).collect();
                            anyhow!("`{name}` names no agency ({})", known.join(", "))
                        })?;
                    match field {
                        "URL" => set(&["agencies", agency, "url"], value),
                        "API_KEY" => set(&["agencies", agency, "api_key"], value),
                        "CALLBACK_SECRETS" => {
                            let secrets = value
                                .split([',', ' '])
                                .filter(|s| !s.is_empty())
                                .map(|s| Value::String(s.to_owned()))
                                .collect();
                            set_path(
                                table,
                                &["agencies", agency, "callback_secrets"],
                                Value::Array(secrets),
                            );
                        }
                        // Anything else is one of the agency's credentials, whose
                        // names its adapter checks (an unknown one is an error there).
                        other => set(
                            &[
                                "agencies",
                                agency,
                                "credentials",
                                &other.to_ascii_lowercase(),
                            ],
                            value,
                        ),
                    }
                }
            }
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
