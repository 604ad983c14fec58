//! What an agency's answer means ([`Outcome`]) and what a whole request concludes
//! ([`Verdict`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The outcome of one check against one agency. The wire names (`OK`, `NOT_FOUND`, …)
/// are part of the REST contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The agency confirmed what was asked.
    Ok,
    /// The agency has no record of it.
    NotFound,
    /// The agency has a record, and it contradicts the input (wrong birth date,
    /// expired licence, RED Nitaqat band…).
    Mismatch,
    /// The agency refused the input as malformed (after Rabt's own validation passed).
    InvalidInput,
    /// The agency failed, or answered something Rabt cannot read, on every attempt.
    UpstreamError,
    /// No answer came before the deadline.
    Timeout,
}

impl Outcome {
    /// Every outcome, for exhaustive tests and metrics labels.
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::NotFound,
        Outcome::Mismatch,
        Outcome::InvalidInput,
        Outcome::UpstreamError,
        Outcome::Timeout,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::NotFound => "NOT_FOUND",
            Outcome::Mismatch => "MISMATCH",
            Outcome::InvalidInput => "INVALID_INPUT",
            Outcome::UpstreamError => "UPSTREAM_ERROR",
            Outcome::Timeout => "TIMEOUT",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether the agency gave a definite answer (as opposed to failing to answer).
    pub const fn is_answer(self) -> bool {
        match self {
            Outcome::Ok | Outcome::NotFound | Outcome::Mismatch | Outcome::InvalidInput => true,
            Outcome::UpstreamError | Outcome::Timeout => false,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The conclusion of a whole request over all of its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every required check answered `OK`.
    Pass,
    /// A required check answered with a definite negative (`NOT_FOUND`, `MISMATCH`,
    /// or the agency refused the input).
    Fail,
    /// Every check that answered passed, but at least one required check did not answer
    /// (`TIMEOUT` or `UPSTREAM_ERROR`).
    Partial,
}

impl Verdict {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Partial => "PARTIAL",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Verdict> {
        [Verdict::Pass, Verdict::Fail, Verdict::Partial]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    /// The verdict over checks given as `(outcome, required)`. Optional checks are
    /// reported but never change the verdict. No checks at all is a `PASS` of nothing;
    /// callers never build a request without tasks.
    ///
    /// DESIGN.md: FAIL if any required child is NOT_FOUND or MISMATCH, PARTIAL if all
    /// that answered passed but some did not answer in time, PASS otherwise. An agency
    /// refusing the input (`INVALID_INPUT`) is a definite "no" and so also FAIL; an
    /// agency that kept failing (`UPSTREAM_ERROR`) did not answer, so PARTIAL, like a
    /// timeout — never PASS.
    pub fn from_checks(checks: impl IntoIterator<Item = (Outcome, bool)>) -> Verdict {
        let mut verdict = Verdict::Pass;
        for (outcome, required) in checks {
            if !required {
                continue;
            }
            match outcome {
                Outcome::Ok => {}
                Outcome::NotFound | Outcome::Mismatch | Outcome::InvalidInput => {
                    return Verdict::Fail;
                }
                Outcome::UpstreamError | Outcome::Timeout => verdict = Verdict::Partial,
            }
        }
        verdict
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
            assert_eq!(
                serde_json::to_string(&outcome).unwrap(),
                format!("\"{outcome}\"")
            );
        }
        assert_eq!(Verdict::parse("PARTIAL"), Some(Verdict::Partial));
        assert_eq!(serde_json::to_string(&Verdict::Pass).unwrap(), "\"PASS\"");
    }

    #[test]
    fn verdict_follows_the_design() {
        use Outcome::*;
        assert_eq!(
            Verdict::from_checks([(Ok, true), (Ok, true)]),
            Verdict::Pass
        );
        assert_eq!(
            Verdict::from_checks([(Ok, true), (NotFound, true)]),
            Verdict::Fail
        );
        assert_eq!(
            Verdict::from_checks([(Timeout, true), (Mismatch, true)]),
            Verdict::Fail
        );
        assert_eq!(
            Verdict::from_checks([(Ok, true), (Timeout, true)]),
            Verdict::Partial
        );
        assert_eq!(
            Verdict::from_checks([(UpstreamError, true)]),
            Verdict::Partial
        );
        assert_eq!(
            Verdict::from_checks([(Ok, true), (Mismatch, false)]),
            Verdict::Pass
        );
        assert_eq!(Verdict::from_checks([(InvalidInput, true)]), Verdict::Fail);
    }

    #[test]
    fn every_single_outcome_maps_to_one_verdict() {
        for outcome in Outcome::ALL {
            let verdict = Verdict::from_checks([(outcome, true)]);
            let expected = match outcome {
                Outcome::Ok => Verdict::Pass,
                o if o.is_answer() => Verdict::Fail,
                _ => Verdict::Partial,
            };
            assert_eq!(verdict, expected, "{outcome}");
        }
    }
}
