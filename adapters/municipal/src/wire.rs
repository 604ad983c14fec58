//! Balady's own wire format, named as Balady names it: the verification request, its
//! acceptance, the error body, and the callback the municipality sends after the
//! inspection.
//!
//! The simulator serialises these same types, and the golden JSON files under
//! `tests/fixtures/wire/` pin the format on both sides. Dates travel as Balady writes
//! them: Gregorian and Hijri in separate fields (`issueDateGregorian`,
//! `issueDateHijri`), instants as RFC 3339 with an offset.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rabt_core::HijriDate;
use serde::{Deserialize, Serialize};

/// The path of the verification requests.
pub const VERIFICATION_REQUESTS_PATH: &str = "/api/v1/licenses/verification-requests";

/// The header that carries Balady's API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// What a licence allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaladyLicenseType {
    /// A shop or office licence (رخصة تجارية).
    Commercial,
    /// A building permit (رخصة بناء).
    BuildingPermit,
}

impl BaladyLicenseType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            BaladyLicenseType::Commercial => "COMMERCIAL",
            BaladyLicenseType::BuildingPermit => "BUILDING_PERMIT",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<BaladyLicenseType> {
        [
            BaladyLicenseType::Commercial,
            BaladyLicenseType::BuildingPermit,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// A licence's status as the inspector found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaladyLicenseStatus {
    /// In force.
    Active,
    /// Past its expiry date.
    Expired,
    /// Suspended by the municipality.
    Suspended,
    /// Cancelled (its linked permits with it).
    Cancelled,
}

/// `POST /api/v1/licenses/verification-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyVerificationRequest {
    /// The unified licence number, 8 to 20 digits.
    pub license_number: String,
    /// Which register to look in.
    pub license_type: BaladyLicenseType,
    /// The establishment that claims the licence; Balady then checks the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified_number: Option<String>,
}

/// Where a verification request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaladyRequestStatus {
    /// Accepted; an inspector will look at it and the result comes by callback.
    PendingInspection,
}

/// The `202 Accepted` answer to a verification request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyAcceptance {
    /// Balady's reference, which the callback quotes (`^[A-Za-z0-9_-]{4,64}$`).
    pub reference: String,
    /// Always `PENDING_INSPECTION` on acceptance.
    pub status: BaladyRequestStatus,
    /// When Balady received the request.
    pub received_at: DateTime<FixedOffset>,
}

/// Whether a reference has the shape the callback contract promises, so that a
/// reference we record is one a callback can quote.
pub fn is_valid_reference(reference: &str) -> bool {
    (4..=64).contains(&reference.len())
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Balady's error body, for every 4xx and 5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyError {
    /// A stable code: `INVALID_LICENSE_NUMBER`, `UNAUTHORIZED`, `RATE_LIMITED`…
    pub error_code: String,
    /// What went wrong, in Arabic.
    pub error_message_ar: String,
    /// What went wrong, in English.
    pub error_message_en: String,
}

/// The only event Balady sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaladyEventType {
    /// A verification request has been answered.
    LicenseVerificationCompleted,
}

/// Whether the municipality has the licence asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaladyResult {
    /// It has: `license` says what it found.
    Found,
    /// It has no such licence (of the type asked).
    NotFound,
}

/// The callback POSTed to `/v1/callbacks/municipal` after the inspection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyCallback {
    /// Balady's id of this event.
    pub event_id: String,
    /// Always `LICENSE_VERIFICATION_COMPLETED`.
    pub event_type: BaladyEventType,
    /// The reference of the accepted request.
    pub reference: String,
    /// When the result was issued.
    pub occurred_at: DateTime<FixedOffset>,
    /// Found or not.
    pub result: BaladyResult,
    /// The licence, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<BaladyLicense>,
    /// The inspection behind the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection: Option<BaladyInspection>,
    /// The request as it was submitted, echoed so the receiver needs no state to read
    /// the answer (whether the holder is the establishment asked about).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<BaladyVerificationRequest>,
}

/// A licence as the callback describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyLicense {
    /// The unified licence number.
    pub license_number: String,
    /// Commercial licence or building permit.
    pub license_type: BaladyLicenseType,
    /// Its status.
    pub status: BaladyLicenseStatus,
    /// Who holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<BaladyHolder>,
    /// What it allows.
    pub activities: Vec<BaladyActivity>,
    /// Issued, Gregorian.
    pub issue_date_gregorian: NaiveDate,
    /// Issued, Umm al-Qura.
    pub issue_date_hijri: HijriDate,
    /// Expires (or expired), Gregorian.
    pub expiry_date_gregorian: NaiveDate,
    /// Expires (or expired), Umm al-Qura.
    pub expiry_date_hijri: HijriDate,
    /// The issuing municipality, in Arabic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality_name_ar: Option<String>,
    /// The issuing municipality, in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipality_name_en: Option<String>,
    /// The licensed premises' short address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_address: Option<String>,
    /// Permits linked to the licence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_permits: Vec<String>,
}

/// A licence holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyHolder {
    /// The holder's unified number.
    pub unified_number: String,
    /// Its name in Arabic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    /// Its name in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
}

/// One licensed activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyActivity {
    /// ISIC4 code, 4 to 8 digits.
    pub activity_code: String,
    /// Its name in Arabic.
    pub activity_name_ar: String,
    /// Its name in English.
    pub activity_name_en: String,
}

/// The inspector's verdict on the premises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BaladyInspectionResult {
    /// The premises comply.
    Compliant,
    /// The inspector found violations.
    NonCompliant,
    /// Not inspected (nothing to visit: the licence is no longer in force).
    NotInspected,
}

/// The inspection behind a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaladyInspection {
    /// Balady's id of the inspection.
    pub inspection_id: String,
    /// When it took place.
    pub inspected_at: DateTime<FixedOffset>,
    /// Its verdict.
    pub result: BaladyInspectionResult,
    /// The inspector's notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

#[cfg(test)]
mod tests;
