//! Rabt's own output of `health.certificates.verify` (the catalogue's output schema),
//! which the callback of [`crate::wire`] translates into, and the rule of validity.

use chrono::NaiveDate;
use rabt_core::{DualDate, NationalId};
use serde::Serialize;

/// A name in Arabic and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    /// Arabic.
    pub ar: String,
    /// English.
    pub en: String,
}

/// A certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CertificateStatus {
    /// In force.
    Valid,
    /// Past its expiry.
    Expired,
    /// Withdrawn.
    Cancelled,
}

/// The medical examination's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MedicalFitness {
    /// Fit to handle food.
    Fit,
    /// Not fit.
    Unfit,
}

/// Whether a certificate is valid on `day`: VALID, FIT, and not past its expiry. The
/// ministry's own status should already say EXPIRED for an expired one; the date is
/// checked too, so a stale status cannot pass.
pub fn is_valid(
    status: CertificateStatus,
    fitness: MedicalFitness,
    expires_on: NaiveDate,
    day: NaiveDate,
) -> bool {
    let in_force = match status {
        CertificateStatus::Valid => true,
        CertificateStatus::Expired | CertificateStatus::Cancelled => false,
    };
    let fit = match fitness {
        MedicalFitness::Fit => true,
        MedicalFitness::Unfit => false,
    };
    in_force && fit && expires_on >= day
}

/// The `data` of a `health.certificates.verify` answer: one entry per worker asked
/// about, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificatesOutput {
    /// The establishment licence of the batch.
    pub establishment_license_number: String,
    /// Whether every worker holds a valid certificate.
    pub all_valid: bool,
    /// One entry per worker.
    pub certificates: Vec<WorkerCertificate>,
}

/// One worker's certificate, or its absence (`found: false` and nothing more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerCertificate {
    /// National ID or iqama.
    pub id_number: String,
    /// Whether the worker holds a certificate for this establishment.
    pub found: bool,
    /// Whether that certificate is valid ([`is_valid`]).
    pub valid: bool,
    /// The certificate's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_number: Option<String>,
    /// Its status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateStatus>,
    /// FIT or UNFIT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medical_fitness: Option<MedicalFitness>,
    /// The worker's profession.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profession: Option<Names>,
    /// Whether the health-education test was passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub education_passed: Option<bool>,
    /// When it was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<DualDate>,
    /// When it expires or expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DualDate>,
}

impl WorkerCertificate {
    /// A worker without a certificate for the establishment.
    pub fn not_found(id: NationalId) -> Self {
        Self {
            id_number: id.as_str().to_owned(),
            found: false,
            valid: false,
            certificate_number: None,
            status: None,
            medical_fitness: None,
            profession: None,
            education_passed: None,
            issued_at: None,
            expires_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn valid_means_valid_fit_and_not_expired() {
        let today = day(2030, 6, 1);
        let far = day(2037, 1, 1);
        use CertificateStatus as S;
        use MedicalFitness as F;
        assert!(is_valid(S::Valid, F::Fit, far, today));
        assert!(
            is_valid(S::Valid, F::Fit, today, today),
            "valid on its last day"
        );
        assert!(!is_valid(S::Valid, F::Fit, day(2030, 5, 31), today));
        assert!(!is_valid(S::Valid, F::Unfit, far, today));
        assert!(!is_valid(S::Expired, F::Fit, far, today));
        assert!(!is_valid(S::Cancelled, F::Fit, far, today));
    }

    #[test]
    fn a_missing_certificate_says_only_so() {
        let id = NationalId::parse("2000000030").unwrap();
        let json = serde_json::to_value(WorkerCertificate::not_found(id)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"idNumber": "2000000030", "found": false, "valid": false})
        );
    }
}
