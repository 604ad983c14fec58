//! The quick run's sanity check: every stage ran, produced numbers above zero, and every
//! request it sent was accepted (or completed with the expected verdict) without an
//! error. It never checks speed: the machines are shared and noisy.

use crate::error::{BenchError, Result};
use crate::record::{Figure, Record};

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

/// Every problem found in `records`; an error listing them all if there is any.
pub fn sanity(records: &[Record], expected_verdict: &str) -> Result<()> {
    let mut problems = Vec::new();
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
        problems.extend(
            check(&record.figure, expected_verdict)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(BenchError::Insane(problems.join("\n")))
    }
}

fn check(figure: &Figure, expected_verdict: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |ok: bool, problem: String| {
        if !ok {
            problems.push(problem);
        }
    };
    match figure {
        Figure::L0(l0) => {
            expect(l0.publish_per_s > 0.0, "no publish rate".to_owned());
            expect(l0.consume_per_s > 0.0, "no consume rate".to_owned());
        }
        Figure::Saturation(s) => {
            expect(s.wrk.requests > 0, "wrk sent nothing".to_owned());
            expect(s.accepted_per_s > 0.0, "nothing accepted".to_owned());
            expect(
                s.wrk.failures() == 0,
                format!("{} failed requests: {:?}", s.wrk.failures(), s.wrk),
            );
        }
        Figure::Rate(rate) => {
            let errors: u64 = rate.errors.values().sum();
            expect(rate.scheduled > 0, "nothing scheduled".to_owned());
            expect(errors == 0, format!("errors: {:?}", rate.errors));
            expect(
                rate.ok == rate.scheduled,
                format!("{} of {} requests answered", rate.ok, rate.scheduled),
            );
            expect(
                rate.latency.count > 0 && rate.latency.p50_ms > 0.0,
                "no latency".to_owned(),
            );
            let verdicts: u64 = rate.verdicts.values().sum();
            let expected = rate.verdicts.get(expected_verdict).copied().unwrap_or(0);
            expect(
                expected == verdicts,
                format!(
                    "verdicts other than {expected_verdict}: {:?}",
                    rate.verdicts
                ),
            );
        }
        Figure::Profile(p) => expect(!p.top.is_empty(), "an empty profile".to_owned()),
    }
    problems
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::latency::Percentiles;
    use crate::openloop::RateResult;
    use crate::procs::Usage;
    use crate::record::Label;

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

    #[test]
    fn a_clean_fixed_rate_run_is_sane() {
        assert!(check(&rate(10, &[], &[("PASS", 10)]), "PASS").is_empty());
        assert!(
            check(&rate(10, &[], &[]), "PASS").is_empty(),
            "accept runs have no verdicts"
        );
    }

    #[test]
    fn errors_lost_requests_and_wrong_verdicts_are_problems() {
        assert_eq!(check(&rate(9, &[("HTTP 500", 1)], &[]), "PASS").len(), 2);
        assert_eq!(
            check(&rate(10, &[], &[("PASS", 9), ("FAIL", 1)]), "PASS").len(),
            1
        );
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
        let error = sanity(&[record], "PASS").unwrap_err().to_string();
        assert!(error.contains("no result for L0 broker"), "{error}");
        assert!(
            error.contains("no result for E demo cooperative.establishment.check"),
            "{error}"
        );
    }
}
