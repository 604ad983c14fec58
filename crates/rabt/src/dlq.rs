//! `rabt dlq list|show|replay|purge`: dead letters from the command line, straight on the
//! database, as the operator API offers them. Replays and purges are audited with the
//! operator named by `--operator` (default: the OS user); a replayed task's message is
//! published by the outbox relay of any running `rabt serve` (within `outbox.poll_ms`).

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{SecondsFormat, Utc};
use clap::{ArgGroup, Args, Subcommand};
use rabt_core::{Agency, DeadLetterId};
use rabt_store::{
    DeadLetter, DeadLetterQuery, DeadLetterState, PurgeOutcome, Queued, ReplayOutcome, Store,
};

use crate::agency_cmd::agency_arg;
use crate::config::Config;
use crate::logging::print;
use crate::runtime::open_store;
use crate::webhook_secret::operator_name;

/// `rabt dlq …`.
#[derive(Debug, Args)]
pub(crate) struct DlqArgs {
    /// Who acts, for the audit log of replays and purges (default: the OS user, from
    /// $USER or $LOGNAME).
    #[arg(long, global = true, value_name = "NAME")]
    operator: Option<String>,
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// Lists dead letters, newest first: open ones, or all with --all.
    List {
        /// Only this agency's.
        #[arg(long, value_parser = agency_arg())]
        agency: Option<Agency>,
        /// Replayed and purged ones too.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Shows one dead letter with its body and headers.
    Show {
        /// Its id (dl_…).
        id: String,
    },
    /// Runs dead letters' tasks again: one by id, every open one of an agency, or all.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "agency", "all"])))]
    Replay {
        /// The dead letter's id (dl_…).
        id: Option<String>,
        /// Every open dead letter of this agency.
        #[arg(long, value_parser = agency_arg())]
        agency: Option<Agency>,
        /// Every open dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Discards dead letters for good: one by id, every open one of an agency, or all.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "agency", "all"])))]
    Purge {
        /// The dead letter's id (dl_…).
        id: Option<String>,
        /// Every open dead letter of this agency.
        #[arg(long, value_parser = agency_arg())]
        agency: Option<Agency>,
        /// Every open dead letter.
        #[arg(long)]
        all: bool,
        /// Confirms: purged dead letters cannot be replayed.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a `rabt dlq` command.
pub(crate) async fn run(config: &Config, args: DlqArgs) -> anyhow::Result<()> {
    // Checked before touching the database, so a bad command changes nothing.
    if let DlqCommand::Purge { yes: false, .. } = &args.command {
        bail!(
            "purging discards dead letters for good (they can no longer be replayed): add --yes to confirm"
        );
    }
    let operator = match &args.command {
        DlqCommand::Replay { .. } | DlqCommand::Purge { .. } => Some(operator_name(args.operator)?),
        DlqCommand::List { .. } | DlqCommand::Show { .. } => None,
    };
    let id = match &args.command {
        DlqCommand::Show { id } => Some(parse_id(id)?),
        DlqCommand::Replay { id, .. } | DlqCommand::Purge { id, .. } => {
            id.as_deref().map(parse_id).transpose()?
        }
        DlqCommand::List { .. } => None,
    };
    let store = open_store(config.database()?, 2).await?;
    // Proven: `operator` is set for replay and purge, the only commands that read it.
    let operator = operator.as_deref().unwrap_or_default();
    match args.command {
        DlqCommand::List { agency, all, limit } => list(&store, agency, all, limit).await,
        DlqCommand::Show { .. } => show(&store, id).await,
        DlqCommand::Replay { agency, .. } => match id {
            Some(id) => replay_one(&store, id, operator).await,
            None => replay_many(&store, agency, operator).await,
        },
        DlqCommand::Purge { agency, .. } => match id {
            Some(id) => purge_one(&store, id, operator).await,
            None => purge_many(&store, agency, operator).await,
        },
    }
}

fn parse_id(id: &str) -> anyhow::Result<DeadLetterId> {
    DeadLetterId::parse(id.trim()).map_err(|e| anyhow!("{e}"))
}

async fn list(store: &Store, agency: Option<Agency>, all: bool, limit: u32) -> anyhow::Result<()> {
    let query = DeadLetterQuery {
        agency,
        state: (!all).then_some(DeadLetterState::Open),
        before: None,
        limit,
    };
    let letters = store
        .list_dead_letters(&query)
        .await
        .context("cannot list dead letters")?;
    print(&format!(
        "{:<35} {:<10} {:<8} {:<10} {:<37} {:<24} reason",
        "id", "agency", "state", "replayable", "task", "dead at"
    ))?;
    for letter in &letters {
        print(&format!(
            "{:<35} {:<10} {:<8} {:<10} {:<37} {:<24} {}",
            letter.id.to_string(),
            letter.agency.as_str(),
            letter.state().as_str(),
            if letter.replayable { "yes" } else { "no" },
            letter
                .task
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            time(letter.dead_at),
            letter.reason
        ))?;
    }
    Ok(())
}

async fn show(store: &Store, id: Option<DeadLetterId>) -> anyhow::Result<()> {
    let id = id.ok_or_else(|| anyhow!("a dead letter id is required"))?;
    let letter = find(store, id).await?;
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    print(&format!("id:          {}", letter.id))?;
    print(&format!("agency:      {}", letter.agency))?;
    print(&format!("state:       {}", letter.state().as_str()))?;
    print(&format!("reason:      {}", letter.reason))?;
    print(&format!(
        "replayable:  {}",
        if letter.replayable { "yes" } else { "no" }
    ))?;
    print(&format!(
        "task:        {}",
        or_dash(letter.task.map(|t| t.to_string()))
    ))?;
    if let Some(callback) = letter.callback {
        print(&format!("callback:    {callback}"))?;
    }
    print(&format!(
        "request:     {}",
        or_dash(letter.request.map(|r| r.to_string()))
    ))?;
    print(&format!(
        "message id:  {}",
        or_dash(letter.message_id.clone())
    ))?;
    print(&format!("dead at:     {}", time(letter.dead_at)))?;
    if let Some(at) = letter.replayed_at {
        let by = or_dash(letter.replayed_by.clone());
        print(&format!("replayed:    {} by {by}", time(at)))?;
    }
    if let Some(at) = letter.purged_at {
        print(&format!("purged:      {}", time(at)))?;
    }
    for (name, value) in &letter.headers {
        print(&format!("header:      {name}: {value}"))?;
    }
    match std::str::from_utf8(&letter.body) {
        Ok(text) => print(&format!("body:        {text}"))?,
        Err(_) => print(&format!("body (base64): {}", BASE64.encode(&letter.body)))?,
    }
    Ok(())
}

async fn replay_one(store: &Store, id: DeadLetterId, operator: &str) -> anyhow::Result<()> {
    find(store, id).await?;
    let outcome = store
        .replay_dead_letter(id, operator, Utc::now())
        .await
        .with_context(|| format!("cannot replay {id}"))?;
    match queued(&outcome) {
        Some(queued) => {
            print(&format!("replayed {id}: {queued}"))?;
            Ok(())
        }
        None => bail!("cannot replay {id}: {}", why(&outcome)),
    }
}

async fn replay_many(store: &Store, agency: Option<Agency>, operator: &str) -> anyhow::Result<()> {
    let results = store
        .replay_dead_letters(agency, operator, Utc::now())
        .await
        .context("cannot replay dead letters")?;
    let mut replayed = 0;
    for (id, outcome) in &results {
        match queued(outcome) {
            Some(queued) => {
                replayed += 1;
                print(&format!("replayed {id}: {queued}"))?;
            }
            None => print(&format!("skipped  {id}: {}", why(outcome)))?,
        }
    }
    print(&format!(
        "{replayed} replayed, {} skipped",
        results.len() - replayed
    ))?;
    Ok(())
}

async fn purge_one(store: &Store, id: DeadLetterId, operator: &str) -> anyhow::Result<()> {
    find(store, id).await?;
    let outcome = store
        .purge_dead_letter(id, operator, Utc::now())
        .await
        .with_context(|| format!("cannot purge {id}"))?;
    match outcome {
        PurgeOutcome::Purged => print(&format!("purged {id}"))?,
        PurgeOutcome::AlreadyPurged { at } => {
            bail!("cannot purge {id}: it was purged at {}", time(at))
        }
        PurgeOutcome::AlreadyReplayed { at } => {
            bail!("cannot purge {id}: it was replayed at {}", time(at))
        }
    }
    Ok(())
}

async fn purge_many(store: &Store, agency: Option<Agency>, operator: &str) -> anyhow::Result<()> {
    let purged = store
        .purge_dead_letters(agency, operator, Utc::now())
        .await
        .context("cannot purge dead letters")?;
    for id in &purged {
        print(&format!("purged {id}"))?;
    }
    print(&format!("{} purged", purged.len()))?;
    Ok(())
}

async fn find(store: &Store, id: DeadLetterId) -> anyhow::Result<DeadLetter> {
    store
        .dead_letter(id)
        .await
        .with_context(|| format!("cannot read {id}"))?
        .ok_or_else(|| anyhow!("no dead letter {id}"))
}

/// What a replay queued, in words; `None` when it refused.
fn queued(outcome: &ReplayOutcome) -> Option<String> {
    outcome.queued().map(|queued| match queued {
        Queued::Task { task, request } => {
            format!("task {task} of request {request} is queued again")
        }
        Queued::Callback { callback, task } => {
            format!("callback {callback} (for task {task}) is queued again")
        }
    })
}

/// Why a replay changed nothing, in words.
fn why(outcome: &ReplayOutcome) -> String {
    match outcome {
        ReplayOutcome::Reopened { task, .. } => format!("task {task} was reopened"),
        ReplayOutcome::CallbackRequeued { callback, .. } => {
            format!("callback {callback} was queued again")
        }
        ReplayOutcome::CallbackApplied { callback } => {
            format!("its callback {callback} was applied meanwhile")
        }
        ReplayOutcome::AlreadyReplayed { by, at } => format!(
            "it was replayed by {} at {}",
            by.as_deref().unwrap_or("an operator"),
            time(*at)
        ),
        ReplayOutcome::Purged { at } => format!("it was purged at {}", time(*at)),
        ReplayOutcome::Contended => {
            "concurrent work changed it each time it was tried; replay it again".to_owned()
        }
        ReplayOutcome::NoTask => "it names no task or callback of ours (an undecodable message, or an unknown task or callback); purge it once you have read it".to_owned(),
        ReplayOutcome::TaskNotDeadLettered { task, state } => format!(
            "its task {task} is {}{}, not ended by a dead letter",
            state.status(),
            // A task without an outcome yet is named by its status alone.
            state.outcome().map(|o| format!(" ({o})")).unwrap_or_default()
        ),
    }
}

fn time(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
