//! The results of one run: each measuring subcommand writes one [`Record`] as a JSON
//! file into the run's results folder; `report` reads them all back, computes the
//! [`Summary`] (ratios and the targets) and writes the markdown and the JSON.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};
use crate::l0::Result0;
use crate::openloop::RateResult;
use crate::profile::ProfileSummary;
use crate::wrk::Saturation;

/// Where a figure belongs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct Label {
    /// The stage: `L0`, `G`, `P` or `E`.
    #[arg(long)]
    pub stage: String,
    /// What was measured: `broker`, `production`, `demo` or `peer`.
    #[arg(long)]
    pub system: String,
    /// The service asked for, if any.
    #[arg(long)]
    pub service: Option<String>,
    /// For fixed-rate runs: the rate as a percentage of a saturation…
    #[arg(long)]
    pub share: Option<u32>,
    /// …of this stage's saturation (`G`, `P`, `E`: the same system and service).
    #[arg(long)]
    pub basis: Option<String>,
}

/// What one stage measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figure {
    /// L0.
    L0(Result0),
    /// A wrk saturation run.
    Saturation(Saturation),
    /// An open-loop fixed-rate run.
    Rate(RateResult),
    /// A CPU profile.
    Profile(ProfileSummary),
    /// The database's work per request over a profiled run (pg_stat_statements).
    Database(DatabaseWork),
}

/// What the database did per request answered, over one profiled run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseWork {
    /// Requests answered during the run.
    pub requests: u64,
    /// Statements executed per request, `BEGIN` and `COMMIT` included.
    pub statements: f64,
    /// Transactions (`COMMIT`s) per request.
    pub transactions: f64,
    /// WAL bytes written per request.
    pub wal_bytes: f64,
}

/// The suffix of a system measured from the `--baseline` revision (`production@baseline`).
pub const BASELINE: &str = "@baseline";

/// One result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Where it belongs.
    pub label: Label,
    /// What was measured.
    pub figure: Figure,
}

impl Record {
    /// Writes the record as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|source| BenchError::Json {
            what: "a record".to_owned(),
            source,
        })?;
        std::fs::write(path, text + "\n").map_err(|source| BenchError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The open-loop figures of this record, if it is a fixed-rate run.
    pub fn rate(&self) -> Option<&RateResult> {
        match &self.figure {
            Figure::Rate(rate) => Some(rate),
            _ => None,
        }
    }
}

/// Every `*.json` record of a results folder, in file-name order (the run names them
/// by step number).
pub fn load_all(dir: &Path) -> Result<Vec<Record>> {
    let read = |path: PathBuf| -> Result<Record> {
        let text = std::fs::read_to_string(&path).map_err(|source| BenchError::Read {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| BenchError::Json {
            what: path.display().to_string(),
            source,
        })
    };
    let entries = std::fs::read_dir(dir).map_err(|source| BenchError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.into_iter().map(read).collect()
}

/// The simple service every stage asks for.
pub const ADDRESS: &str = "post.address.verify";
/// The composite end-to-end stage also asks for.
pub const COMPOSITE: &str = "cooperative.establishment.check";

/// One of the targets, as measured (reported, never asserted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// What it is about.
    pub name: String,
    /// The measured value, if the run measured it.
    pub value: Option<f64>,
    /// Its unit.
    pub unit: String,
    /// `>=` or `<=`.
    pub comparison: String,
    /// The target.
    pub limit: f64,
    /// Whether the value meets it.
    pub met: Option<bool>,
    /// Why the value does not tell the whole story (an overloaded run).
    #[serde(default)]
    pub note: Option<String>,
}

impl Target {
    fn new(name: &str, value: Option<f64>, unit: &str, at_least: bool, limit: f64) -> Target {
        let met = value.map(|v| if at_least { v >= limit } else { v <= limit });
        Target {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            comparison: if at_least { ">=" } else { "<=" }.to_owned(),
            limit,
            met,
            note: None,
        }
    }

    /// A latency target measured by a fixed-rate run: a run that fell behind (overloaded)
    /// misses it whatever its percentiles, which only say how far behind it fell.
    fn latency(name: &str, run: Option<&RateResult>, limit: f64) -> Target {
        let measured = run.filter(|r| r.latency.count > 0);
        let mut target = Target::new(name, measured.map(|r| r.latency.p99_ms), "ms", false, limit);
        if let Some(run) = run.filter(|r| r.overloaded) {
            target.met = Some(false);
            target.note = Some(format!(
                "overloaded: {:.0} of {:.0} req/s done",
                run.completed_per_s, run.target_rate
            ));
        }
        target
    }
}

/// The headline figures and ratios of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// L0: confirmed publishes per second (median).
    pub l0_publish_per_s: Option<f64>,
    /// L0: consumed and acked per second (median).
    pub l0_consume_per_s: Option<f64>,
    /// G: accepted requests per second at saturation.
    pub g_per_s: Option<f64>,
    /// P: the peer's accepted requests per second at saturation.
    pub p_per_s: Option<f64>,
    /// G / L0 publish.
    pub g_over_l0: Option<f64>,
    /// G / P.
    pub g_over_p: Option<f64>,
    /// At saturation, CPU milliseconds per accepted request: of the service's own
    /// processes (G: `api`; P: `peer`), and of the whole system (those, the broker, the
    /// database and the load generator). On two shared cores the whole system's figure
    /// sets the req/s; with the database on its own machine, the service's own does.
    pub cpu_ms_per_request: Vec<CpuPerRequest>,
    /// End to end: what each system completes per second, and its p99 at half that.
    pub end_to_end: Vec<EndToEnd>,
    /// The targets.
    pub targets: Vec<Target>,
}

/// CPU per accepted request of one system at saturation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuPerRequest {
    /// `G` or `P`.
    pub stage: String,
    /// The service's own processes.
    pub service_ms: f64,
    /// Every watched process and the load generator (not `others`).
    pub system_ms: f64,
}

/// The end-to-end capacity of one system for one service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndToEnd {
    /// `production` or `demo`.
    pub system: String,
    /// The service.
    pub service: String,
    /// Verdicts per second at saturation (wrk, `Prefer: wait`).
    pub capacity_per_s: Option<f64>,
    /// p99 at 50 % of that capacity.
    pub p99_at_half_capacity_ms: Option<f64>,
}

/// The fixed-rate run of `stage`/`system`/`service` at `share` % of `basis`'s saturation.
pub fn rate_at<'a>(
    records: &'a [Record],
    (stage, system, service): (&str, &str, &str),
    share: u32,
    basis: &str,
) -> Option<&'a RateResult> {
    records
        .iter()
        .filter(|r| {
            r.label.stage == stage
                && r.label.system == system
                && r.label.service.as_deref() == Some(service)
                && r.label.share == Some(share)
                && r.label.basis.as_deref() == Some(basis)
        })
        .find_map(Record::rate)
}

/// The saturation of `stage`/`system`/`service`, in accepted (or completed) req/s.
pub fn saturation_of(records: &[Record], stage: &str, system: &str, service: &str) -> Option<f64> {
    records.iter().find_map(|r| match &r.figure {
        Figure::Saturation(s)
            if r.label.stage == stage
                && r.label.system == system
                && r.label.service.as_deref() == Some(service) =>
        {
            Some(s.accepted_per_s)
        }
        _ => None,
    })
}

/// The database's work per request of the profiled end-to-end (or accept, `G`) run of
/// `service` in production.
pub fn database_of<'a>(
    records: &'a [Record],
    stage: &str,
    service: &str,
) -> Option<&'a DatabaseWork> {
    records.iter().find_map(|r| match &r.figure {
        Figure::Database(d)
            if r.label.stage == stage
                && r.label.system == "production"
                && r.label.service.as_deref() == Some(service) =>
        {
            Some(d)
        }
        _ => None,
    })
}

/// The headline figures, ratios and targets of a run's records.
pub fn summarise(records: &[Record]) -> Summary {
    let l0 = records.iter().find_map(|r| match &r.figure {
        Figure::L0(l0) => Some(l0),
        _ => None,
    });
    let g = saturation_of(records, "G", "production", ADDRESS);
    let p = saturation_of(records, "P", "peer", ADDRESS);
    let l0_publish = l0.map(|l| l.publish_per_s);
    let g_over_l0 = ratio(g, l0_publish);
    let g_over_p = ratio(g, p);
    let at_half = rate_at(records, ("G", "production", ADDRESS), 50, "G");
    let mut targets = vec![
        Target::new("G / L0 (publish)", g_over_l0, "x", true, 0.25),
        Target::new("G / P", g_over_p, "x", true, 3.0),
        Target::latency("accept p99 at 50 % of G", at_half, 10.0),
    ];
    targets.extend(end_to_end_targets(records, g));
    targets.push(Target::new(
        "peak RSS of an api process",
        api_peak_rss_mb(records),
        "MB",
        false,
        100.0,
    ));
    Summary {
        end_to_end: end_to_end(records),
        l0_publish_per_s: l0_publish,
        l0_consume_per_s: l0.map(|l| l.consume_per_s),
        g_per_s: g,
        p_per_s: p,
        g_over_l0,
        g_over_p,
        cpu_ms_per_request: cpu_per_request(records),
        targets,
    }
}

/// `a / b`, when both were measured and `b` is above zero.
fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b.filter(|b| *b > 0.0)?)
}

/// The largest peak RSS of the current build's api processes, in MB. The baseline's
/// are measured beside them, for comparison, not for the target.
fn api_peak_rss_mb(records: &[Record]) -> Option<f64> {
    records
        .iter()
        .filter(|r| !r.label.system.ends_with(BASELINE))
        .filter_map(|r| match &r.figure {
            Figure::Saturation(s) => Some(&s.usage),
            Figure::Rate(rate) => Some(&rate.usage),
            _ => None,
        })
        .flat_map(|u| u.groups.iter().filter(|g| g.name == "api"))
        .filter_map(|g| g.peak_rss_kib)
        .max()
        .map(|kib| kib as f64 * 1024.0 / 1e6)
}

/// The CPU time per request at saturation of G (the api) and P (the peer): the
/// service's own, and the whole system's but other programs'.
fn cpu_per_request(records: &[Record]) -> Vec<CpuPerRequest> {
    [("G", "api"), ("P", "peer")]
        .into_iter()
        .filter_map(|(stage, own)| {
            records.iter().find_map(|r| match &r.figure {
                Figure::Saturation(s) if r.label.stage == stage && s.wrk.requests > 0 => {
                    let per_request = |cpu: f64| cpu * 1000.0 / s.wrk.requests as f64;
                    let system: f64 = s
                        .usage
                        .groups
                        .iter()
                        .filter(|g| g.name != "others")
                        .map(|g| g.cpu_s)
                        .sum();
                    Some(CpuPerRequest {
                        stage: stage.to_owned(),
                        service_ms: per_request(s.usage.cpu_of(own)),
                        system_ms: per_request(system),
                    })
                }
                _ => None,
            })
        })
        .collect()
}

/// The targets of stage E (end to end), `g` being the accept path's saturation.
fn end_to_end_targets(records: &[Record], g: Option<f64>) -> Vec<Target> {
    let e_sat = |system: &str, service: &str| saturation_of(records, "E", system, service);
    let at_half_of_own = |service: &str| rate_at(records, ("E", "production", service), 50, "E");
    let transactions = |service: &str| database_of(records, "E", service).map(|d| d.transactions);
    let demo_composite = ratio(
        e_sat("demo", COMPOSITE),
        e_sat(&format!("demo{BASELINE}"), COMPOSITE),
    );
    vec![
        Target::new(
            "E post.address.verify saturation / G",
            ratio(e_sat("production", ADDRESS), g),
            "x",
            true,
            0.5,
        ),
        Target::new(
            "E cooperative.establishment.check saturation / G",
            ratio(e_sat("production", COMPOSITE), g),
            "x",
            true,
            0.06,
        ),
        Target::latency(
            "E post.address.verify p99 at 50 % of its own saturation",
            at_half_of_own(ADDRESS),
            25.0,
        ),
        Target::latency(
            "E cooperative.establishment.check p99 at 50 % of its own saturation",
            at_half_of_own(COMPOSITE),
            60.0,
        ),
        Target::new(
            "transactions per end-to-end post.address.verify",
            transactions(ADDRESS),
            "",
            false,
            2.0,
        ),
        Target::new(
            "transactions per end-to-end cooperative.establishment.check",
            transactions(COMPOSITE),
            "",
            false,
            10.0,
        ),
        Target::new(
            "demo (SQLite) composite verdicts/s against the baseline's, same run",
            demo_composite,
            "x",
            true,
            4.0,
        ),
    ]
}

/// Capacity and latency at half of it, end to end, per system and service.
fn end_to_end(records: &[Record]) -> Vec<EndToEnd> {
    ["production", "demo"]
        .iter()
        .flat_map(|system| [ADDRESS, COMPOSITE].map(|service| (*system, service)))
        .map(|(system, service)| EndToEnd {
            system: system.to_owned(),
            service: service.to_owned(),
            capacity_per_s: saturation_of(records, "E", system, service),
            p99_at_half_capacity_ms: rate_at(records, ("E", system, service), 50, "E")
                .map(|r| r.latency.p99_ms),
        })
        .collect()
}

#[cfg(test)]
impl Record {
    /// A saturation of the composite check at stage E by `system`: the record the
    /// tests of the commands and of the report start from.
    pub(crate) fn saturation_sample(system: &str, connections: u32, accepted_per_s: f64) -> Self {
        Record {
            label: Label {
                stage: "E".to_owned(),
                system: system.to_owned(),
                service: Some("cooperative.establishment.check".to_owned()),
                share: None,
                basis: None,
            },
            figure: Figure::Saturation(Saturation {
                wrk: crate::wrk::WrkSummary::default(),
                threads: 2,
                connections,
                end_to_end: true,
                accepted_per_s,
                usage: crate::procs::Usage::default(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::latency::Percentiles;
    use crate::procs::Usage;

    fn e2e_at_half_of_own(overloaded: bool, count: u64, p99_ms: f64) -> Record {
        Record {
            label: Label {
                stage: "E".to_owned(),
                system: "production".to_owned(),
                service: Some(ADDRESS.to_owned()),
                share: Some(50),
                basis: Some("E".to_owned()),
            },
            figure: Figure::Rate(RateResult {
                target_rate: 1000.0,
                scheduled: count,
                ok: count,
                errors: BTreeMap::new(),
                completed_per_s: 400.0,
                overloaded,
                polled: 0,
                verdicts: BTreeMap::new(),
                latency: Percentiles {
                    count,
                    p99_ms,
                    ..Percentiles::default()
                },
                usage: Usage::default(),
            }),
        }
    }

    fn address_target(summary: &Summary) -> &Target {
        summary
            .targets
            .iter()
            .find(|t| t.name.starts_with("E post.address.verify p99"))
            .unwrap()
    }

    #[test]
    fn a_run_that_kept_up_meets_the_latency_target_by_its_p99() {
        let summary = summarise(&[e2e_at_half_of_own(false, 100, 20.0)]);
        let target = address_target(&summary);
        assert_eq!(
            (target.value, target.met, target.note.as_deref()),
            (Some(20.0), Some(true), None)
        );
    }

    #[test]
    fn an_overloaded_run_misses_the_target_whatever_its_percentiles() {
        let summary = summarise(&[e2e_at_half_of_own(true, 0, 0.0)]);
        let target = address_target(&summary);
        assert_eq!(target.value, None, "nothing measured is no value");
        assert_eq!(target.met, Some(false));
        assert!(
            target
                .note
                .as_deref()
                .is_some_and(|n| n.contains("400 of 1000"))
        );
    }

    #[test]
    fn missing_stages_are_not_measured() {
        let summary = summarise(&[]);
        assert!(
            summary
                .targets
                .iter()
                .all(|t| t.value.is_none() && t.met.is_none())
        );
        assert_eq!(summary.g_over_p, None);
    }

    #[test]
    fn the_baselines_api_does_not_count_against_the_rss_target() {
        let with_api_rss = |system: &str, mib: u64| {
            let mut record = e2e_at_half_of_own(false, 100, 20.0);
            record.label.system = system.to_owned();
            if let Figure::Rate(rate) = &mut record.figure {
                rate.usage.groups.push(crate::procs::GroupUsage {
                    name: "api".to_owned(),
                    cpu_s: 1.0,
                    peak_rss_kib: Some(mib * 1024),
                    processes: 1,
                });
            }
            record
        };
        let summary = summarise(&[
            with_api_rss("production", 70),
            with_api_rss(&format!("production{BASELINE}"), 120),
        ]);
        let target = summary
            .targets
            .iter()
            .find(|t| t.name == "peak RSS of an api process")
            .unwrap();
        assert_eq!(target.met, Some(true), "{:?}", target.value);
        assert!(
            target.value.is_some_and(|mb| (mb - 73.4).abs() < 0.1),
            "{:?}",
            target.value
        );
    }
}
