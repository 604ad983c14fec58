//! Elm's "Yakeen lite" REST API, which answers `interior.mobile.verify`.
//!
//! `GET /api/v1/person/{id}/owns-mobile/{mobile}` with the headers `APP-ID` and
//! `APP-KEY` (Elm's API gateway), `SERVICE_KEY` (the subscription to this service) and
//! `ORGANIZATION-NUMBER` (the subscriber's 700 number). The mobile goes in the path as
//! `9665XXXXXXXX`; the answer echoes it as nine digits (`5XXXXXXXX`).
//!
//! - 200 `{"referenceNumber", "id", "mobile", "isOwner"}`.
//! - Errors `{"code", "message"}`: 100 internal error, 101 invalid ID (also Elm's
//!   answer for a well-formed ID it has no person for), 102 invalid mobile, 103 invalid
//!   service key. The code may come as a number or a string, and integrators check it
//!   whatever the HTTP status, so the adapter does too.
//! - The gateway itself answers 403 `Authentication failed` for a wrong `APP-ID` /
//!   `APP-KEY` and 429 `Usage limit exceeded` with `Retry-After`.

use serde::{Deserialize, Deserializer, Serialize};

/// The path of the ownership check, with `{id}` and `{mobile}` for axum.
pub const OWNS_MOBILE_ROUTE: &str = "/api/v1/person/{id}/owns-mobile/{mobile}";

/// The gateway's application id header.
pub const APP_ID: &str = "APP-ID";
/// The gateway's application key header.
pub const APP_KEY: &str = "APP-KEY";
/// The service subscription key header (Elm writes it with an underscore).
pub const SERVICE_KEY: &str = "SERVICE_KEY";
/// The subscriber's unified number header.
pub const ORGANIZATION_NUMBER: &str = "ORGANIZATION-NUMBER";

/// The path for one ID and mobile.
pub fn owns_mobile_path(id: &str, mobile: &str) -> String {
    format!("/api/v1/person/{id}/owns-mobile/{mobile}")
}

/// A 200 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiteOwnsMobileResponse {
    /// Elm's reference for this call.
    pub reference_number: String,
    /// The ID asked about.
    pub id: String,
    /// The mobile asked about, nine digits.
    pub mobile: String,
    /// Whether the mobile is registered to the ID's holder.
    pub is_owner: bool,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiteError {
    /// 100–103.
    #[serde(deserialize_with = "number_or_string")]
    pub code: u16,
    /// A sentence for people.
    #[serde(default)]
    pub message: String,
}

/// Any answer, read leniently: an error code wins over everything else.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiteAnyResponse {
    /// Present on errors.
    #[serde(default, deserialize_with = "optional_number_or_string")]
    pub code: Option<u16>,
    /// Present on success.
    #[serde(default)]
    pub is_owner: Option<bool>,
    /// Present on success.
    #[serde(default)]
    pub reference_number: Option<String>,
    /// Present on success.
    #[serde(default)]
    pub mobile: Option<String>,
}

/// The codes of the error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteCode {
    /// `100`.
    Internal,
    /// `101`.
    InvalidId,
    /// `102`.
    InvalidMobile,
    /// `103`.
    InvalidServiceKey,
}

impl LiteCode {
    /// Every code.
    pub const ALL: [LiteCode; 4] = [
        LiteCode::Internal,
        LiteCode::InvalidId,
        LiteCode::InvalidMobile,
        LiteCode::InvalidServiceKey,
    ];

    /// The number.
    pub const fn code(self) -> u16 {
        match self {
            LiteCode::Internal => 100,
            LiteCode::InvalidId => 101,
            LiteCode::InvalidMobile => 102,
            LiteCode::InvalidServiceKey => 103,
        }
    }

    /// Elm's message.
    pub const fn message(self) -> &'static str {
        match self {
            LiteCode::Internal => "Internal error",
            LiteCode::InvalidId => "Invalid ID",
            LiteCode::InvalidMobile => "Invalid mobile number",
            LiteCode::InvalidServiceKey => "Invalid service key",
        }
    }

    /// The code of a number, if Elm's list has it.
    pub fn from_code(code: u16) -> Option<LiteCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The error body of this code.
    pub fn body(self) -> LiteError {
        LiteError {
            code: self.code(),
            message: self.message().to_owned(),
        }
    }
}

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    optional_number_or_string(d)?.ok_or_else(|| serde::de::Error::custom("a code is required"))
}

fn optional_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u16),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(n)),
        Some(Raw::Text(text)) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("a code is digits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUND: &str = include_str!("../tests/fixtures/wire/lite-owns-mobile-1000000008.json");
    const INVALID_ID: &str = include_str!("../tests/fixtures/wire/lite-error-101.json");

    #[test]
    fn fixtures_parse_and_round_trip() {
        let found: LiteOwnsMobileResponse = serde_json::from_str(FOUND).unwrap();
        assert!(found.is_owner);
        assert_eq!(found.mobile, "512345678");
        let again = serde_json::to_value(&found).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(FOUND).unwrap()
        );
        let error: LiteError = serde_json::from_str(INVALID_ID).unwrap();
        assert_eq!(LiteCode::from_code(error.code), Some(LiteCode::InvalidId));
    }

    #[test]
    fn codes_come_as_numbers_or_strings() {
        for body in [r#"{"code": 102}"#, r#"{"code": "102", "message": "x"}"#] {
            let any: LiteAnyResponse = serde_json::from_str(body).unwrap();
            assert_eq!(any.code, Some(102));
        }
        let any: LiteAnyResponse = serde_json::from_str(r#"{"isOwner": false}"#).unwrap();
        assert_eq!((any.code, any.is_owner), (None, Some(false)));
        assert!(serde_json::from_str::<LiteAnyResponse>(r#"{"code": "x"}"#).is_err());
    }

    #[test]
    fn codes_round_trip() {
        for code in LiteCode::ALL {
            assert_eq!(LiteCode::from_code(code.code()), Some(code));
        }
        assert_eq!(LiteCode::from_code(104), None);
        assert_eq!(
            owns_mobile_path("1000000008", "966512345678"),
            "/api/v1/person/1000000008/owns-mobile/966512345678"
        );
    }
}
