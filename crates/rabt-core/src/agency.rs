//! The agencies Rabt links cooperatives to. A closed enum: adding an agency is a code
//! change that the compiler walks through every `match`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A government agency behind one adapter crate.
///
/// The wire name (`as_str`) is the RabbitMQ routing key, the queue suffix
/// (`rabt.tasks.<agency>`) and the first segment of a service name's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agency {
    /// Ministry of Interior (Elm Yakeen style identity service).
    Interior,
    /// Ministry of Health (health certificates).
    Health,
    /// Ministry of Human Resources and Social Development (Qiwa style).
    Labor,
    /// Ministry of Municipalities (Balady style licences).
    Municipal,
    /// Federation of Saudi Chambers.
    Chambers,
    /// Saudi Post (SPL National Address style).
    SaudiPost,
}

/// A string that names no agency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown agency `{0}` (expected one of: {expected})", expected = Agency::wire_names().join(", "))]
pub struct UnknownAgency(pub String);

impl Agency {
    /// The wire names of [`Agency::ALL`], in its order: every list of agencies shown to
    /// a client (the OpenAPI document's enums, error messages) is made from it.
    pub fn wire_names() -> [&'static str; Agency::ALL.len()] {
        Agency::ALL.map(Agency::as_str)
    }

    /// Every agency, in the order of DESIGN.md's configuration contract (the simulators
    /// listen on `base + index`).
    pub const ALL: [Agency; 6] = [
        Agency::Interior,
        Agency::Health,
        Agency::Labor,
        Agency::Municipal,
        Agency::Chambers,
        Agency::SaudiPost,
    ];

    /// The wire name: routing key, queue suffix, URL segment.
    pub const fn as_str(self) -> &'static str {
        match self {
            Agency::Interior => "interior",
            Agency::Health => "health",
            Agency::Labor => "labor",
            Agency::Municipal => "municipal",
            Agency::Chambers => "chambers",
            Agency::SaudiPost => "saudi-post",
        }
    }

    /// The suffix of the agency's environment variables, e.g. `SAUDI_POST` in
    /// `RABT_AGENCY_SAUDI_POST_URL`.
    pub const fn env_name(self) -> &'static str {
        match self {
            Agency::Interior => "INTERIOR",
            Agency::Health => "HEALTH",
            Agency::Labor => "LABOR",
            Agency::Municipal => "MUNICIPAL",
            Agency::Chambers => "CHAMBERS",
            Agency::SaudiPost => "SAUDI_POST",
        }
    }

    /// The position in [`Agency::ALL`], used for port offsets.
    pub fn index(self) -> usize {
        Agency::ALL
            .iter()
            .position(|a| *a == self)
            .unwrap_or_default()
    }

    /// The agency's name for people, in English and Arabic.
    pub const fn display_names(self) -> (&'static str, &'static str) {
        match self {
            Agency::Interior => ("Ministry of Interior", "وزارة الداخلية"),
            Agency::Health => ("Ministry of Health", "وزارة الصحة"),
            Agency::Labor => (
                "Ministry of Human Resources and Social Development",
                "وزارة الموارد البشرية والتنمية الاجتماعية",
            ),
            Agency::Municipal => (
                "Ministry of Municipalities and Housing",
                "وزارة البلديات والإسكان",
            ),
            Agency::Chambers => ("Federation of Saudi Chambers", "اتحاد الغرف السعودية"),
            Agency::SaudiPost => ("Saudi Post (SPL)", "البريد السعودي (سبل)"),
        }
    }
}

impl fmt::Display for Agency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Agency {
    type Err = UnknownAgency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Agency::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAgency(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_fromstr_and_serde() {
        for agency in Agency::ALL {
            assert_eq!(agency.as_str().parse::<Agency>(), Ok(agency));
            let json = serde_json::to_string(&agency).unwrap();
            assert_eq!(json, format!("\"{}\"", agency.as_str()));
            assert_eq!(serde_json::from_str::<Agency>(&json).unwrap(), agency);
        }
    }

    #[test]
    fn indices_follow_the_configuration_contract() {
        let indices: Vec<usize> = Agency::ALL.iter().map(|a| a.index()).collect();
        assert_eq!(indices, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(Agency::SaudiPost.index(), 5);
    }

    #[test]
    fn unknown_agency_is_named_in_the_error() {
        let err = "post".parse::<Agency>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown agency `post` (expected one of: interior, health, labor, municipal, chambers, saudi-post)"
        );
    }
}
