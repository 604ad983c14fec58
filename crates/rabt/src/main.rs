//! `rabt`: the gateway's one binary. `rabt demo` runs everything in one process with
//! no services; `rabt serve` runs api and worker roles against PostgreSQL and RabbitMQ;
//! `rabt simulate` serves the agency simulators; `rabt migrate`, `rabt coop` and
//! `rabt operator` administer the database; `rabt dlq` lists, replays and purges dead
//! letters; `rabt audit` verifies the sealed audit log and searches it.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod admin;
mod agencies;
mod agency_cmd;
mod audit;
mod config;
mod coop;
mod demo;
mod dlq;
mod heartbeat;
mod limits;
mod logging;
mod runtime;
mod serve;
mod simulate;
mod telemetry;
mod webhook_secret;

/// Rabt (ربط): one API between Saudi cooperative societies and the government agencies
/// they depend on.
#[derive(Debug, Parser)]
#[command(name = "rabt", version, about, long_about = None)]
struct Cli {
    /// A TOML file laid over the built-in defaults (deploy/rabt.toml documents every
    /// key). Accepted before or after the subcommand. `demo` ignores it.
    #[arg(long, short = 'c', global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything in one process, nothing to install: SQLite, the in-process queue, the
    /// agency simulators and a demo cooperative. Runs until Ctrl-C.
    Demo {
        /// Where the API listens (port 0 picks a free port; see demo-credentials.json).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where the operators' console, /ops/v1 and /metrics listen (port 0: a free
        /// port; see ops_base_url in demo-credentials.json).
        #[arg(long, default_value = "127.0.0.1:9091")]
        ops_listen: SocketAddr,
        /// Where the database and demo-credentials.json are kept.
        #[arg(long, default_value = "./rabt-demo")]
        state_dir: PathBuf,
    },
    /// Production mode: api and/or worker roles against PostgreSQL and RabbitMQ. Any
    /// number of processes may share them.
    Serve {
        /// What this process does.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    #[command(about = simulate::about())]
    Simulate {
        /// The first port (default: simulate.listen_base of the configuration).
        #[arg(long)]
        listen_base: Option<u16>,
        /// Print the environment `rabt serve` needs to use these simulators (their URLs
        /// and sandbox credentials, as `export` lines for a shell) and exit.
        #[arg(long)]
        print_env: bool,
    },
    /// Creates or upgrades the database schema.
    Migrate,
    /// Cooperatives: onboard, list, show, rotate or revoke keys, change services,
    /// deactivate and activate (as an operator, audited).
    Coop(coop::CoopArgs),
    /// Creates operator tokens (for the operator API and dashboard).
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Agencies: settings as configured, and the maintenance pause (as an operator,
    /// audited).
    Agency(agency_cmd::AgencyArgs),
    /// Prints the OpenAPI document of the REST API.
    Openapi,
    /// Dead letters: list, show, replay or purge them (as an operator, audited).
    Dlq(dlq::DlqArgs),
    /// The sealed audit log: verify it, search it for a person, make its keys.
    Audit(audit::AuditArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// The REST API (and the outbox relay).
    Api,
    /// The agency workers (and the outbox relay and deadline sweeper).
    Worker,
    /// Both.
    All,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Creates an operator and prints their token, once.
    Add {
        /// The operator's name.
        #[arg(long)]
        name: String,
        /// viewer, operator or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("rabt: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rabt: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // One TLS provider for the whole process, before any client is built.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = cli.config;
    let result = match cli.command {
        Command::Demo {
            listen,
            ops_listen,
            state_dir,
        } => demo::run(listen, ops_listen, state_dir).await,
        Command::Serve { role } => serve::run(&load(config)?, role).await,
        Command::Simulate {
            listen_base,
            print_env,
        } => simulate::run(&load(config)?, listen_base, print_env).await,
        Command::Migrate => admin::migrate(&load(config)?).await,
        Command::Coop(args) => coop::run(&load(config)?, args).await,
        Command::Operator { command } => admin::operator(&load(config)?, command).await,
        Command::Agency(args) => agency_cmd::run(&load(config)?, args).await,
        Command::Openapi => admin::openapi(),
        Command::Dlq(args) => dlq::run(&load(config)?, args).await,
        Command::Audit(args) => audit::run(&load(config)?, args).await,
    };
    logging::shutdown().await;
    result
}

fn load(file: Option<PathBuf>) -> anyhow::Result<config::Config> {
    let config = config::Config::load(file.as_deref())?;
    logging::init(&config.log_filter, config.log_json);
    Ok(config)
}
