//! The quick run's sanity check: every stage ran, produced numbers above zero, and every
//! request it sent was accepted (or completed with the expected verdict) without an
//! error. It never checks speed: the machines are shared and noisy.
//!
//! A smoke run (`--smoke`, the test suite's) goes further: what only says the machine
//! was slow — a saturation that measured nothing in its short window, requests still
//! waiting when their time was up, a fixed rate that fell behind, a composite whose
//! check timed out (`PARTIAL`) — is reported as a note and never fails the run. What
//! says the harness or Rabt is broken still fails it: a stage without a record, an
//! answer of 4xx or 5xx, a socket error, a wrong verdict.

use crate::error::{BenchError, Result};
use crate::openloop::RateResult;
use crate::record::{Figure, Record};
use crate::wrk::Saturation;

/// The stages a run must have measured, as (stage, system, service).
const REQUIRED: [(&str, &str, Option<&str>); 8] = [
    ("L0", "broker", None),
    ("G", "production", None),
    ("P", "peer", None),
    ("E", "production", Some("post.address.verify")),
    ("E", "production", Some("cooperative.establishment.check")),
    ("E", "demo", Some("post.address.verify")),
    ("E", "demo", Some("cooperative.establishment.check")),
    ("G", "production", Some("post.address.verify")),
];

/// How strict a check is about what depends on the machine's speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Every shortfall is a problem (a quick run on a quiet machine).
    Full,
    /// Shortfalls that only say the machine was slow are notes (the test suite's smoke run).
    Smoke,
}

/// What a check found: problems fail the run, notes are only printed.
#[derive(Debug, Default, PartialEq)]
pub struct Findings {
    /// What is broken.
    pub problems: Vec<String>,
    /// What only says the machine was slow (smoke runs).
    pub notes: Vec<String>,
}

/// Every problem found in `records`; an error listing them all if there is any. The
/// notes (smoke runs only) are returned for the caller to print.
pub fn sanity(
    records: &[Record],
    expected_verdict: &str,
    strictness: Strictness,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for (stage, system, service) in REQUIRED {
        let present = records.iter().any(|r| {
            r.label.stage == stage
                && r.label.system == system
                && (service.is_none() || r.label.service.as_deref() == service)
        });
        if !present {
            problems.push(format!(
                "no result for {stage} {system} {}",
                service.unwrap_or("")
            ));
        }
    }
    for record in records {
        let name = format!(
            "{} {} {} {}",
            record.label.stage,
            record.label.system,
            record.label.service.as_deref().unwrap_or(""),
            record
                .label
                .share
                .map_or(String::new(), |s| format!("{s} %"))
        );
        let found = check(&record.figure, expected_verdict, strictness);
        problems.extend(found.problems.into_iter().map(|p| format!("{name}: {p}")));
        notes.extend(found.notes.into_iter().map(|n| format!("{name}: {n}")));
    }
    if problems.is_empty() {
        Ok(notes)
    } else {
        Err(BenchError::Insane(problems.join("\n")))
    }
}

/// The reasons of a fixed-rate run's errors that only say an answer came too late.
fn is_slowness(reason: &str) -> bool {
    reason.starts_with("no answer within")
}

fn check(figure: &Figure, expected_verdict: &str, strictness: Strictness) -> Findings {
    let mut expect = Expect {
        strictness,
        found: Findings::default(),
    };
    match figure {
        Figure::L0(l0) => {
            expect.that(l0.publish_per_s > 0.0, false, "no publish rate".to_owned());
            expect.that(l0.consume_per_s > 0.0, false, "no consume rate".to_owned());
        }
        Figure::Saturation(s) => check_saturation(s, &mut expect),
        Figure::Rate(rate) => check_rate(rate, expected_verdict, &mut expect),
        Figure::Profile(p) => expect.that(!p.top.is_empty(), false, "an empty profile".to_owned()),
        Figure::Database(d) => expect.that(
            d.requests > 0 && d.statements > 0.0,
            false,
            "no statements counted".to_owned(),
        ),
    }
    expect.found
}

/// Findings gathered one expectation at a time.
struct Expect {
    strictness: Strictness,
    found: Findings,
}

impl Expect {
    /// Records `what` unless `ok`: a note when it is `slow` (a shortfall the machine's
    /// speed can explain) in a smoke run, a problem otherwise.
    fn that(&mut self, ok: bool, slow: bool, what: String) {
        if ok {
        } else if slow && self.strictness == Strictness::Smoke {
            self.found.notes.push(what);
        } else {
            self.found.problems.push(what);
        }
    }
}

/// A wrk run sent requests, measured answers, and none failed or came too late.
fn check_saturation(s: &Saturation, expect: &mut Expect) {
    let w = &s.wrk;
    expect.that(
        w.requests > 0 || w.sent > 0 || w.timeouts > 0,
        false,
        "wrk sent nothing".to_owned(),
    );
    expect.that(
        s.accepted_per_s > 0.0,
        true,
        "measured nothing: no answer came within the window".to_owned(),
    );
    // Broken: socket errors, or a 4xx/5xx. Slow: wrk's timeouts, and answers
    // that are not errors but not the verdict either (a 202 end to end).
    let broken = w.connect_errors + w.read_errors + w.write_errors + w.status_errors;
    expect.that(
        broken == 0,
        false,
        format!("{broken} failed requests: {w:?}"),
    );
    let late = w.timeouts + w.unexpected.saturating_sub(w.status_errors);
    expect.that(
        late == 0,
        true,
        format!("{late} requests without a verdict in time"),
    );
}

/// A fixed-rate run answered every request it scheduled, in time, with a latency and
/// the expected verdict.
fn check_rate(rate: &RateResult, expected_verdict: &str, expect: &mut Expect) {
    let (late, broken): (Vec<_>, Vec<_>) = rate
        .errors
        .iter()
        .partition(|(reason, _)| is_slowness(reason));
    expect.that(rate.scheduled > 0, false, "nothing scheduled".to_owned());
    expect.that(broken.is_empty(), false, format!("errors: {broken:?}"));
    expect.that(late.is_empty(), true, format!("too late: {late:?}"));
    expect.that(
        !rate.overloaded,
        true,
        "fell behind its rate (overloaded)".to_owned(),
    );
    let answered_or_late = rate.ok + late.iter().map(|(_, n)| **n).sum::<u64>();
    expect.that(
        answered_or_late == rate.scheduled,
        false,
        format!("{} of {} requests answered", rate.ok, rate.scheduled),
    );
    expect.that(
        rate.latency.count > 0 && rate.latency.p50_ms > 0.0,
        rate.ok == 0,
        "no latency".to_owned(),
    );
    check_verdicts(rate, expected_verdict, expect);
}

/// Every verdict is the expected one, or `PARTIAL`: a check that timed out makes a
/// composite PARTIAL, a slow machine's verdict, not a wrong one. Any other is wrong.
fn check_verdicts(rate: &RateResult, expected_verdict: &str, expect: &mut Expect) {
    let verdict = |name: &str| rate.verdicts.get(name).copied().unwrap_or(0);
    let verdicts: u64 = rate.verdicts.values().sum();
    let partial = if expected_verdict == "PARTIAL" {
        0
    } else {
        verdict("PARTIAL")
    };
    expect.that(
        verdict(expected_verdict) + partial == verdicts,
        false,
        format!(
            "verdicts other than {expected_verdict}: {:?}",
            rate.verdicts
        ),
    );
    expect.that(
        partial == 0,
        true,
        format!("{partial} PARTIAL (a check timed out)"),
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::latency::Percentiles;
    use crate::openloop::RateResult;
    use crate::procs::Usage;
    use crate::record::Label;
    use crate::wrk::{Saturation, WrkSummary};

    fn rate(ok: u64, errors: &[(&str, u64)], verdicts: &[(&str, u64)]) -> Figure {
        Figure::Rate(RateResult {
            target_rate: 100.0,
            scheduled: 10,
            ok,
            errors: errors.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            completed_per_s: 100.0,
            overloaded: false,
            polled: 0,
            verdicts: verdicts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
            latency: Percentiles {
                count: ok,
                p50_ms: 1.0,
                ..Percentiles::default()
            },
            usage: Usage::default(),
        })
    }

    use Strictness::{Full, Smoke};

    fn problems(figure: &Figure, strictness: Strictness) -> Vec<String> {
        check(figure, "PASS", strictness).problems
    }

    #[test]
    fn a_clean_fixed_rate_run_is_sane() {
        assert_eq!(
            check(&rate(10, &[], &[("PASS", 10)]), "PASS", Full),
            Findings::default()
        );
        assert_eq!(
            check(&rate(10, &[], &[]), "PASS", Full),
            Findings::default(),
            "accept runs have no verdicts"
        );
    }

    #[test]
    fn errors_lost_requests_and_wrong_verdicts_are_problems() {
        for strictness in [Full, Smoke] {
            assert_eq!(
                problems(&rate(9, &[("HTTP 500", 1)], &[]), strictness),
                ["errors: [(\"HTTP 500\", 1)]", "9 of 10 requests answered"]
            );
            assert_eq!(
                problems(&rate(10, &[], &[("PASS", 9), ("FAIL", 1)]), strictness).len(),
                1
            );
            assert_eq!(
                problems(&rate(8, &[], &[]), strictness),
                ["8 of 10 requests answered"],
                "requests neither answered nor late are lost from the count"
            );
        }
    }

    #[test]
    fn late_answers_and_partial_verdicts_are_notes_in_a_smoke_run_only() {
        let slow = rate(
            7,
            &[("no answer within 60s", 3)],
            &[("PASS", 5), ("PARTIAL", 2)],
        );
        assert_eq!(
            problems(&slow, Full).len(),
            2,
            "{:?}",
            problems(&slow, Full)
        );
        let smoke = check(&slow, "PASS", Smoke);
        assert!(smoke.problems.is_empty(), "{:?}", smoke.problems);
        assert_eq!(smoke.notes.len(), 2, "{:?}", smoke.notes);
    }

    fn saturation(accepted_per_s: f64, wrk: WrkSummary) -> Figure {
        Figure::Saturation(Saturation {
            wrk,
            threads: 2,
            connections: 8,
            end_to_end: true,
            accepted_per_s,
            usage: Usage::default(),
        })
    }

    #[test]
    fn a_saturation_that_measured_nothing_is_a_note_in_a_smoke_run() {
        let nothing = saturation(
            0.0,
            WrkSummary {
                requests: 0,
                timeouts: 0,
                unexpected: 0,
                ..WrkSummary::default()
            },
        );
        assert_eq!(problems(&nothing, Full).len(), 2);
        let smoke = check(&nothing, "PASS", Smoke);
        assert_eq!(
            (smoke.problems.len(), smoke.notes.len()),
            (1, 1),
            "{smoke:?}"
        );
        assert_eq!(
            smoke.problems,
            ["wrk sent nothing"],
            "wrk must have run at all"
        );
        let waited = saturation(
            0.0,
            WrkSummary {
                requests: 0,
                timeouts: 8,
                ..WrkSummary::default()
            },
        );
        assert!(check(&waited, "PASS", Smoke).problems.is_empty());
        // Sent, but the window closed before any answer: slow, not broken.
        let unanswered = saturation(
            0.0,
            WrkSummary {
                requests: 0,
                sent: 8,
                ..WrkSummary::default()
            },
        );
        let smoke = check(&unanswered, "PASS", Smoke);
        assert!(smoke.problems.is_empty(), "{smoke:?}");
        assert_eq!(smoke.notes.len(), 1, "{smoke:?}");
    }

    #[test]
    fn error_statuses_fail_a_smoke_saturation() {
        let errors = saturation(
            5.0,
            WrkSummary {
                requests: 20,
                status_errors: 3,
                unexpected: 3,
                ..WrkSummary::default()
            },
        );
        assert_eq!(
            problems(&errors, Smoke).len(),
            1,
            "{:?}",
            problems(&errors, Smoke)
        );
        let not_ready = saturation(
            5.0,
            WrkSummary {
                requests: 20,
                unexpected: 4,
                ..WrkSummary::default()
            },
        );
        assert!(
            problems(&not_ready, Smoke).is_empty(),
            "a 202 end to end is lateness"
        );
        assert_eq!(problems(&not_ready, Full).len(), 1);
    }

    #[test]
    fn missing_stages_are_named() {
        let record = Record {
            label: Label {
                stage: "G".to_owned(),
                system: "production".to_owned(),
                service: Some("post.address.verify".to_owned()),
                share: Some(25),
                basis: Some("G".to_owned()),
            },
            figure: rate(10, &[], &[]),
        };
        let error = sanity(&[record], "PASS", Smoke).unwrap_err().to_string();
        assert!(error.contains("no result for L0 broker"), "{error}");
        assert!(
            error.contains("no result for E demo cooperative.establishment.check"),
            "{error}"
        );
    }
}
