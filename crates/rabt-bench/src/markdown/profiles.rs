//! The profiles section: per-request counters, where the time goes (inclusive), the
//! components and the hottest symbols of each profiled process.

use std::fmt::Write;

use super::thousands;
use crate::record::{Figure, Record};

pub(super) fn profiles(out: &mut String, records: &[Record]) {
    let profiles: Vec<_> = records
        .iter()
        .filter_map(|r| match &r.figure {
            Figure::Profile(p) => Some(p),
            _ => None,
        })
        .collect();
    if profiles.is_empty() {
        return;
    }
    out.push_str("## CPU profiles (this run)\n\n");
    for p in profiles {
        let _ = write!(out, "### {} — {}\n\n", p.process, p.workload);
        if let (Some(c), Some(n)) = (p.counters, p.requests.filter(|n| *n > 0)) {
            let n = n as f64;
            let _ = write!(
                out,
                "{} requests answered: per request {:.2} ms of this process's CPU, {:.1} \
                 context switches, {:.2} CPU migrations (`perf stat`).\n\n",
                thousands(n),
                c.cpu_ms / n,
                c.context_switches as f64 / n,
                c.cpu_migrations as f64 / n
            );
        }
        if !p.inclusive.is_empty() {
            out.push_str(
                "Where the time goes (inclusive: in the frame and what it called):\n\n\
                 | inclusive % | frame |\n|---|---|\n",
            );
            for h in &p.inclusive {
                let _ = writeln!(
                    out,
                    "| {:.1} | `{}` |",
                    h.inclusive.unwrap_or(0.0),
                    symbol(&h.symbol)
                );
            }
            out.push('\n');
        }
        out.push_str("By component (self time):\n\n| component | % |\n|---|---|\n");
        for c in p.components.iter().filter(|c| c.percent >= 0.5) {
            let _ = writeln!(out, "| {} | {:.1} |", c.name, c.percent);
        }
        out.push_str("\nHottest symbols (self time):\n\n| % | where | symbol |\n|---|---|---|\n");
        for h in &p.top {
            let _ = writeln!(
                out,
                "| {:.1} | {} | `{}` |",
                h.percent,
                h.dso,
                symbol(&h.symbol)
            );
        }
        out.push('\n');
    }
}

/// A symbol cut to a readable length, safe inside a table cell.
fn symbol(symbol: &str) -> String {
    let cut: String = symbol.chars().take(150).collect();
    cut.replace('|', "\\|")
}
