//! `rabt-drill`: the full reliability drill (tests/drill.sh runs it on private services).
//!
//!   rabt-drill [--rate N] [--faults a,b,…] [--quiet SECONDS] [--outage SECONDS]
//!              [--database-down SECONDS] [--max-p99-ratio R] [--workers N]
//!              [--quorum-size N] [--markdown FILE]
//!
//! Faults: worker-kill, api-kill, broker-restart, database-restart, agency-outage,
//! poison (all, in that order, by default); on the cluster of tests/cluster.sh also
//! broker-node-kill, broker-node-back, switchover, primary-kill. Exits non-zero if
//! anything was lost, applied twice or given up on, if an agency outage of at most half
//! a deadline did not end every request OK, if the database restart did not answer
//! 503s and recover, or if a healthy agency's p99 during the outage reached R times its
//! baseline (default 1.5).

use std::time::Duration;

use anyhow::{Context, bail};
use rabt_tests::Deployment;
use rabt_tests::drill::{self, Fault, Options};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Args {
        options,
        markdown,
        workers,
        quorum_size,
    } = parse_args()?;
    let config = format!("[queue]\nquorum_size = {quorum_size}\n");
    let mut deployment = Deployment::start_with(workers, drill::SERVICES, Some(&config)).await?;
    let started = std::time::Instant::now();
    let report = drill::run(&mut deployment, &options).await?;
    let text = format!(
        "Rate {} req/s offered; faults {}; {} s in all.\n\n{}",
        options.rate,
        options
            .faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed().as_secs(),
        report.markdown()
    );
    println!("{text}");
    if let Some(path) = markdown {
        std::fs::write(&path, &text).with_context(|| format!("cannot write {path}"))?;
    }
    let failures = report.failures();
    if !failures.is_empty() {
        bail!("the drill failed:\n- {}", failures.join("\n- "));
    }
    Ok(())
}

/// What the command line asks for.
struct Args {
    options: Options,
    /// Where the report is written too, as markdown.
    markdown: Option<String>,
    workers: usize,
    /// The task queues' quorum size (0: classic queues).
    quorum_size: u32,
}

/// The drill's defaults, changed by the command line's options.
fn parse_args() -> anyhow::Result<Args> {
    let mut options = Options {
        rate: 30.0,
        faults: vec![
            Fault::WorkerKill,
            Fault::ApiKill,
            Fault::BrokerRestart,
            Fault::DatabaseRestart,
            Fault::AgencyOutage,
            Fault::Poison,
        ],
        quiet: Duration::from_secs(20),
        // Half of labor's 45 s deadline: every labor request must end OK.
        outage: Duration::from_secs(22),
        services_dir: std::env::var_os("RABT_TEST_SERVICES_DIR").map(Into::into),
        database_down: Duration::from_secs(10),
        max_p99_ratio: Some(1.5),
        cluster_dir: std::env::var_os("RABT_CLUSTER_DIR").map(Into::into),
    };
    let mut markdown = None;
    let mut workers = 2usize;
    let mut quorum_size = 0u32;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rate" => options.rate = value()?.parse()?,
            "--quiet" => options.quiet = Duration::from_secs(value()?.parse()?),
            "--outage" => options.outage = Duration::from_secs(value()?.parse()?),
            "--database-down" => {
                options.database_down = Duration::from_secs(value()?.parse()?);
            }
            "--max-p99-ratio" => options.max_p99_ratio = Some(value()?.parse()?),
            "--markdown" => markdown = Some(value()?),
            "--workers" => workers = value()?.parse()?,
            "--quorum-size" => quorum_size = value()?.parse()?,
            "--faults" => {
                options.faults = value()?
                    .split(',')
                    .map(|f| Fault::parse(f).with_context(|| format!("unknown fault `{f}`")))
                    .collect::<anyhow::Result<_>>()?;
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    Ok(Args {
        options,
        markdown,
        workers,
        quorum_size,
    })
}
