//! What a CPU profile shows. `perf record --call-graph dwarf` of a process under load,
//! read back with `perf report --stdio --children --sort dso,sym -g none`: each symbol's
//! own share of the samples (self) and the share spent in it and what it called
//! (inclusive). Summarised into the hottest symbols, the share of each component (the
//! crate a symbol belongs to, the kernel, libc), and the inclusive share of the frames
//! that say where the time goes (Rabt's own functions, the database round trips, the
//! pool's connection checks, logging). `perf stat -x,` over the same run gives CPU time
//! and context switches per request.

use serde::{Deserialize, Serialize};

use crate::error::{BenchError, Result};

/// One symbol of the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hot {
    /// Share of the process's samples spent in this symbol itself.
    pub percent: f64,
    /// Share spent in it and in what it called (with call graphs).
    #[serde(default)]
    pub inclusive: Option<f64>,
    /// The binary or library holding it.
    pub dso: String,
    /// The (demangled) symbol.
    pub symbol: String,
}

/// A component's share of the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// e.g. `sqlx (PostgreSQL driver)`, `kernel`.
    pub name: String,
    /// Its share of the samples, in percent.
    pub percent: f64,
}

/// Software counters of the process over the profiled run (`perf stat`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Counters {
    /// CPU time, all threads.
    pub cpu_ms: f64,
    /// Context switches, all threads.
    pub context_switches: u64,
    /// Moves of a thread from one CPU to another.
    pub cpu_migrations: u64,
}

/// A profile, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// The process profiled (`api`, `worker`, …).
    pub process: String,
    /// What it was doing.
    pub workload: String,
    /// Requests answered during the profiled run, if known.
    #[serde(default)]
    pub requests: Option<u64>,
    /// The process's counters over the run, if measured.
    #[serde(default)]
    pub counters: Option<Counters>,
    /// The hottest symbols by self time, hottest first.
    pub top: Vec<Hot>,
    /// The frames that say where the time goes, by inclusive share.
    #[serde(default)]
    pub inclusive: Vec<Hot>,
    /// Every component, largest first.
    pub components: Vec<Component>,
}

/// Frames worth their inclusive share: Rabt's own functions, and the library calls the
/// profiles showed to matter (a database round trip, the pool's check before lending a
/// connection, logging, the broker's I/O loop, writing an HTTP answer, agency calls).
const TELLING_FRAMES: [&str; 10] = [
    "rabt_",
    "PgConnection as sqlx_core::connection::Connection>::ping",
    "sqlx_core::net::socket::Write<S>",
    "sqlx_core::pool::Pool<DB>::acquire",
    "return_to_pool",
    "tracing_subscriber::fmt::Subscriber<N,E,F,W> as tracing_core::subscriber::Subscriber>::event",
    "lapin::io_loop::IoLoop<RK,C>::start",
    "Dispatcher<D,Bs,I,T>::poll_write",
    "jsonschema",
    "reqwest::async_impl::client::Client::execute_request",
];

/// Component names, matched against the symbol (first match wins: the specific crates
/// before the standard library, whose generic code is instantiated inside them).
const COMPONENTS: [(&str, &[&str]); 14] = [
    ("sqlx (PostgreSQL/SQLite driver)", &["sqlx", "libsqlite3"]),
    ("lapin (AMQP client)", &["lapin", "amq_protocol"]),
    (
        "jsonschema / regex",
        &["jsonschema", "referencing", "regex", "fancy_regex"],
    ),
    ("serde_json", &["serde_json", "serde::"]),
    ("tracing (logging)", &["tracing"]),
    (
        "hyper / axum / tower (HTTP)",
        &["hyper", "axum", "tower", "http::", "httparse"],
    ),
    (
        "rustls / aws-lc (TLS, crypto)",
        &["rustls", "aws_lc", "ring::"],
    ),
    ("sha2 / hmac (digests)", &["sha2", "hmac", "digest::"]),
    ("chrono / uuid / ids", &["chrono", "uuid"]),
    ("reqwest (agency calls)", &["reqwest"]),
    ("tokio (runtime, I/O, timers)", &["tokio", "mio::"]),
    ("rabt's own code", &["rabt"]),
    ("quick_xml (SOAP)", &["quick_xml"]),
    (
        "std / alloc (allocation, copies, formatting)",
        &["alloc::", "core::", "std::", "hashbrown"],
    ),
];

/// Which component a sample belongs to.
fn component(dso: &str, symbol: &str) -> &'static str {
    if dso.contains("kernel") {
        return "kernel (syscalls, TCP, scheduling)";
    }
    if dso.starts_with("libc") || dso.starts_with("ld-linux") {
        return "libc (malloc/free, memcpy, syscall wrappers)";
    }
    if dso.starts_with("libsqlite3") {
        return "sqlx (PostgreSQL/SQLite driver)";
    }
    COMPONENTS
        .iter()
        .find(|(_, needles)| needles.iter().any(|n| symbol.contains(n)))
        .map_or("other", |(name, _)| name)
}

/// One report line: `[children%] self% dso [.|k] symbol`.
fn parse_line(line: &str) -> Option<Hot> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let (rest, symbol) = line
        .split_once(" [.] ")
        .or_else(|| line.split_once(" [k] "))?;
    let mut fields = rest.split_whitespace();
    let percent = |f: Option<&str>| f?.strip_suffix('%')?.parse::<f64>().ok();
    let first = percent(fields.next())?;
    let mut rest: Vec<&str> = fields.collect();
    let (inclusive, own) = match rest.first().and_then(|f| percent(Some(f))) {
        Some(own) => {
            rest.remove(0);
            (Some(first), own)
        }
        None => (None, first),
    };
    Some(Hot {
        percent: own,
        inclusive,
        dso: rest.join(" "),
        symbol: symbol.trim().to_owned(),
    })
}

/// Reads `perf stat -x,` output (CPU time, context switches, migrations).
pub fn parse_counters(text: &str) -> Option<Counters> {
    let mut counters = Counters::default();
    let mut found = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        let (Some(value), Some(event)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        match event.trim() {
            "task-clock" => counters.cpu_ms = value,
            "context-switches" => counters.context_switches = value as u64,
            "cpu-migrations" => counters.cpu_migrations = value as u64,
            _ => continue,
        }
        found = true;
    }
    found.then_some(counters)
}

/// Reads a `perf report` (flat, or `--children` with call graphs) into a summary.
pub fn summarise(
    process: &str,
    workload: &str,
    report: &str,
    top: usize,
) -> Result<ProfileSummary> {
    let mut hot: Vec<Hot> = report.lines().filter_map(parse_line).collect();
    if hot.is_empty() {
        return Err(BenchError::Tool {
            program: "perf report".to_owned(),
            detail: "no samples in the report".to_owned(),
        });
    }
    let mut components: Vec<Component> = Vec::new();
    for h in &hot {
        let name = component(&h.dso, &h.symbol);
        match components.iter_mut().find(|c| c.name == name) {
            Some(c) => c.percent += h.percent,
            None => components.push(Component {
                name: name.to_owned(),
                percent: h.percent,
            }),
        }
    }
    components.sort_by(|a, b| b.percent.total_cmp(&a.percent));
    let mut inclusive: Vec<Hot> = hot
        .iter()
        .filter(|h| h.inclusive.is_some() && !h.dso.contains("kernel"))
        .filter(|h| TELLING_FRAMES.iter().any(|f| h.symbol.contains(f)))
        .cloned()
        .collect();
    inclusive.sort_by(|a, b| {
        b.inclusive
            .unwrap_or(0.0)
            .total_cmp(&a.inclusive.unwrap_or(0.0))
    });
    inclusive.truncate(top);
    hot.retain(|h| h.percent > 0.0);
    hot.sort_by(|a, b| b.percent.total_cmp(&a.percent));
    hot.truncate(top);
    Ok(ProfileSummary {
        process: process.to_owned(),
        workload: workload.to_owned(),
        requests: None,
        counters: None,
        top: hot,
        inclusive,
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAT: &str = "# Samples: 1K of event 'cpu-clock'\n#\n\
        # Overhead  Shared Object      Symbol\n\
        #\n\
        \x20   20.00%  [kernel.kallsyms]  [k] _raw_spin_unlock_irqrestore\n\
        \x20   12.50%  rabt               [.] <sqlx_postgres::connection::PgConnection as sqlx_core::connection::Connection>::ping\n\
        \x20    7.50%  libc.so.6          [.] __memmove_avx_unaligned_erms\n\
        \x20    5.00%  rabt               [.] core::ptr::drop_in_place<tracing_subscriber::fmt::Layer>\n\
        \x20    2.00%  rabt               [.] rabt_api::requests::create::{{closure}}\n";

    const CHILDREN: &str = "# Children      Self  Shared Object  Symbol\n\
        \x20   64.34%     0.91%  [kernel.kallsyms]  [k] do_syscall_64\n\
        \x20   36.66%     0.75%  rabt               [.] rabt_store::accept::<impl rabt_store::connect::Store>::accept_request::{{closure}}\n\
        \x20   14.88%     0.08%  rabt               [.] <sqlx_postgres::connection::PgConnection as sqlx_core::connection::Connection>::ping::{{closure}}\n\
        \x20    5.00%     5.00%  libc.so.6          [.] _int_malloc\n\
        \x20    3.00%     0.00%  rabt               [.] tokio::runtime::task::harness::Harness<T,S>::poll\n";

    #[test]
    fn a_flat_report_gives_symbols_and_components() {
        let summary = summarise("api", "G at 50 %", FLAT, 3).unwrap();
        assert_eq!(summary.top.len(), 3);
        assert_eq!(summary.top[0].dso, "[kernel.kallsyms]");
        assert_eq!(summary.top[1].percent, 12.5);
        assert!(
            summary.inclusive.is_empty(),
            "no call graph, no inclusive shares"
        );
        let share = |name: &str| {
            summary
                .components
                .iter()
                .find(|c| c.name.starts_with(name))
                .map(|c| c.percent)
        };
        assert_eq!(share("kernel"), Some(20.0));
        assert_eq!(share("sqlx"), Some(12.5));
        assert_eq!(share("libc"), Some(7.5));
        assert_eq!(share("tracing"), Some(5.0));
        assert_eq!(share("rabt's own"), Some(2.0));
    }

    #[test]
    fn a_children_report_gives_the_telling_frames_by_inclusive_share() {
        let summary = summarise("api", "G", CHILDREN, 10).unwrap();
        let frames: Vec<(f64, &str)> = summary
            .inclusive
            .iter()
            .map(|h| (h.inclusive.unwrap(), h.symbol.as_str()))
            .collect();
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert!(frames[0].1.starts_with("rabt_store::accept"));
        assert_eq!(frames[1].0, 14.88);
        assert_eq!(
            summary.top[0].symbol, "_int_malloc",
            "self time orders the top"
        );
    }

    #[test]
    fn perf_stat_counters_are_read() {
        let text = "# started on Sun Nov 29\n\n\
            2345.67,msec,task-clock,2345672000,100.00,0.235,CPUs utilized\n\
            1234,,context-switches,2345672000,100.00,526.048,/sec\n\
            12,,cpu-migrations,2345672000,100.00,5.116,/sec\n";
        assert_eq!(
            parse_counters(text),
            Some(Counters {
                cpu_ms: 2345.67,
                context_switches: 1234,
                cpu_migrations: 12
            })
        );
        assert_eq!(parse_counters("nothing"), None);
    }

    #[test]
    fn an_empty_report_is_an_error() {
        assert!(summarise("api", "idle", "# nothing\n", 10).is_err());
    }
}
