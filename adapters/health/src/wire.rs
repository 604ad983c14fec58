//! The Ministry of Health's own wire format, named as the ministry names it, and its
//! translation into Rabt's [`CertificatesOutput`].
//!
//! Three documents travel: the batch Rabt submits ([`MohBatchRequest`]), the
//! ministry's acceptance with its reference ([`MohBatchAccepted`]), and, later, the
//! callback with every worker's certificate ([`MohBatchCallback`], the body of
//! schemas/callbacks/health.json). Errors are [`MohError`]. The simulator serialises
//! these same types, and the golden JSON files under `tests/fixtures/wire/` pin the
//! format on both sides.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rabt_core::{DualDate, HijriDate, NationalId, Outcome};
use serde::{Deserialize, Serialize};

use crate::HealthError;
use crate::output::{
    CertificateStatus, CertificatesOutput, MedicalFitness, Names, WorkerCertificate,
};

/// The batch Rabt submits: one establishment licence and its workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MohBatchRequest {
    /// The unified licence number of the shop or kitchen (`^\d{8,20}$`).
    pub establishment_license_number: String,
    /// The workers, in the order Rabt asks about them.
    pub workers: Vec<MohWorkerRef>,
}

/// One worker of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MohWorkerRef {
    /// National ID or iqama.
    pub id_number: String,
}

/// The state of an accepted batch; the ministry accepts, then calls back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MohBatchStatus {
    /// Accepted for checking; the callback follows.
    Accepted,
}

/// The ministry's answer to a submitted batch (`202 Accepted`, or `200` when the same
/// `X-Request-Id` submits the same batch again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MohBatchAccepted {
    /// The ministry's batch number, e.g. `HB-2025-48213377`.
    pub batch_id: String,
    /// The reference its callback will quote (`^[A-Za-z0-9_-]{4,64}$`).
    pub reference: String,
    /// Always `ACCEPTED`.
    pub status: MohBatchStatus,
    /// The licence, echoed.
    pub establishment_license_number: String,
    /// How many workers the batch holds.
    pub workers_count: usize,
    /// When it was accepted (RFC 3339).
    pub accepted_at: DateTime<Utc>,
}

/// The ministry's error body, for every 4xx and 5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MohError {
    /// A stable code: `VALIDATION_ERROR`, `BATCH_TOO_LARGE`, `INVALID_API_KEY`,
    /// `ACCESS_DENIED`, `ESTABLISHMENT_NOT_FOUND`, `DUPLICATE_REQUEST`, `RATE_LIMITED`,
    /// `INTERNAL_ERROR`.
    pub code: String,
    /// What went wrong, in English.
    pub message_en: String,
    /// The same in Arabic.
    pub message_ar: String,
}

/// The code of a 404 that means "no such establishment licence" (as opposed to a
/// wrong path).
pub const ESTABLISHMENT_NOT_FOUND: &str = "ESTABLISHMENT_NOT_FOUND";

/// The kind of callback; the ministry sends one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MohEventType {
    /// Every worker of the batch has been checked.
    HealthCertificatesBatchCompleted,
}

/// The callback body (schemas/callbacks/health.json): the whole batch, one entry per
/// worker asked about, in the order asked. Fields it does not list are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MohBatchCallback {
    /// The ministry's batch number.
    pub batch_id: String,
    /// Always `HEALTH_CERTIFICATES_BATCH_COMPLETED`.
    pub event_type: MohEventType,
    /// The reference returned when the batch was accepted.
    pub reference: String,
    /// When the ministry finished checking: the day validity is judged on.
    pub completed_at: DateTime<Utc>,
    /// The licence of the batch.
    pub establishment_license_number: String,
    /// One entry per worker.
    pub workers: Vec<MohCallbackWorker>,
}

/// One worker in a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MohCallbackWorker {
    /// National ID or iqama.
    pub id_number: String,
    /// Whether the worker holds a certificate for this establishment.
    pub certificate_found: bool,
    /// The certificate, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<MohCertificate>,
}

/// A certificate's status as the ministry writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MohCertificateStatus {
    /// In force.
    Valid,
    /// Past its expiry.
    Expired,
    /// Withdrawn.
    Cancelled,
}

/// The medical examination's verdict, as Sehha sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MohFitness {
    /// لائق.
    Fit,
    /// غير لائق.
    Unfit,
}

/// A worker's health certificate, dates in both calendars as separate fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MohCertificate {
    /// E.g. `HC-1445-000101`.
    pub certificate_number: String,
    /// Its status.
    pub status: MohCertificateStatus,
    /// FIT or UNFIT.
    pub medical_fitness: MohFitness,
    /// The profession's code (ISCO-08).
    pub profession_code: String,
    /// The profession in Arabic.
    pub profession_name_ar: String,
    /// The profession in English.
    pub profession_name_en: String,
    /// Whether the health-education test was passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_education_passed: Option<bool>,
    /// A seasonal (Hajj or Ramadan) certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seasonal: Option<bool>,
    /// Issue day, Gregorian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date_gregorian: Option<NaiveDate>,
    /// Issue day, Umm al-Qura.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date_hijri: Option<HijriDate>,
    /// Expiry day, Gregorian.
    pub expiry_date_gregorian: NaiveDate,
    /// Expiry day, Umm al-Qura.
    pub expiry_date_hijri: HijriDate,
}

impl From<MohCertificateStatus> for CertificateStatus {
    fn from(status: MohCertificateStatus) -> Self {
        match status {
            MohCertificateStatus::Valid => CertificateStatus::Valid,
            MohCertificateStatus::Expired => CertificateStatus::Expired,
            MohCertificateStatus::Cancelled => CertificateStatus::Cancelled,
        }
    }
}

impl From<MohFitness> for MedicalFitness {
    fn from(fitness: MohFitness) -> Self {
        match fitness {
            MohFitness::Fit => MedicalFitness::Fit,
            MohFitness::Unfit => MedicalFitness::Unfit,
        }
    }
}

/// What one callback tells Rabt: the batch's reference, its outcome and its output.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
    /// The reference the adapter returned as `upstream_ref` when the batch was accepted.
    pub reference: String,
    /// `Ok` when every worker holds a valid certificate, else `Mismatch`.
    pub outcome: Outcome,
    /// The service's output.
    pub output: CertificatesOutput,
}

/// Saudi time (UTC+3, no daylight saving): the ministry's "today".
const RIYADH_OFFSET_SECONDS: i32 = 3 * 3600;

impl TryFrom<MohBatchCallback> for BatchResult {
    type Error = HealthError;

    fn try_from(callback: MohBatchCallback) -> Result<Self, Self::Error> {
        check_reference(&callback.reference)?;
        check_licence(&callback.establishment_license_number)?;
        let checked_on = checked_on(callback.completed_at);
        let certificates = callback
            .workers
            .into_iter()
            .map(|worker| worker_certificate(worker, checked_on))
            .collect::<Result<Vec<_>, _>>()?;
        if certificates.is_empty() {
            return Err(field("workers", "a non-empty list", ""));
        }
        let all_valid = certificates.iter().all(|c| c.valid);
        Ok(BatchResult {
            reference: callback.reference,
            // One outcome for the batch: the establishment is known (an unknown licence is
            // refused at submission), so a worker without a valid certificate is a
            // contradiction of what was asked, not an absence.
            outcome: if all_valid {
                Outcome::Ok
            } else {
                Outcome::Mismatch
            },
            output: CertificatesOutput {
                establishment_license_number: callback.establishment_license_number,
                all_valid,
                certificates,
            },
        })
    }
}

/// The day, in Saudi time, the ministry completed its check.
fn checked_on(completed_at: DateTime<Utc>) -> NaiveDate {
    // The offset is a constant within chrono's range (under a day), so this always
    // succeeds; falling back to UTC keeps the function total all the same.
    FixedOffset::east_opt(RIYADH_OFFSET_SECONDS)
        .map(|riyadh| completed_at.with_timezone(&riyadh).date_naive())
        .unwrap_or_else(|| completed_at.date_naive())
}

fn worker_certificate(
    worker: MohCallbackWorker,
    checked_on: NaiveDate,
) -> Result<WorkerCertificate, HealthError> {
    let id = NationalId::parse(&worker.id_number)
        // The value is not quoted: it may be someone's (mistyped) national ID.
        .map_err(|_| field("idNumber", "a national ID or iqama", ""))?;
    let certificate = match (worker.certificate_found, worker.certificate) {
        (false, _) => return Ok(WorkerCertificate::not_found(id)),
        (true, Some(certificate)) => certificate,
        (true, None) => return Err(field("certificate", "present when found", "")),
    };
    if certificate.certificate_number.is_empty() || certificate.certificate_number.len() > 40 {
        return Err(field(
            "certificateNumber",
            "1 to 40 characters",
            &certificate.certificate_number,
        ));
    }
    let expires_at = dual(
        "expiryDate",
        certificate.expiry_date_gregorian,
        certificate.expiry_date_hijri,
    )?;
    let issued_at = match (
        certificate.issue_date_gregorian,
        certificate.issue_date_hijri,
    ) {
        (Some(gregorian), Some(hijri)) => Some(dual("issueDate", gregorian, hijri)?),
        (Some(gregorian), None) => Some(
            DualDate::from_gregorian(gregorian)
                .map_err(|_| field("issueDateGregorian", "a date", &gregorian.to_string()))?,
        ),
        (None, Some(hijri)) => Some(DualDate::from_hijri(hijri)),
        (None, None) => None,
    };
    let status = CertificateStatus::from(certificate.status);
    let fitness = MedicalFitness::from(certificate.medical_fitness);
    Ok(WorkerCertificate {
        id_number: id.as_str().to_owned(),
        found: true,
        valid: crate::output::is_valid(status, fitness, expires_at.gregorian, checked_on),
        certificate_number: Some(certificate.certificate_number),
        status: Some(status),
        medical_fitness: Some(fitness),
        profession: Some(Names {
            ar: non_empty("professionNameAr", certificate.profession_name_ar)?,
            en: non_empty("professionNameEn", certificate.profession_name_en)?,
        }),
        education_passed: certificate.health_education_passed,
        issued_at,
        expires_at: Some(expires_at),
    })
}

/// One day from its two halves, which must name the same day.
fn dual(
    name: &'static str,
    gregorian: NaiveDate,
    hijri: HijriDate,
) -> Result<DualDate, HealthError> {
    match DualDate::from_gregorian(gregorian) {
        Ok(day) if day.hijri == hijri => Ok(day),
        _ => Err(HealthError::DatesDisagree {
            field: name,
            gregorian: gregorian.to_string(),
            hijri: hijri.to_string(),
        }),
    }
}

fn non_empty(name: &'static str, value: String) -> Result<String, HealthError> {
    if value.trim().is_empty() {
        return Err(field(name, "a name", ""));
    }
    Ok(value)
}

/// A reference the callback schema accepts: `^[A-Za-z0-9_-]{4,64}$`.
pub(crate) fn check_reference(reference: &str) -> Result<(), HealthError> {
    let ok = (4..=64).contains(&reference.len())
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(field(
            "reference",
            "4 to 64 letters, digits, _ or -",
            reference,
        ))
    }
}

/// A unified licence number: `^\d{8,20}$`.
pub(crate) fn check_licence(licence: &str) -> Result<(), HealthError> {
    if is_licence_number(licence) {
        Ok(())
    } else {
        Err(field(
            "establishmentLicenseNumber",
            "8 to 20 digits",
            licence,
        ))
    }
}

/// Whether `text` is a unified licence number (`^\d{8,20}$`).
pub fn is_licence_number(text: &str) -> bool {
    (8..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

fn field(name: &'static str, expected: &'static str, value: &str) -> HealthError {
    HealthError::Field {
        field: name,
        expected,
        value: value.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests;
