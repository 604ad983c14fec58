//! "Against the baseline": a run with `--baseline REV` measures that revision's build
//! interleaved with the current one (systems `production@baseline`, `demo@baseline`),
//! so before and after are one run's two columns, not two runs on a noisy machine.

use std::fmt::Write;

use crate::record::{BASELINE, Figure, Label, Record};

use super::{ms, share_of, thousands};

/// The table comparing every figure measured for both builds; nothing without a
/// baseline.
pub(super) fn against(out: &mut String, records: &[Record]) {
    let pairs: Vec<(&Record, &Record)> = records
        .iter()
        .filter_map(|base| {
            let system = base.label.system.strip_suffix(BASELINE)?;
            let twin = records
                .iter()
                .find(|r| twin_of(&r.label, &base.label, system))?;
            Some((twin, base))
        })
        .collect();
    if pairs.is_empty() {
        return;
    }
    out.push_str(
        "## Against the baseline\n\nThe `--baseline` revision, built the same way and measured \
         in this same run beside the current build, the two taking turns at every \
         measurement (same machine minute, database and broker): saturations in req/s \
         (more is better); fixed rates, offered to both at the same shares of the current \
         build's saturation, by their p50 and p99 in ms (less is better).\n\n\
         | stage | system | service | figure | baseline | current | current / baseline |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (current, base) in pairs {
        for (figure, before, after) in figures(current, base) {
            let ratio = if before > 0.0 {
                format!("{:.2}×", after / before)
            } else {
                "—".to_owned()
            };
            let show = |v: f64| {
                if figure.ends_with("req/s") {
                    thousands(v)
                } else {
                    ms(v)
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {figure} | {} | {} | {ratio} |",
                current.label.stage,
                current.label.system,
                current.label.service.as_deref().unwrap_or("—"),
                show(before),
                show(after),
            );
        }
    }
    out.push('\n');
}

/// Whether `label` is the current build's twin of the baseline's `base` (whose system
/// without its suffix is `system`).
fn twin_of(label: &Label, base: &Label, system: &str) -> bool {
    label.system == system
        && label.stage == base.stage
        && label.service == base.service
        && label.share == base.share
        && label.basis == base.basis
}

/// `(figure, baseline, current)` of two records of the same kind.
fn figures(current: &Record, base: &Record) -> Vec<(String, f64, f64)> {
    match (&current.figure, &base.figure) {
        (Figure::Saturation(now), Figure::Saturation(then)) => {
            vec![(
                "saturation, req/s".to_owned(),
                then.accepted_per_s,
                now.accepted_per_s,
            )]
        }
        (Figure::Rate(now), Figure::Rate(then)) => {
            let at = share_of(&current.label);
            vec![
                (
                    format!("p50 at {at}, ms"),
                    then.latency.p50_ms,
                    now.latency.p50_ms,
                ),
                (
                    format!("p99 at {at}, ms"),
                    then.latency.p99_ms,
                    now.latency.p99_ms,
                ),
            ]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saturation(system: &str, per_s: f64) -> Record {
        Record::saturation_sample(system, 64, per_s)
    }

    #[test]
    fn each_baseline_figure_is_shown_beside_its_twin() {
        let mut out = String::new();
        against(
            &mut out,
            &[saturation("demo", 300.0), saturation("demo@baseline", 60.0)],
        );
        assert!(out.contains("| E | demo | cooperative.establishment.check | saturation, req/s | 60 | 300 | 5.00× |"), "{out}");
    }

    #[test]
    fn no_baseline_no_section() {
        let mut out = String::new();
        against(&mut out, &[saturation("demo", 300.0)]);
        assert!(out.is_empty());
    }
}
