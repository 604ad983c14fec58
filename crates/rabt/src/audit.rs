//! `rabt audit …`: check the sealed log, search it for a person, make keys.

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use rabt_audit::{PiiKey, SigningKey, Subject, VerifierKey};
use rabt_core::{Mobile, NationalId};
use rabt_store::{Actor, NewAuditEntry, VerifyOptions};
use serde_json::json;

use crate::config::Config;
use crate::logging::print;
use crate::runtime::open_store;
use crate::webhook_secret::operator_name;

/// `rabt audit …`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recomputes the Merkle tree from the database, checks every checkpoint's
    /// signature, root and consistency with the one before, and every stored node.
    /// Exits non-zero naming the first entry that differs (changed, missing, inserted,
    /// reordered).
    Verify {
        /// A verifier key checkpoints may be signed with (name+keyid+base64); repeat for
        /// several. Default: the configured signing key's and `audit.trusted_keys`.
        #[arg(long = "key", value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Lists every request that concerned a person, found by the keyed digest of their
    /// identity number or mobile (the log never holds the number). Audited, with you as
    /// the operator.
    Search {
        /// A national ID or iqama number.
        #[arg(long, required_unless_present = "mobile", conflicts_with = "mobile")]
        id_number: Option<String>,
        /// A mobile number (05XXXXXXXX or 9665XXXXXXXX).
        #[arg(long)]
        mobile: Option<String>,
        /// Who you are, for the audit log (default: the OS user).
        #[arg(long)]
        operator: Option<String>,
    },
    /// Prints a new checkpoint signing key and its verifier key.
    Keygen {
        /// The key's name, usually the log's origin (e.g. rabt.example.sa/audit).
        #[arg(long)]
        name: String,
    },
    /// Prints a new personal-data key (for RABT_PII_KEY).
    PiiKeygen,
    /// Prints the latest signed checkpoint.
    Checkpoint,
}

/// Runs `rabt audit …`.
pub(crate) async fn run(config: &Config, args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        AuditCommand::Keygen { name } => {
            let key = SigningKey::from_seed(&name, rand::random())?;
            print(&format!("signing key:  {}", key.to_secret_text()))?;
            print(&format!("verifier key: {}", key.verifier()))?;
            print(
                "Keep the signing key secret (RABT_AUDIT_SIGNING_KEY or audit.signing_key_file); publish the verifier key.",
            )?;
            Ok(())
        }
        AuditCommand::PiiKeygen => {
            print(&pii_keygen())?;
            Ok(())
        }
        AuditCommand::Checkpoint => {
            let store = open_store(config.database()?, 2).await?;
            let checkpoint = store
                .latest_checkpoint()
                .await?
                .ok_or_else(|| anyhow!("nothing is sealed yet"))?;
            print(checkpoint.note.trim_end())?;
            Ok(())
        }
        AuditCommand::Verify { keys } => verify(config, &keys).await,
        AuditCommand::Search {
            id_number,
            mobile,
            operator,
        } => search(config, id_number, mobile, operator).await,
    }
}

/// 32 random bytes in base64: a personal-data key.
pub(crate) fn pii_keygen() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

async fn verify(config: &Config, keys: &[String]) -> anyhow::Result<()> {
    let trusted_keys = if keys.is_empty() {
        config.audit.all_trusted_keys()
    } else {
        keys.iter()
            .map(|k| VerifierKey::parse(k).map_err(|e| anyhow!("--key: {e}")))
            .collect::<anyhow::Result<_>>()?
    };
    let store = open_store(config.database()?, 4).await?;
    let report = store
        .verify_audit_log(&VerifyOptions {
            trusted_keys,
            origin: Some(config.audit.origin.clone()),
        })
        .await
        .context("cannot read the audit log")?;
    print(&format!(
        "{} entries, {} sealed, {} not sealed yet, {} gaps; {} checkpoints, latest of size {}",
        report.entries,
        report.sealed,
        report.unsealed,
        report.gaps,
        report.checkpoints,
        report
            .latest_checkpoint
            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
    ))?;
    if report.keys_from_database {
        print(
            "warning: no trusted key given or configured: signatures were checked against the keys the database itself records",
        )?;
    }
    if let Some(first) = report.problems.first() {
        for problem in &report.problems {
            print(&format!("  {problem}"))?;
        }
        bail!(
            "the audit log does not verify ({} problem(s)); first: {first}",
            report.problem_count
        );
    }
    print("the audit log verifies")?;
    Ok(())
}

async fn search(
    config: &Config,
    id_number: Option<String>,
    mobile: Option<String>,
    operator: Option<String>,
) -> anyhow::Result<()> {
    let key = pii_key(config)?;
    // The value is never echoed in an error: it is a person's number.
    let (subject, value) = match (id_number, mobile) {
        (Some(id), None) => (
            Subject::IdNumber,
            NationalId::parse(id.trim())
                .map_err(|_| anyhow!("--id-number must be a national ID or iqama number (10 digits, valid check digit)"))?
                .to_string(),
        ),
        (None, Some(mobile)) => (
            Subject::Mobile,
            Mobile::parse(mobile.trim())
                .map_err(|_| anyhow!("--mobile must be a Saudi mobile number (05XXXXXXXX or 9665XXXXXXXX)"))?
                .to_string(),
        ),
        _ => bail!("give exactly one of --id-number and --mobile"),
    };
    let operator = operator_name(operator)?;
    let digest = key.digest(subject, &value);
    let store = open_store(config.database()?, 2).await?;
    let found = store
        .requests_by_subject(std::slice::from_ref(&digest), 1000)
        .await?;
    let mut entry = NewAuditEntry::new(Actor::Operator(operator), "operator.audit_search");
    entry.detail = json!({ "subject": digest, "kind": subject.label(), "found": found.len() });
    store.record_audit(&entry).await?;
    print(&format!("subject digest: {digest}"))?;
    if found.is_empty() {
        print("no request concerned this person")?;
    }
    for m in &found {
        print(&format!(
            "{}  {}  {}  {}  {}  {}",
            m.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
            m.request,
            m.cooperative,
            m.service,
            m.status,
            m.verdict.map_or("-", |v| v.as_str()),
        ))?;
    }
    Ok(())
}

fn pii_key(config: &Config) -> anyhow::Result<&PiiKey> {
    config.pii_key.as_ref().ok_or_else(|| {
        anyhow!(
            "no personal-data key: set RABT_PII_KEY (the deployment's, or searches find nothing)"
        )
    })
}
