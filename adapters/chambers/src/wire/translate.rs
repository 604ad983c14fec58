//! The translation of FSC's record into Rabt's [`MembershipRecord`], and of FSC's
//! numbered membership classes.

use std::str::FromStr;

use chrono::NaiveDate;
use rabt_core::{DualDate, HijriDate, UnifiedNumber};

use super::{FscCocRecord, FscDate};
use crate::ChambersError;
use crate::output::{Chamber, MembershipClass, MembershipRecord, Name};

/// FSC's class number for a class.
pub fn class_code(class: MembershipClass) -> i64 {
    match class {
        MembershipClass::Excellent => 0,
        MembershipClass::First => 1,
        MembershipClass::Second => 2,
        MembershipClass::Third => 3,
        MembershipClass::Fourth => 4,
    }
}

/// The class FSC numbers `code`, if it is one.
pub fn class_from_code(code: i64) -> Option<MembershipClass> {
    match code {
        0 => Some(MembershipClass::Excellent),
        1 => Some(MembershipClass::First),
        2 => Some(MembershipClass::Second),
        3 => Some(MembershipClass::Third),
        4 => Some(MembershipClass::Fourth),
        _ => None,
    }
}

impl TryFrom<FscCocRecord> for MembershipRecord {
    type Error = ChambersError;

    /// Refuses what breaks FSC's own format (a membership number that is not digits, an
    /// unknown class, an expiry that is not a date); leaves out what Rabt's output
    /// cannot carry and FSC does not promise (a sijil number that is not a ten-digit CR).
    fn try_from(record: FscCocRecord) -> Result<Self, Self::Error> {
        let details = record.membership;
        let id = details.membership_id.trim();
        if id.is_empty() || id.len() > 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field("CoCMembershipID", "1 to 12 digits", id));
        }
        let code = u16::try_from(details.chamber_city)
            .ok()
            .filter(|c| (1..=999).contains(c))
            .ok_or_else(|| {
                field(
                    "CoCMembershipChamberCity",
                    "1 to 999",
                    &details.chamber_city.to_string(),
                )
            })?;
        let class = class_from_code(details.class).ok_or_else(|| {
            field(
                "CoCMemberMembershipClass",
                "0 to 4",
                &details.class.to_string(),
            )
        })?;
        let expires_at = dual_date("CoCMemberSubscriptionExpiryDate", &details.expires)?;
        let subscribed_at = details
            .subscribed
            .as_ref()
            .map(|d| dual_date("CoCMemberSubscriptionToChamberDate", d))
            .transpose()?;
        // FSC leaves `CoCMemberEst` out for a member without an establishment record: no
        // unified number and no name then, both optional in the output.
        let est = record.establishment.unwrap_or_default();
        let unified_number = match non_empty(est.unified_number.as_deref()) {
            None => None,
            Some(text) => Some(
                UnifiedNumber::parse(text)
                    .map_err(|_| field("CoCMemberEstUnifiedNumber", "7 and nine digits", text))?,
            ),
        };
        let cr_number = record
            .sijil
            .and_then(|s| s.number)
            .map(|n| n.trim().to_owned())
            .filter(|n| n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit()));
        Ok(MembershipRecord {
            unified_number,
            chamber: Chamber {
                code,
                name: name(details.chamber_name_ar, details.chamber_name_en),
            },
            membership_number: id.to_owned(),
            class,
            establishment_name: name(est.name_ar, est.name_en),
            cr_number,
            subscribed_at,
            expires_at,
        })
    }
}

/// A name whose Arabic is there, with its English if that is there too.
fn name(ar: Option<String>, en: Option<String>) -> Option<Name> {
    let ar = non_empty(ar.as_deref())?.to_owned();
    let en = non_empty(en.as_deref()).map(str::to_owned);
    Some(Name { ar, en })
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The Gregorian date when FSC gives one (it is the calendar of record for expiry), else
/// the Hijri date; Rabt computes the other calendar itself.
fn dual_date(name: &'static str, date: &FscDate) -> Result<DualDate, ChambersError> {
    if let Some(text) = non_empty(date.gregorian.as_deref()) {
        let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| field(name, "a Gregorian date YYYY-MM-DD", text))?;
        let dual = DualDate::from_gregorian(day)
            .map_err(|_| field(name, "a date within 1300–1600 AH", text))?;
        if let Some(hijri) = non_empty(date.hijri.as_deref())
            && HijriDate::from_str(hijri).ok() != Some(dual.hijri)
        {
            // Conversions of Umm al-Qura can differ by a day between systems: the
            // Gregorian date is FSC's record, so it wins, and the difference is noted.
            tracing::debug!(
                field = name,
                "FSC's Hijri date differs from its Gregorian date"
            );
        }
        return Ok(dual);
    }
    let expected = "a Gregorian or Hijri date YYYY-MM-DD";
    let text = non_empty(date.hijri.as_deref()).ok_or_else(|| field(name, expected, ""))?;
    HijriDate::from_str(text)
        .map(DualDate::from_hijri)
        .map_err(|_| field(name, expected, text))
}

fn field(field: &'static str, expected: &'static str, value: &str) -> ChambersError {
    ChambersError::Field {
        field,
        expected,
        value: value.chars().take(40).collect(),
    }
}
