//! Identifiers that cooperatives send and agencies answer with, each parsed once at the
//! edge into a type that cannot hold an invalid value.
//!
//! Every parser returns an [`IdentifierError`] that says which rule failed, so the API
//! can tell a cooperative exactly what is wrong with its input.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier of some kind.
///
/// It never holds the value: a rejected identity number or mobile is still a person's
/// number, and an error travels into logs, stored errors and problem details. Say
/// where the value was (a JSON Pointer, a field name) instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// The value has the wrong shape (length, characters, prefix).
    #[error("{kind} must match {pattern}")]
    Format {
        /// The kind of identifier, e.g. "national ID".
        kind: &'static str,
        /// The expected shape, as a regular expression.
        pattern: &'static str,
    },
    /// A national ID or iqama number whose last digit fails the Luhn check.
    #[error("a national ID or iqama number fails its check digit (Luhn)")]
    CheckDigit,
}

fn format_error(kind: &'static str, pattern: &'static str) -> IdentifierError {
    IdentifierError::Format { kind, pattern }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Declares a string newtype whose only constructor is its parser, with `Display`,
/// `FromStr`, `AsRef<str>` and serde through that parser.
macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the identifier.
            pub fn parse(s: &str) -> Result<Self, IdentifierError> {
                let parse: fn(&str) -> Result<String, IdentifierError> = $parse;
                parse(s).map(Self)
            }

            /// The canonical text of the identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdentifierError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdentifierError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Whether a national ID belongs to a citizen or a resident (iqama).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// Starts with 1; birth dates are Hijri.
    Citizen,
    /// Starts with 2 (iqama); birth dates are Gregorian.
    Resident,
}

/// The Luhn checksum over all digits: doubling every second digit from the left, which
/// for ten digits is the same as doubling every second from the right of the payload.
fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i.is_multiple_of(2) {
                let doubled = d * 2;
                doubled / 10 + doubled % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

identifier!(
    /// A Saudi national ID (citizen, starts with 1) or iqama (resident, starts with 2):
    /// ten digits, the last a Luhn check digit over all ten.
    NationalId,
    |s| {
        const PATTERN: &str = "^[12]\\d{9}$";
        if s.len() != 10 || !all_digits(s) || !matches!(s.as_bytes()[0], b'1' | b'2') {
            return Err(format_error("national ID", PATTERN));
        }
        if !luhn_valid(s) {
            return Err(IdentifierError::CheckDigit);
        }
        Ok(s.to_owned())
    }
);

impl NationalId {
    /// Citizen or resident, from the first digit.
    pub fn kind(&self) -> IdKind {
        if self.0.starts_with('1') {
            IdKind::Citizen
        } else {
            IdKind::Resident
        }
    }

    /// Completes nine digits with their Luhn check digit, for generating fixtures.
    /// Returns `None` unless given nine digits starting with 1 or 2.
    pub fn with_check_digit(first_nine: &str) -> Option<NationalId> {
        if first_nine.len() != 9 || !all_digits(first_nine) {
            return None;
        }
        (0..=9u8)
            .map(|d| format!("{first_nine}{d}"))
            .find_map(|candidate| NationalId::parse(&candidate).ok())
    }
}

identifier!(
    /// A unified establishment number (the "700 number"), `7` then nine digits. MHRSD
    /// issues it to cooperatives.
    UnifiedNumber,
    |s| {
        if s.len() == 10 && all_digits(s) && s.starts_with('7') {
            Ok(s.to_owned())
        } else {
            Err(format_error("unified number", "^7\\d{9}$"))
        }
    }
);

identifier!(
    /// A National Address short address: four capital Latin letters and four digits,
    /// e.g. `RRRD2929`. Lower-case input is accepted and upper-cased.
    ShortAddress,
    |s| {
        let upper = s.to_ascii_uppercase();
        let b = upper.as_bytes();
        if b.len() == 8
            && b[..4].iter().all(u8::is_ascii_uppercase)
            && b[4..].iter().all(u8::is_ascii_digit)
        {
            Ok(upper)
        } else {
            Err(format_error("short address", "^[A-Z]{4}\\d{4}$"))
        }
    }
);

identifier!(
    /// A building number of the National Address: four digits.
    BuildingNumber,
    |s| fixed_digits(s, 4, "building number", "^\\d{4}$")
);

identifier!(
    /// An additional number of the National Address: four digits.
    AdditionalNumber,
    |s| fixed_digits(s, 4, "additional number", "^\\d{4}$")
);

identifier!(
    /// A Saudi postal code: five digits.
    PostalCode,
    |s| fixed_digits(s, 5, "postal code", "^\\d{5}$")
);

fn fixed_digits(
    s: &str,
    len: usize,
    kind: &'static str,
    pattern: &'static str,
) -> Result<String, IdentifierError> {
    if s.len() == len && all_digits(s) {
        Ok(s.to_owned())
    } else {
        Err(format_error(kind, pattern))
    }
}

identifier!(
    /// A Saudi mobile number, accepted as `05XXXXXXXX` or `9665XXXXXXXX` and always
    /// held in the international form `9665XXXXXXXX`.
    Mobile,
    |s| {
        const PATTERN: &str = "^(05|9665)\\d{8}$";
        let rest = s
            .strip_prefix("9665")
            .or_else(|| s.strip_prefix("05"))
            .ok_or_else(|| format_error("mobile", PATTERN))?;
        if rest.len() == 8 && all_digits(rest) {
            Ok(format!("9665{rest}"))
        } else {
            Err(format_error("mobile", PATTERN))
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_national_ids_are_valid() {
        let citizen = NationalId::parse("1000000008").unwrap();
        assert_eq!(citizen.kind(), IdKind::Citizen);
        let resident = NationalId::parse("2000000006").unwrap();
        assert_eq!(resident.kind(), IdKind::Resident);
        // Public Qiwa test IDs.
        assert!(NationalId::parse("1045997168").is_ok());
        assert!(NationalId::parse("1023411612").is_ok());
    }

    #[test]
    fn luhn_failure_is_a_check_digit_error() {
        assert_eq!(
            NationalId::parse("1000000009"),
            Err(IdentifierError::CheckDigit)
        );
    }

    #[test]
    fn errors_never_repeat_the_value() {
        let rejected = [
            NationalId::parse("1000000009").unwrap_err(),
            NationalId::parse("3000000001").unwrap_err(),
            Mobile::parse("0412345678").unwrap_err(),
            UnifiedNumber::parse("6000000001").unwrap_err(),
        ];
        for (err, value) in
            rejected
                .iter()
                .zip(["1000000009", "3000000001", "0412345678", "6000000001"])
        {
            assert!(!err.to_string().contains(value), "{err}");
            assert!(!format!("{err:?}").contains(value), "{err:?}");
        }
    }

    #[test]
    fn wrong_shapes_are_format_errors() {
        for bad in [
            "",
            "100000000",
            "10000000080",
            "3000000001",
            "10000O0008",
            "+100000008",
            " 1000000008",
        ] {
            assert!(
                matches!(NationalId::parse(bad), Err(IdentifierError::Format { .. })),
                "{bad:?} should be a format error"
            );
        }
    }

    #[test]
    fn check_digit_completion_matches_the_reference() {
        assert_eq!(
            NationalId::with_check_digit("100000000").unwrap().as_str(),
            "1000000008"
        );
        assert_eq!(
            NationalId::with_check_digit("200000000").unwrap().as_str(),
            "2000000006"
        );
        assert!(NationalId::with_check_digit("300000000").is_none());
        assert!(NationalId::with_check_digit("12345").is_none());
    }

    #[test]
    fn exactly_one_check_digit_completes_each_payload() {
        for payload in ["104599716", "102341161", "212345678", "199999999"] {
            let valid = (0..=9)
                .filter(|d| NationalId::parse(&format!("{payload}{d}")).is_ok())
                .count();
            assert_eq!(valid, 1, "payload {payload}");
        }
    }

    #[test]
    fn unified_number_needs_a_leading_seven() {
        assert!(UnifiedNumber::parse("7000000001").is_ok());
        assert!(UnifiedNumber::parse("1000000001").is_err());
        assert!(UnifiedNumber::parse("700000000").is_err());
    }

    #[test]
    fn short_address_is_upper_cased() {
        assert_eq!(
            ShortAddress::parse("rrrd2929").unwrap().as_str(),
            "RRRD2929"
        );
        assert!(ShortAddress::parse("RRR12929").is_err());
        assert!(ShortAddress::parse("RRRD292").is_err());
        assert!(ShortAddress::parse("ÄRRD2929").is_err());
    }

    #[test]
    fn address_numbers_have_fixed_lengths() {
        assert!(BuildingNumber::parse("2929").is_ok());
        assert!(BuildingNumber::parse("292").is_err());
        assert!(AdditionalNumber::parse("7788").is_ok());
        assert!(PostalCode::parse("12211").is_ok());
        assert!(PostalCode::parse("1221a").is_err());
    }

    #[test]
    fn mobile_is_normalised_to_the_international_form() {
        assert_eq!(
            Mobile::parse("0512345678").unwrap().as_str(),
            "966512345678"
        );
        assert_eq!(
            Mobile::parse("966512345678").unwrap().as_str(),
            "966512345678"
        );
        for bad in [
            "0412345678",
            "05123456789",
            "96651234567",
            "+966512345678",
            "05",
        ] {
            assert!(Mobile::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_parses_at_the_edge() {
        let id: NationalId = serde_json::from_str("\"1000000008\"").unwrap();
        assert_eq!(id.as_str(), "1000000008");
        let err = serde_json::from_str::<NationalId>("\"1000000009\"").unwrap_err();
        assert!(err.to_string().contains("check digit"));
    }
}
