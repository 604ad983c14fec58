//! How faults looked to cooperatives: per window, the submissions refused or slowed,
//! how, and when.

use std::collections::BTreeMap;

use super::{Ledger, report};

/// One submission as the cooperative lived it, in seconds since the drill began.
#[derive(Debug, Clone)]
pub(super) struct Attempted {
    pub(super) window: String,
    pub(super) started: f64,
    pub(super) ended: f64,
    pub(super) refusals: u64,
    /// Why each refused attempt was refused: its status, or `connection`.
    pub(super) reasons: Vec<String>,
    pub(super) answered: bool,
}

/// Per window, the submissions refused or slowed, timed from the window's start.
pub(super) fn disruption(ledger: &Ledger) -> Vec<report::Disruption> {
    ledger
        .windows
        .iter()
        .map(|(window, start)| {
            let mine: Vec<&Attempted> = ledger
                .attempts
                .iter()
                .filter(|a| &a.window == window)
                .collect();
            let slow = |a: &Attempted| {
                a.answered && (a.ended - a.started) * 1000.0 > report::SLOW_MS as f64
            };
            let troubled: Vec<&&Attempted> =
                mine.iter().filter(|a| a.refusals > 0 || slow(a)).collect();
            let span = (!troubled.is_empty()).then(|| {
                let first = troubled.iter().map(|a| a.started).fold(f64::MAX, f64::min);
                let last = troubled.iter().map(|a| a.ended).fold(f64::MIN, f64::max);
                (first - start, last - start)
            });
            report::Disruption {
                window: window.clone(),
                submitted: mine.len() as u64,
                refused: mine.iter().map(|a| a.refusals).sum(),
                reasons: mine.iter().flat_map(|a| a.reasons.iter()).fold(
                    BTreeMap::new(),
                    |mut counts, reason| {
                        *counts.entry(reason.clone()).or_default() += 1;
                        counts
                    },
                ),
                slowed: mine.iter().filter(|a| slow(a)).count() as u64,
                span,
                max_ms: mine
                    .iter()
                    .filter(|a| a.answered)
                    .map(|a| ((a.ended - a.started) * 1000.0) as u64)
                    .max()
                    .unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(window: &str, started: f64, ended: f64, refusals: u64) -> Attempted {
        Attempted {
            window: window.to_owned(),
            started,
            ended,
            refusals,
            reasons: vec!["503".to_owned(); refusals as usize],
            answered: true,
        }
    }

    #[test]
    fn the_disruption_of_a_fault_spans_its_refused_and_slowed_submissions() {
        let ledger = Ledger {
            windows: vec![("baseline".into(), 0.0), ("broker-node-kill".into(), 10.0)],
            attempts: vec![
                attempt("baseline", 1.0, 1.01, 0),
                attempt("broker-node-kill", 10.5, 10.52, 0),
                attempt("broker-node-kill", 11.0, 13.5, 0),
                attempt("broker-node-kill", 12.0, 12.8, 2),
                attempt("broker-node-kill", 15.0, 15.02, 0),
            ],
            ..Ledger::default()
        };
        let found = disruption(&ledger);
        assert_eq!(found.len(), 2);
        let quiet = &found[0];
        assert_eq!(
            (quiet.submitted, quiet.refused, quiet.slowed, quiet.span),
            (1, 0, 0, None)
        );
        let fault = &found[1];
        assert_eq!((fault.submitted, fault.refused, fault.slowed), (4, 2, 1));
        let (from, to) = fault.span.unwrap();
        assert!(
            (from - 1.0).abs() < 1e-9 && (to - 3.5).abs() < 1e-9,
            "{from} {to}"
        );
        assert_eq!(fault.max_ms, 2500);
        assert_eq!(fault.reasons.get("503"), Some(&2));
    }
}
