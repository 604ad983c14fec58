//! Rabt's own output of `municipal.license.verify` (the catalogue's output schema),
//! which [`crate::callback`] translates a callback into.

use rabt_core::{DualDate, ShortAddress};
use serde::Serialize;

use crate::wire::{BaladyInspectionResult, BaladyLicenseStatus, BaladyLicenseType};

/// A text in Arabic and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    /// Arabic.
    pub ar: String,
    /// English.
    pub en: String,
}

/// The `data` of a `municipal.license.verify` answer: `{"found": false}`, or the
/// licence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LicenceOutput {
    /// Whether the municipality has the licence.
    pub found: bool,
    /// The licence, when found.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub licence: Option<FoundLicence>,
}

impl LicenceOutput {
    /// The answer for a licence the municipality does not have.
    pub fn not_found() -> Self {
        Self {
            found: false,
            licence: None,
        }
    }
}

/// A licence as the municipality found it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundLicence {
    /// The unified licence number.
    pub license_number: String,
    /// Commercial licence or building permit.
    pub license_type: BaladyLicenseType,
    /// Its status.
    pub status: BaladyLicenseStatus,
    /// Whether the establishment the input named holds it (only when it named one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_matches: Option<bool>,
    /// The holder's name, when the municipality gave it in both languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<Names>,
    /// What it allows.
    pub activities: Vec<ActivityOutput>,
    /// When it was issued.
    pub issued_at: DualDate,
    /// When it expires or expired.
    pub expires_at: DualDate,
    /// The issuing municipality, when given in both languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub municipality: Option<Names>,
    /// The licensed premises.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressOutput>,
    /// The inspection behind the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inspection: Option<InspectionOutput>,
    /// Permits linked to the licence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub linked_permits: Vec<String>,
}

/// One licensed activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityOutput {
    /// ISIC4 code.
    pub code: String,
    /// Its name.
    pub name: Names,
}

/// The licensed premises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressOutput {
    /// Their National Address short address.
    pub short_address: ShortAddress,
}

/// The inspection, with its day in both calendars (Riyadh time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectionOutput {
    /// Balady's id of the inspection.
    pub reference: String,
    /// The day it took place.
    pub inspected_at: DualDate,
    /// Its verdict.
    pub result: BaladyInspectionResult,
}
