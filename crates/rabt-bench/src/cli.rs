//! The subcommands and what each runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::{BenchError, Result};
use crate::markdown::{MetaLine, Page};
use crate::procs::Watch;
use crate::record::{self, Figure, Label, Record};
use crate::{bodies, check, l0, markdown, openloop, profile, wrk};

/// Rabt's benchmark harness (run it through tests/bench/run.sh).
#[derive(Debug, Parser)]
#[command(name = "rabt-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the CPU goes and where a record is written.
#[derive(Debug, clap::Args)]
struct Output {
    /// Process trees to account CPU and peak RSS to, as NAME=PID (repeatable).
    #[arg(long = "watch")]
    watches: Vec<Watch>,
    /// The JSON record to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    label: Label,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// Until `202 Accepted`.
    Accept,
    /// Until the verdict (`Prefer: wait=30`, then polling).
    EndToEnd,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// L0: raw lapin publishing with confirms, then consuming with acks, on a quorum queue.
    L0(L0Args),
    /// Saturation of POST /v1/requests with wrk.
    Saturate(SaturateArgs),
    /// Latency at a fixed arrival rate (open loop, corrected for coordinated omission).
    Rate(RateArgs),
    /// Reads `perf report --stdio --no-children --sort dso,sym` into a profile record.
    Profile(ProfileArgs),
    /// Records the database's work per request over a profiled run (the figures come
    /// from pg_stat_statements and pg_stat_wal, read by tests/bench/lib.sh).
    Database(DatabaseArgs),
    /// Prints the request body used for a service.
    Body { service: String },
    /// Writes the markdown and JSON reports of a run.
    Report {
        /// The run's records.
        #[arg(long)]
        results: PathBuf,
        /// Lines `section<TAB>key<TAB>value`: machine, versions, command.
        #[arg(long)]
        meta: PathBuf,
        /// Markdown files appended after the tables (repeatable).
        #[arg(long = "include")]
        includes: Vec<PathBuf>,
        #[arg(long)]
        markdown: PathBuf,
        #[arg(long)]
        json: PathBuf,
    },
    /// Fails unless every stage ran with numbers above zero and no errors.
    Check(CheckArgs),
}

// The arguments of `rabt-bench l0` (a plain comment: a doc comment here would
// replace the subcommand\'s help).
#[derive(Debug, clap::Args)]
struct L0Args {
    /// The broker, `amqp://user:password@host:port/vhost`.
    #[arg(long)]
    amqp_url: String,
    #[arg(long, default_value_t = 50_000)]
    messages: u32,
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Confirms in flight at most.
    #[arg(long, default_value_t = 1000)]
    window: usize,
    #[arg(long, default_value_t = 200)]
    prefetch: u16,
    #[arg(long, default_value_t = 3)]
    runs: u32,
    #[command(flatten)]
    output: Output,
}

// The arguments of `rabt-bench saturate` (a plain comment: a doc comment here would
// replace the subcommand\'s help).
#[derive(Debug, clap::Args)]
struct SaturateArgs {
    /// The POST target, e.g. http://127.0.0.1:8080/v1/requests.
    #[arg(long)]
    url: String,
    #[arg(long, env = "BENCH_API_KEY", hide_env_values = true)]
    key: String,
    /// tests/bench/wrk-post.lua.
    #[arg(long)]
    script: PathBuf,
    #[arg(long, default_value_t = 1)]
    threads: u32,
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Seconds.
    #[arg(long, default_value_t = 20)]
    duration: u32,
    /// Send `Prefer: wait=N`: each answer is the verdict (end-to-end saturation).
    #[arg(long)]
    prefer_wait: Option<u32>,
    /// The folder to write the request body file into.
    #[arg(long)]
    work_dir: PathBuf,
    #[command(flatten)]
    output: Output,
}

// The arguments of `rabt-bench rate` (a plain comment: a doc comment here would
// replace the subcommand\'s help).
#[derive(Debug, clap::Args)]
struct RateArgs {
    #[arg(long)]
    url: String,
    #[arg(long, env = "BENCH_API_KEY", hide_env_values = true)]
    key: String,
    /// Requests per second; or give --of-saturation and --share.
    #[arg(long)]
    rate: Option<f64>,
    /// A saturation record: the rate is --share percent of its accepted req/s.
    #[arg(long)]
    of_saturation: Option<PathBuf>,
    /// The rate when the saturation record measured nothing (a smoke run on a busy
    /// machine, where no verdict came within its short window); without it, such a
    /// record is an error.
    #[arg(long)]
    fallback_rate: Option<f64>,
    /// Seconds measured.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds at the same rate before, not recorded.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long, value_enum, default_value_t = ModeArg::Accept)]
    mode: ModeArg,
    /// Stop scheduling when this many requests are waiting (overload).
    #[arg(long, default_value_t = 2000)]
    max_in_flight: usize,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    output: Output,
}

// The arguments of `rabt-bench profile` (a plain comment: a doc comment here would
// replace the subcommand\'s help).
#[derive(Debug, clap::Args)]
struct ProfileArgs {
    /// The perf report text.
    #[arg(long)]
    report: PathBuf,
    /// The process profiled.
    #[arg(long)]
    process: String,
    /// What it was doing.
    #[arg(long)]
    workload: String,
    #[arg(long, default_value_t = 25)]
    top: usize,
    /// `perf stat -x,` output of the same process over the same run.
    #[arg(long)]
    counters: Option<PathBuf>,
    /// The fixed-rate record of the load that ran meanwhile (for per-request figures).
    #[arg(long)]
    load: Option<PathBuf>,
    #[command(flatten)]
    output: Output,
}

// The arguments of `rabt-bench database` (a plain comment: a doc comment here would
// replace the subcommand\'s help).
#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// Requests answered during the run.
    #[arg(long)]
    requests: u64,
    /// Statements per request.
    #[arg(long)]
    statements: f64,
    /// Transactions per request.
    #[arg(long)]
    transactions: f64,
    /// WAL bytes per request.
    #[arg(long)]
    wal_bytes: f64,
    #[command(flatten)]
    output: Output,
}

// The arguments of `rabt-bench check` (a plain comment: a doc comment here would
// replace the subcommand\'s help).
#[derive(Debug, clap::Args)]
struct CheckArgs {
    #[arg(long)]
    results: PathBuf,
    /// The verdict every end-to-end request must end with.
    #[arg(long, default_value = "PASS")]
    verdict: String,
    /// A smoke test of the harness: shortfalls that only say the machine was slow
    /// (nothing measured in a short window, answers too late) are printed as notes
    /// instead of failing the check.
    #[arg(long)]
    smoke: bool,
}

/// Runs one subcommand.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::L0(args) => queue_floor(args).await,
        Command::Saturate(args) => saturate(args),
        Command::Rate(args) => at_rate(args).await,
        Command::Profile(args) => read_profile(args),
        Command::Database(args) => write(
            args.output,
            Figure::Database(record::DatabaseWork {
                requests: args.requests,
                statements: args.statements,
                transactions: args.transactions,
                wal_bytes: args.wal_bytes,
            }),
        ),
        Command::Body { service } => {
            println!("{}", bodies::body(&service)?);
            Ok(())
        }
        Command::Report {
            results,
            meta,
            includes,
            markdown: md_path,
            json,
        } => report(&results, &meta, &includes, &md_path, &json),
        Command::Check(args) => check_records(args),
    }
}

/// `l0`: the broker's own floor, without Rabt.
async fn queue_floor(args: L0Args) -> Result<()> {
    let plan = l0::Plan {
        amqp_url: args.amqp_url,
        messages: args.messages,
        size: args.size,
        window: args.window,
        prefetch: args.prefetch,
        runs: args.runs,
    };
    let result = l0::measure(&plan, &args.output.watches).await?;
    write(args.output, Figure::L0(result))
}

/// `saturate`: wrk against the accept path.
fn saturate(args: SaturateArgs) -> Result<()> {
    let output = args.output;
    let service = output.label.service.as_deref().unwrap_or(record::ADDRESS);
    let body_file = args.work_dir.join(format!("body-{service}.json"));
    write_text(&body_file, &bodies::body(service)?.to_string())?;
    let plan = wrk::Plan {
        url: args.url,
        api_key: args.key,
        body_file,
        script: args.script,
        threads: args.threads,
        connections: args.connections,
        duration_s: args.duration,
        prefer_wait_s: args.prefer_wait,
    };
    let result = wrk::run(&plan, &output.watches)?;
    eprintln!(
        "{} {} {service} saturation: {:.0} req/s",
        output.label.stage, output.label.system, result.accepted_per_s
    );
    write(output, Figure::Saturation(result))
}

/// `rate`: latency at a fixed arrival rate.
async fn at_rate(args: RateArgs) -> Result<()> {
    let output = args.output;
    let rate = resolve_rate(
        args.rate,
        args.of_saturation.as_deref(),
        output.label.share,
        args.fallback_rate,
    )?;
    let service = output
        .label
        .service
        .as_deref()
        .unwrap_or("post.address.verify");
    let plan = openloop::Plan {
        url: args.url,
        api_key: args.key,
        body: bodies::body(service)?.to_string().into(),
        rate,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        mode: match args.mode {
            ModeArg::Accept => openloop::Mode::Accept,
            ModeArg::EndToEnd => openloop::Mode::EndToEnd { wait_s: 30 },
        },
        max_in_flight: args.max_in_flight,
        timeout: Duration::from_secs(args.timeout),
    };
    let result = openloop::run(&plan, &output.watches).await?;
    eprintln!(
        "{} {} {service} at {rate:.0}/s: p50 {:.2} ms, p99 {:.2} ms, {} ok, {} errors{}",
        output.label.stage,
        output.label.system,
        result.latency.p50_ms,
        result.latency.p99_ms,
        result.ok,
        result.errors.values().sum::<u64>(),
        if result.overloaded {
            " (overloaded)"
        } else {
            ""
        }
    );
    write(output, Figure::Rate(result))
}

/// `profile`: a perf report (and its counters, and the load that ran) as a record.
fn read_profile(args: ProfileArgs) -> Result<()> {
    let text = read_text(&args.report)?;
    let mut summary = profile::summarise(&args.process, &args.workload, &text, args.top)?;
    if let Some(path) = args.counters {
        summary.counters = profile::parse_counters(&read_text(&path)?);
    }
    if let Some(path) = args.load {
        summary.requests = read_record(&path)?.rate().map(|r| r.ok);
    }
    write(args.output, Figure::Profile(summary))
}

/// `check`: every record of a run sane, or the error naming what is not.
fn check_records(args: CheckArgs) -> Result<()> {
    let records = record::load_all(&args.results)?;
    let strictness = if args.smoke {
        check::Strictness::Smoke
    } else {
        check::Strictness::Full
    };
    let notes = check::sanity(&records, &args.verdict, strictness)?;
    for note in &notes {
        eprintln!("note (a slow machine, not a failure): {note}");
    }
    eprintln!("{} records, all sane", records.len());
    Ok(())
}

/// The rate asked for, or a share of a saturation record's (the fallback when that
/// record measured nothing).
fn resolve_rate(
    rate: Option<f64>,
    saturation: Option<&Path>,
    share: Option<u32>,
    fallback: Option<f64>,
) -> Result<f64> {
    if let Some(rate) = rate {
        return Ok(rate);
    }
    let (Some(path), Some(share)) = (saturation, share) else {
        return Err(BenchError::invalid(
            "rate",
            "give --rate, or --of-saturation with --share",
        ));
    };
    let measured = match read_record(path)?.figure {
        Figure::Saturation(s) => s.accepted_per_s,
        _ => 0.0,
    };
    match fallback {
        _ if measured > 0.0 => Ok(measured * f64::from(share) / 100.0),
        Some(fallback) => {
            eprintln!(
                "{} measured nothing; running at the fallback rate {fallback}/s instead",
                path.display()
            );
            Ok(fallback)
        }
        None => Err(BenchError::invalid(
            "--of-saturation",
            format!("{} holds no saturation above zero", path.display()),
        )),
    }
}

fn report(results: &Path, meta: &Path, includes: &[PathBuf], md: &Path, json: &Path) -> Result<()> {
    let records = record::load_all(results)?;
    let summary = record::summarise(&records);
    let meta: Vec<MetaLine> = read_text(meta)?
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            Some((
                parts.next()?.to_owned(),
                parts.next()?.to_owned(),
                parts.next()?.to_owned(),
            ))
        })
        .collect();
    let includes = includes
        .iter()
        .map(|p| read_text(p))
        .collect::<Result<Vec<_>>>()?;
    let page = Page {
        meta: &meta,
        records: &records,
        summary: &summary,
        includes: &includes,
    };
    write_text(md, &markdown::render(&page))?;
    let document = serde_json::json!({
        "meta": meta.iter().map(|(s, k, v)| serde_json::json!({"section": s, "key": k, "value": v})).collect::<Vec<_>>(),
        "summary": summary,
        "records": records,
    });
    let text = serde_json::to_string_pretty(&document).map_err(|source| BenchError::Json {
        what: "the report".to_owned(),
        source,
    })?;
    write_text(json, &(text + "\n"))
}

fn read_record(path: &Path) -> Result<Record> {
    serde_json::from_str(&read_text(path)?).map_err(|source| BenchError::Json {
        what: path.display().to_string(),
        source,
    })
}

fn write(output: Output, figure: Figure) -> Result<()> {
    Record {
        label: output.label,
        figure,
    }
    .write(&output.out)
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| BenchError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| BenchError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use rabt_test_support::TempDir;

    use super::*;

    fn saturation_record(dir: &TempDir, accepted_per_s: f64) -> PathBuf {
        let path = dir.path().join(format!("saturation-{accepted_per_s}.json"));
        Record::saturation_sample("production", 8, accepted_per_s)
            .write(&path)
            .unwrap();
        path
    }

    #[test]
    fn a_rate_is_a_share_of_the_saturation_measured() {
        let dir = TempDir::create("rabt-bench-cli").unwrap();
        let measured = saturation_record(&dir, 40.0);
        assert_eq!(
            resolve_rate(None, Some(&measured), Some(25), Some(2.0)).unwrap(),
            10.0
        );
        assert_eq!(
            resolve_rate(Some(7.0), Some(&measured), Some(25), None).unwrap(),
            7.0
        );
    }

    #[test]
    fn a_saturation_that_measured_nothing_needs_a_fallback() {
        let dir = TempDir::create("rabt-bench-cli").unwrap();
        let nothing = saturation_record(&dir, 0.0);
        let error = resolve_rate(None, Some(&nothing), Some(25), None).unwrap_err();
        assert!(
            error.to_string().contains("no saturation above zero"),
            "{error}"
        );
        assert_eq!(
            resolve_rate(None, Some(&nothing), Some(25), Some(2.0)).unwrap(),
            2.0
        );
    }
}
