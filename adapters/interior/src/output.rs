//! Rabt's own outputs of `interior.identity.verify` and `interior.mobile.verify` (the
//! catalogue's output schemas), which the wire types translate into.

use rabt_core::{DualDate, IdKind};
use serde::Serialize;

use crate::nationality;

/// A text in Arabic and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    /// Arabic.
    pub ar: String,
    /// English.
    pub en: String,
}

/// `M`, `F`, or `U` when Yakeen does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Gender {
    /// Male.
    M,
    /// Female.
    F,
    /// Unknown.
    U,
}

/// What Yakeen holds about a person, checked against its own formats.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRecord {
    /// Citizen or resident, from the operation that answered.
    pub id_kind: IdKind,
    /// First, father, grandfather, family.
    pub parts: [Names; 4],
    /// The gender.
    pub gender: Gender,
    /// The birth date in both calendars.
    pub birth_date: DualDate,
    /// When the ID card or iqama expires, if Yakeen says.
    pub id_expiry: Option<DualDate>,
    /// Yakeen's nationality code (digits).
    pub nationality_code: Option<String>,
    /// The occupation code.
    pub occupation_code: Option<String>,
    /// Yakeen's `logId` for this call.
    pub log_id: Option<String>,
}

impl IdentityRecord {
    /// The full name, the four parts joined with spaces in each script.
    pub fn full_name(&self) -> Names {
        Names {
            ar: self.parts.each_ref().map(|p| p.ar.as_str()).join(" "),
            en: self.parts.each_ref().map(|p| p.en.as_str()).join(" "),
        }
    }
}

/// The four parts of a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameParts {
    /// The person's own name.
    pub first: Names,
    /// The father's.
    pub father: Names,
    /// The grandfather's.
    pub grandfather: Names,
    /// The family's.
    pub family: Names,
}

/// A nationality: Yakeen's code and, when Rabt knows it, its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nationality {
    /// Digits.
    pub code: String,
    /// The nationality in both languages.
    pub name: Names,
}

/// The `data` of an `interior.identity.verify` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityOutput {
    /// Whether Yakeen knows the ID.
    pub found: bool,
    /// Whether the birth month matches (present when found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date_matches: Option<bool>,
    /// Whether `expectedNameAr` matches (present when it was given and the birth
    /// month matched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_name_matches: Option<bool>,
    /// `citizen` or `resident`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_type: Option<IdKind>,
    /// The full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Names>,
    /// The name's four parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_parts: Option<NameParts>,
    /// The gender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// The birth date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<DualDate>,
    /// The ID's expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_expiry: Option<DualDate>,
    /// The nationality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality: Option<Nationality>,
    /// The occupation code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupation_code: Option<String>,
}

impl IdentityOutput {
    fn bare(found: bool, birth_date_matches: Option<bool>) -> Self {
        Self {
            found,
            birth_date_matches,
            expected_name_matches: None,
            id_type: None,
            name: None,
            name_parts: None,
            gender: None,
            birth_date: None,
            id_expiry: None,
            nationality: None,
            occupation_code: None,
        }
    }

    /// No such ID: `{"found": false}`.
    pub fn not_found() -> Self {
        Self::bare(false, None)
    }

    /// The ID exists but the birth month is wrong: `{"found": true,
    /// "birthDateMatches": false}`, and no personal data, since the caller has not
    /// shown that it knows the person.
    pub fn birth_date_mismatch() -> Self {
        Self::bare(true, Some(false))
    }

    /// The record, with the result of the name comparison if one was asked.
    pub fn found(record: &IdentityRecord, expected_name_matches: Option<bool>) -> Self {
        let [first, father, grandfather, family] = record.parts.clone();
        let nationality = record.nationality_code.as_deref().and_then(|code| {
            let name = nationality::name(code);
            if name.is_none() {
                // The schema wants a name beside the code; an unknown code is left
                // out rather than shown half, and logged so the table can grow.
                tracing::warn!(code, "Yakeen sent a nationality code Rabt has no name for");
            }
            name.map(|(ar, en)| Nationality {
                code: code.to_owned(),
                name: Names {
                    ar: ar.to_owned(),
                    en: en.to_owned(),
                },
            })
        });
        Self {
            expected_name_matches,
            id_type: Some(record.id_kind),
            name: Some(record.full_name()),
            name_parts: Some(NameParts {
                first,
                father,
                grandfather,
                family,
            }),
            gender: Some(record.gender),
            birth_date: Some(record.birth_date),
            id_expiry: record.id_expiry,
            nationality,
            occupation_code: record.occupation_code.clone(),
            ..Self::bare(true, Some(true))
        }
    }

    /// The answer as JSON, for [`rabt_adapter::Answer::Final`].
    pub fn to_json(&self) -> serde_json::Value {
        // Strings, booleans and dates cannot fail to serialise; `Null` would only hide
        // a bug, and the worker's output validation would catch it.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The `data` of an `interior.mobile.verify` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MobileOutput {
    /// Whether the mobile is registered to the ID's holder.
    pub is_owner: bool,
    /// The number asked about, `9665XXXXXXXX`.
    pub mobile: String,
}

impl MobileOutput {
    /// The answer as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
