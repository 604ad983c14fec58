//! A Balady callback, translated into the outcome and output of the
//! `municipal.license.verify` task it answers (the table is in the crate's docs).
//!
//! Rabt has checked the signature, the timestamp, replays and the callback schema
//! before this runs; what is left is Balady's own consistency: a `FOUND` carries a
//! licence, the licence is the one that was asked about, its two calendars name the
//! same days, it expires after it was issued. A callback that breaks these is
//! [`AdapterError::BadCallback`]: it answers nothing, and a retry cannot mend it.
//!
//! The adapter holds no state, so whether the licence belongs to the establishment the
//! input named is read from the callback alone: Balady echoes the request it answers
//! (`request`), and `holderMatches` compares its `unifiedNumber` with the licence's
//! holder. Without the echo there is nothing to compare, and `holderMatches` is left
//! out.

use chrono::{FixedOffset, NaiveDate};
use rabt_adapter::{AdapterError, CallbackAnswer};
use rabt_core::{DualDate, HijriDate, Outcome, ShortAddress};
use serde::Deserialize;

use crate::input::LicenceNumber;
use crate::output::{
    ActivityOutput, AddressOutput, FoundLicence, InspectionOutput, LicenceOutput, Names,
};
use crate::wire::{
    BaladyActivity, BaladyCallback, BaladyEventType, BaladyInspection, BaladyLicense,
    BaladyLicenseStatus, BaladyResult, BaladyVerificationRequest, is_valid_reference,
};

/// Riyadh's offset from UTC (no daylight saving): an inspection's day is Riyadh's day.
const RIYADH_OFFSET_SECONDS: i32 = 3 * 3600;

/// Reads a callback body into the answer it carries.
pub fn read(body: &serde_json::Value) -> Result<CallbackAnswer, AdapterError> {
    let callback = BaladyCallback::deserialize(body)
        .map_err(|e| bad(format!("not a Balady licence callback: {e}")))?;
    translate(&callback)
}

/// Translates a parsed callback.
pub fn translate(callback: &BaladyCallback) -> Result<CallbackAnswer, AdapterError> {
    match callback.event_type {
        BaladyEventType::LicenseVerificationCompleted => {}
    }
    if !is_valid_reference(&callback.reference) {
        return Err(bad("the reference is not one Balady gives".to_owned()));
    }
    let (outcome, output) = match callback.result {
        BaladyResult::NotFound => (Outcome::NotFound, LicenceOutput::not_found()),
        BaladyResult::Found => found(callback)?,
    };
    let data = serde_json::to_value(&output)
        .map_err(|e| bad(format!("the licence cannot be written out: {e}")))?;
    Ok(CallbackAnswer {
        upstream_ref: callback.reference.clone(),
        outcome,
        data,
    })
}

fn found(callback: &BaladyCallback) -> Result<(Outcome, LicenceOutput), AdapterError> {
    let licence = callback
        .license
        .as_ref()
        .ok_or_else(|| bad("FOUND without a license".to_owned()))?;
    let request = callback.request.as_ref();
    if request.is_some_and(|r| r.license_number != licence.license_number) {
        return Err(bad(
            "the licence found is not the one that was asked about".to_owned()
        ));
    }
    let holder_matches = holder_matches(licence, request)?;
    let type_matches = request.is_none_or(|r| r.license_type == licence.license_type);
    let outcome = match licence.status {
        BaladyLicenseStatus::Active if holder_matches != Some(false) && type_matches => Outcome::Ok,
        BaladyLicenseStatus::Active
        | BaladyLicenseStatus::Expired
        | BaladyLicenseStatus::Suspended
        | BaladyLicenseStatus::Cancelled => Outcome::Mismatch,
    };
    let output = LicenceOutput {
        found: true,
        licence: Some(found_licence(
            licence,
            holder_matches,
            callback.inspection.as_ref(),
        )?),
    };
    Ok((outcome, output))
}

/// Whether the holder is the establishment asked about; `None` when none was asked.
fn holder_matches(
    licence: &BaladyLicense,
    request: Option<&BaladyVerificationRequest>,
) -> Result<Option<bool>, AdapterError> {
    let Some(asked) = request.and_then(|r| r.unified_number.as_deref()) else {
        return Ok(None);
    };
    let holder = licence.holder.as_ref().ok_or_else(|| {
        bad("the municipality did not name the holder it was asked to check".to_owned())
    })?;
    Ok(Some(holder.unified_number == asked))
}

fn found_licence(
    licence: &BaladyLicense,
    holder_matches: Option<bool>,
    inspection: Option<&BaladyInspection>,
) -> Result<FoundLicence, AdapterError> {
    let number = LicenceNumber::parse(&licence.license_number)
        .ok_or_else(|| bad("licenseNumber is not 8 to 20 digits".to_owned()))?;
    let issued_at = dual(
        licence.issue_date_gregorian,
        licence.issue_date_hijri,
        "issue",
    )?;
    let expires_at = dual(
        licence.expiry_date_gregorian,
        licence.expiry_date_hijri,
        "expiry",
    )?;
    if expires_at <= issued_at {
        return Err(bad("the licence expires before it was issued".to_owned()));
    }
    let activities = licence
        .activities
        .iter()
        .map(activity)
        .collect::<Result<Vec<_>, _>>()?;
    let address = licence
        .short_address
        .as_deref()
        .map(|s| ShortAddress::parse(s).map(|short_address| AddressOutput { short_address }))
        .transpose()
        .map_err(|e| bad(format!("shortAddress: {e}")))?;
    let linked_permits = licence
        .linked_permits
        .iter()
        .map(|p| LicenceNumber::parse(p).map(|n| n.to_string()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("a linked permit is not 8 to 20 digits".to_owned()))?;
    let holder = licence.holder.as_ref();
    Ok(FoundLicence {
        license_number: number.to_string(),
        license_type: licence.license_type,
        status: licence.status,
        holder_matches,
        holder_name: holder.and_then(|h| names(h.name_ar.as_ref(), h.name_en.as_ref())),
        activities,
        issued_at,
        expires_at,
        municipality: names(
            licence.municipality_name_ar.as_ref(),
            licence.municipality_name_en.as_ref(),
        ),
        address,
        inspection: inspection.map(inspection_output).transpose()?,
        linked_permits,
    })
}

fn activity(activity: &BaladyActivity) -> Result<ActivityOutput, AdapterError> {
    let code = &activity.activity_code;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(4..=8).contains(&code.len()) {
        return Err(bad("an activity code is not 4 to 8 digits".to_owned()));
    }
    let name = names(
        Some(&activity.activity_name_ar),
        Some(&activity.activity_name_en),
    )
    .ok_or_else(|| bad("an activity has no name".to_owned()))?;
    Ok(ActivityOutput {
        code: code.clone(),
        name,
    })
}

fn inspection_output(inspection: &BaladyInspection) -> Result<InspectionOutput, AdapterError> {
    if inspection.inspection_id.is_empty() || inspection.inspection_id.len() > 64 {
        return Err(bad("the inspection id is not 1 to 64 characters".to_owned()));
    }
    let riyadh = FixedOffset::east_opt(RIYADH_OFFSET_SECONDS)
        .ok_or_else(|| bad("Riyadh's offset is out of range".to_owned()))?;
    let day = inspection.inspected_at.with_timezone(&riyadh).date_naive();
    let inspected_at = DualDate::from_gregorian(day)
        .map_err(|e| bad(format!("the inspection day has no Hijri date: {e}")))?;
    Ok(InspectionOutput {
        reference: inspection.inspection_id.clone(),
        inspected_at,
        result: inspection.result,
    })
}

/// One day from Balady's two fields, which must name the same day.
fn dual(gregorian: NaiveDate, hijri: HijriDate, what: &str) -> Result<DualDate, AdapterError> {
    let from_gregorian = DualDate::from_gregorian(gregorian)
        .map_err(|e| bad(format!("the {what} date has no Hijri date: {e}")))?;
    if from_gregorian.hijri != hijri {
        return Err(bad(format!(
            "the {what} date's two calendars disagree: {gregorian} is {}, not {hijri}",
            from_gregorian.hijri
        )));
    }
    Ok(from_gregorian)
}

/// Both languages, or nothing: Rabt's texts are always bilingual.
fn names(ar: Option<&String>, en: Option<&String>) -> Option<Names> {
    match (ar, en) {
        (Some(ar), Some(en)) if !ar.trim().is_empty() && !en.trim().is_empty() => Some(Names {
            ar: ar.clone(),
            en: en.clone(),
        }),
        _ => None,
    }
}

fn bad(reason: String) -> AdapterError {
    AdapterError::BadCallback(reason)
}

#[cfg(test)]
mod tests;
