//! Service names: `post.address.verify`, `cooperative.establishment.check`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A name that is not a valid service name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a service name (lower-case words joined by dots, e.g. `post.address.verify`)"
)]
pub struct ServiceNameError(String);

/// The name of a service in the catalogue: two to four dot-separated lower-case words
/// (letters, digits and inner hyphens), at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceName(String);

impl ServiceName {
    /// Parses a service name.
    pub fn parse(s: &str) -> Result<Self, ServiceNameError> {
        let err = || ServiceNameError(s.chars().take(64).collect());
        if s.is_empty() || s.len() > 64 {
            return Err(err());
        }
        let segments: Vec<&str> = s.split('.').collect();
        let segment_ok = |seg: &&str| {
            !seg.is_empty()
                && seg.as_bytes()[0].is_ascii_lowercase()
                && !seg.ends_with('-')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if (2..=4).contains(&segments.len()) && segments.iter().all(segment_ok) {
            Ok(Self(s.to_owned()))
        } else {
            Err(err())
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ServiceName {
    type Err = ServiceNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ServiceName {
    type Error = ServiceNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ServiceName> for String {
    fn from(name: ServiceName) -> String {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_parse() {
        for name in [
            "post.address.verify",
            "interior.identity.verify",
            "cooperative.establishment.check",
            "chambers.origin-certificate.verify",
        ] {
            assert_eq!(ServiceName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn malformed_names_are_rejected() {
        for bad in [
            "",
            "post",
            "Post.address",
            "post..verify",
            "post.address.",
            ".post",
            "a.b.c.d.e",
            "post.-x",
            "post.x-",
        ] {
            assert!(ServiceName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
