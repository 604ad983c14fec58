//! The output of `chambers.membership.verify`, as the catalogue's output schema
//! (`schemas/services/chambers.membership.verify.output.json`) describes it.

use chrono::NaiveDate;
use rabt_core::{DualDate, UnifiedNumber};
use serde::Serialize;

/// A membership class, as Rabt names it (FSC numbers them, see
/// [`crate::wire::FscMembershipClass`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MembershipClass {
    /// الممتازة.
    Excellent,
    /// الأولى.
    First,
    /// الثانية.
    Second,
    /// الثالثة.
    Third,
    /// الرابعة.
    Fourth,
}

/// A name in Arabic, and in English when the agency gives it (FSC keeps the Arabic name
/// of record; its English name is not always there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Name {
    /// The Arabic name.
    pub ar: String,
    /// The English name, if the agency gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

/// The chamber that holds the membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chamber {
    /// FSC's code of the chamber (its "chamber city"), written as a string like every
    /// other identifier of the API.
    #[serde(serialize_with = "as_decimal_string")]
    pub code: u16,
    /// Its name, if FSC gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
}

/// A membership record as FSC holds it, before it is judged against a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    /// The member establishment's unified number, when known.
    pub unified_number: Option<UnifiedNumber>,
    /// The chamber.
    pub chamber: Chamber,
    /// The membership number within that chamber.
    pub membership_number: String,
    /// The class.
    pub class: MembershipClass,
    /// The member establishment's name.
    pub establishment_name: Option<Name>,
    /// The legacy commercial registration number (ten digits).
    pub cr_number: Option<String>,
    /// When the subscription started.
    pub subscribed_at: Option<DualDate>,
    /// When it ends.
    pub expires_at: DualDate,
}

impl MembershipRecord {
    /// Whether the membership is in force on `today`: it is until the end of its expiry
    /// day.
    pub fn valid_on(&self, today: NaiveDate) -> bool {
        self.expires_at.gregorian >= today
    }
}

/// The service's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipOutput {
    /// Whether FSC holds such a membership.
    pub found: bool,
    /// The member's unified number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unified_number: Option<UnifiedNumber>,
    /// The chamber.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chamber: Option<Chamber>,
    /// The membership number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_number: Option<String>,
    /// The class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membership_class: Option<MembershipClass>,
    /// The member establishment's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub establishment_name: Option<Name>,
    /// The legacy CR number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cr_number: Option<String>,
    /// When the subscription started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribed_at: Option<DualDate>,
    /// When it ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DualDate>,
    /// Whether it is in force today (`expiresAt` ≥ today, in Riyadh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
}

impl MembershipOutput {
    /// `{"found": false}`.
    pub fn not_found() -> Self {
        Self {
            found: false,
            unified_number: None,
            chamber: None,
            membership_number: None,
            membership_class: None,
            establishment_name: None,
            cr_number: None,
            subscribed_at: None,
            expires_at: None,
            valid: None,
        }
    }

    /// A found record, judged valid or not on `today`.
    pub fn found(record: MembershipRecord, today: NaiveDate) -> Self {
        let valid = record.valid_on(today);
        Self {
            found: true,
            unified_number: record.unified_number,
            chamber: Some(record.chamber),
            membership_number: Some(record.membership_number),
            membership_class: Some(record.class),
            establishment_name: record.establishment_name,
            cr_number: record.cr_number,
            subscribed_at: record.subscribed_at,
            expires_at: Some(record.expires_at),
            valid: Some(valid),
        }
    }
}

/// A number as its decimal string.
fn as_decimal_string<S: serde::Serializer>(value: &u16, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}
