//! What the simulated inspector finds: the callback body for one accepted request,
//! built from the sandbox world's licence records.

use chrono::{DateTime, Datelike, FixedOffset};
use rabt_sandbox::world::{LicenceKind, LicenceStatus, MunicipalLicence, World};
use rand::Rng;

use crate::wire::{
    BaladyActivity, BaladyCallback, BaladyEventType, BaladyHolder, BaladyInspection,
    BaladyInspectionResult, BaladyLicense, BaladyLicenseStatus, BaladyLicenseType, BaladyResult,
    BaladyVerificationRequest,
};

/// A fresh reference for an accepted request: `BLD-` and ten hex digits.
pub fn new_reference() -> String {
    format!("BLD-{:010X}", rand::rng().random_range(0..1_u64 << 40))
}

/// The callback answering `request`, accepted as `reference` at `now`.
pub fn callback_for(
    world: &World,
    request: &BaladyVerificationRequest,
    reference: &str,
    now: DateTime<FixedOffset>,
) -> BaladyCallback {
    let record = world
        .licence(&request.license_number)
        .filter(|l| license_type(l.kind) == request.license_type);
    let mut rng = rand::rng();
    let event_id = format!("evt_{:016x}", rng.random::<u64>());
    let (result, license, inspection) = match record {
        None => (BaladyResult::NotFound, None, None),
        Some(licence) => {
            let inspection = BaladyInspection {
                inspection_id: format!(
                    "INSP-{}-{:06}",
                    now.year(),
                    rng.random_range(0..1_000_000_u32)
                ),
                inspected_at: now,
                result: inspection_result(licence.status),
                notes: inspection_notes(licence.status).map(str::to_owned),
            };
            (
                BaladyResult::Found,
                Some(license(licence)),
                Some(inspection),
            )
        }
    };
    BaladyCallback {
        event_id,
        event_type: BaladyEventType::LicenseVerificationCompleted,
        reference: reference.to_owned(),
        occurred_at: now,
        result,
        license,
        inspection,
        request: Some(request.clone()),
    }
}

/// A world licence as Balady writes it.
pub fn license(licence: &MunicipalLicence) -> BaladyLicense {
    BaladyLicense {
        license_number: licence.number.clone(),
        license_type: license_type(licence.kind),
        status: license_status(licence.status),
        holder: Some(BaladyHolder {
            unified_number: licence.holder.to_string(),
            name_ar: Some(licence.holder_name.ar.clone()),
            name_en: Some(licence.holder_name.en.clone()),
        }),
        activities: licence
            .activities
            .iter()
            .map(|a| BaladyActivity {
                activity_code: a.code.clone(),
                activity_name_ar: a.name.ar.clone(),
                activity_name_en: a.name.en.clone(),
            })
            .collect(),
        issue_date_gregorian: licence.issued_at.gregorian,
        issue_date_hijri: licence.issued_at.hijri,
        expiry_date_gregorian: licence.expires_at.gregorian,
        expiry_date_hijri: licence.expires_at.hijri,
        municipality_name_ar: Some(licence.municipality.ar.clone()),
        municipality_name_en: Some(licence.municipality.en.clone()),
        short_address: Some(licence.address.to_string()),
        linked_permits: licence.linked_permits.clone(),
    }
}

fn license_type(kind: LicenceKind) -> BaladyLicenseType {
    match kind {
        LicenceKind::Commercial => BaladyLicenseType::Commercial,
        LicenceKind::BuildingPermit => BaladyLicenseType::BuildingPermit,
    }
}

fn license_status(status: LicenceStatus) -> BaladyLicenseStatus {
    match status {
        LicenceStatus::Active => BaladyLicenseStatus::Active,
        LicenceStatus::Expired => BaladyLicenseStatus::Expired,
        LicenceStatus::Suspended => BaladyLicenseStatus::Suspended,
        LicenceStatus::Cancelled => BaladyLicenseStatus::Cancelled,
    }
}

/// An inspector visits premises whose licence is in force or suspended; an expired or
/// cancelled licence has nothing left to inspect.
fn inspection_result(status: LicenceStatus) -> BaladyInspectionResult {
    match status {
        LicenceStatus::Active => BaladyInspectionResult::Compliant,
        LicenceStatus::Suspended => BaladyInspectionResult::NonCompliant,
        LicenceStatus::Expired | LicenceStatus::Cancelled => BaladyInspectionResult::NotInspected,
    }
}

fn inspection_notes(status: LicenceStatus) -> Option<&'static str> {
    match status {
        LicenceStatus::Active => None,
        LicenceStatus::Suspended => {
            Some("Licence suspended pending correction of recorded violations.")
        }
        LicenceStatus::Expired => Some("Licence expired; not renewed."),
        LicenceStatus::Cancelled => Some("Licence cancelled; linked permits revoked."),
    }
}
