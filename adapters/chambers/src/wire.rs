//! FSC's own types, named as FSC names them, and their translation into Rabt's output.
//!
//! FSC's `GetCoCRecordByMemberShipID` is a SOAP operation; REGA's Apigee mediates it as
//! `GET /v1/fsc/coc-records` and answers the SOAP result as JSON, keeping the SOAP
//! element names (`GetCoCRecordByMemberShipIDResult`, `CoCMembershipDetails`, …). Dates
//! are `{GregorianDate, HijriDate}`; the membership class and the chamber ("chamber
//! city") are integers. Fields marked *(sandbox)* are not in FSC's published document:
//! the sandbox's FSC sends them, and the adapter uses them when they are there and does
//! without them when they are not (the real FSC gives names in Arabic only).
//!
//! Errors come in two shapes: Apigee's `{"ServiceError": {SourceAgency, ErrorType, Code,
//! ErrorText}}` (401, 404 for an unknown path, 405, 415, 429, 5xx), and the backend's
//! exception detail `{RaisedBy, Code, ErrorText, Insert[]}`, which carries "no such
//! record" ([`NO_RECORD_CODE`], with HTTP 404).

use rabt_core::DualDate;
use serde::{Deserialize, Serialize};

/// The code of the backend's exception detail for "no record matches".
pub const NO_RECORD_CODE: &str = "COC_RECORD_NOT_FOUND";

/// The answer of `GET /v1/fsc/coc-records`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FscCocRecordResponse {
    /// The SOAP result, as Apigee passes it on.
    #[serde(rename = "GetCoCRecordByMemberShipIDResult")]
    pub result: FscCocRecord,
}

/// One chamber of commerce record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FscCocRecord {
    /// The membership itself.
    #[serde(rename = "CoCMembershipDetails")]
    pub membership: FscMembershipDetails,
    /// The member establishment.
    #[serde(
        rename = "CoCMemberEst",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub establishment: Option<FscMemberEst>,
    /// Its commercial registration ("sijil").
    #[serde(
        rename = "CoCMemberSijil",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sijil: Option<FscMemberSijil>,
    /// Its activities.
    #[serde(
        rename = "CoCActivityType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub activity: Option<FscActivityType>,
    /// Its address.
    #[serde(
        rename = "CoCMemberAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address: Option<FscMemberAddress>,
}

/// `CoCMembershipDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FscMembershipDetails {
    /// The membership number (a string of digits).
    #[serde(rename = "CoCMembershipID")]
    pub membership_id: String,
    /// The chamber's code.
    #[serde(rename = "CoCMembershipChamberCity")]
    pub chamber_city: i64,
    /// *(sandbox)* The chamber's Arabic name.
    #[serde(
        rename = "CoCMembershipChamberNameAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub chamber_name_ar: Option<String>,
    /// *(sandbox)* The chamber's English name.
    #[serde(
        rename = "CoCMembershipChamberNameEN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub chamber_name_en: Option<String>,
    /// The class, 0 (excellent) to 4 (fourth): see [`class_from_code`].
    #[serde(rename = "CoCMemberMembershipClass")]
    pub class: i64,
    /// When the subscription started.
    #[serde(
        rename = "CoCMemberSubscriptionToChamberDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribed: Option<FscDate>,
    /// When it ends.
    #[serde(rename = "CoCMemberSubscriptionExpiryDate")]
    pub expires: FscDate,
}

/// A day in both calendars, as FSC writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FscDate {
    /// `YYYY-MM-DD`.
    #[serde(
        rename = "GregorianDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub gregorian: Option<String>,
    /// `YYYY-MM-DD`, Umm al-Qura.
    #[serde(rename = "HijriDate", default, skip_serializing_if = "Option::is_none")]
    pub hijri: Option<String>,
}

impl FscDate {
    /// A day as FSC writes it.
    pub fn from_dual(date: &DualDate) -> Self {
        Self {
            gregorian: Some(date.gregorian.format("%Y-%m-%d").to_string()),
            hijri: Some(date.hijri.to_string()),
        }
    }
}

/// `CoCMemberEst`: the member establishment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FscMemberEst {
    /// Its name, Arabic.
    #[serde(
        rename = "CoCMemberEstNameAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name_ar: Option<String>,
    /// *(sandbox)* Its name, English.
    #[serde(
        rename = "CoCMemberEstNameEN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub name_en: Option<String>,
    /// *(sandbox)* Its unified ("700") number.
    #[serde(
        rename = "CoCMemberEstUnifiedNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unified_number: Option<String>,
    /// Its legal form, Arabic.
    #[serde(
        rename = "CoCMemberEstJuridicalFormAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub juridical_form_ar: Option<String>,
    /// Its nationality, Arabic.
    #[serde(
        rename = "CoCMemberEstNationalityAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub nationality_ar: Option<String>,
    /// How many branches it has.
    #[serde(
        rename = "CoCMemberEstNumberOfBranches",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub number_of_branches: Option<u32>,
}

/// `CoCMemberSijil`: the commercial registration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FscMemberSijil {
    /// The CR number (ten digits for a commercial register).
    #[serde(
        rename = "CoCMemberSijilNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub number: Option<String>,
    /// Main or branch register.
    #[serde(
        rename = "CoCMemberSijilType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// The city that issued it, Arabic.
    #[serde(
        rename = "CoCMemberSijilSourceAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ar: Option<String>,
}

/// `CoCActivityType`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FscActivityType {
    /// The main activity, Arabic.
    #[serde(
        rename = "CoCMemberMainActivityAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub main_ar: Option<String>,
    /// The secondary activity, Arabic.
    #[serde(
        rename = "CoCMemberSecondaryActivityAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub secondary_ar: Option<String>,
}

/// `CoCMemberAddress` (the fields the sandbox fills).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FscMemberAddress {
    /// Postal code.
    #[serde(
        rename = "CoCMemberAddressPostalCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<String>,
    /// Street, Arabic.
    #[serde(
        rename = "CoCMemberAddressStreetNameAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub street_ar: Option<String>,
    /// District, Arabic.
    #[serde(
        rename = "CoCMemberAddressDistrictNameAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub district_ar: Option<String>,
    /// District, English.
    #[serde(
        rename = "CoCMemberAddressDistrictNameEN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub district_en: Option<String>,
    /// City, Arabic.
    #[serde(
        rename = "CoCMemberAddressCityNameAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub city_ar: Option<String>,
    /// Region, Arabic.
    #[serde(
        rename = "CoCMemberAddressRegionNameAR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub region_ar: Option<String>,
}

/// Apigee's error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FscServiceErrorResponse {
    /// The error.
    #[serde(rename = "ServiceError")]
    pub service_error: FscServiceError,
}

/// `ServiceError`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FscServiceError {
    /// Who raised it: `Apigee` for the gateway's own errors.
    #[serde(rename = "SourceAgency")]
    pub source_agency: String,
    /// `TechnicalError`…
    #[serde(rename = "ErrorType")]
    pub error_type: String,
    /// The HTTP status as text, or the backend's code.
    #[serde(rename = "Code")]
    pub code: String,
    /// A short English text.
    #[serde(rename = "ErrorText")]
    pub error_text: String,
}

/// The backend's exception detail (`RF-ExceptionDetailError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FscExceptionDetail {
    /// The system that raised it (`FSC`).
    #[serde(rename = "RaisedBy")]
    pub raised_by: String,
    /// Its code, e.g. [`NO_RECORD_CODE`].
    #[serde(rename = "Code")]
    pub code: String,
    /// A short English text.
    #[serde(rename = "ErrorText")]
    pub error_text: String,
    /// The values the text refers to.
    #[serde(rename = "Insert", default)]
    pub insert: Vec<String>,
}

mod translate;

pub use translate::{class_code, class_from_code};

#[cfg(test)]
mod tests;
