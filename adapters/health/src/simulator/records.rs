//! The callback of a batch, from the sandbox world's certificates.

use chrono::{DateTime, Utc};
use rabt_core::NationalId;
use rabt_sandbox::world::{CertificateStatus, Fitness, HealthCertificate, World};

use crate::wire::{
    MohBatchAccepted, MohBatchCallback, MohCallbackWorker, MohCertificate, MohCertificateStatus,
    MohEventType, MohFitness,
};

/// The callback the ministry sends once it has checked `workers` (in the order asked)
/// for the batch it `accepted`, completed at `completed_at`. Public so that tests can
/// build the exact body a batch gives.
pub fn batch_callback(
    world: &World,
    accepted: &MohBatchAccepted,
    workers: &[NationalId],
    completed_at: DateTime<Utc>,
) -> MohBatchCallback {
    let licence = &accepted.establishment_license_number;
    MohBatchCallback {
        batch_id: accepted.batch_id.clone(),
        event_type: MohEventType::HealthCertificatesBatchCompleted,
        reference: accepted.reference.clone(),
        completed_at,
        establishment_license_number: licence.clone(),
        workers: workers
            .iter()
            .map(|id| {
                let certificate = world.health_certificate(licence, id).map(moh_certificate);
                MohCallbackWorker {
                    id_number: id.as_str().to_owned(),
                    certificate_found: certificate.is_some(),
                    certificate,
                }
            })
            .collect(),
    }
}

/// A sandbox certificate as the ministry writes it.
fn moh_certificate(certificate: &HealthCertificate) -> MohCertificate {
    MohCertificate {
        certificate_number: certificate.number.clone(),
        status: match certificate.status {
            CertificateStatus::Valid => MohCertificateStatus::Valid,
            CertificateStatus::Expired => MohCertificateStatus::Expired,
            CertificateStatus::Cancelled => MohCertificateStatus::Cancelled,
        },
        medical_fitness: match certificate.fitness {
            Fitness::Fit => MohFitness::Fit,
            Fitness::Unfit => MohFitness::Unfit,
        },
        profession_code: certificate.profession.code.clone(),
        profession_name_ar: certificate.profession.name.ar.clone(),
        profession_name_en: certificate.profession.name.en.clone(),
        health_education_passed: Some(certificate.education_passed),
        seasonal: Some(certificate.seasonal),
        issue_date_gregorian: Some(certificate.issued_at.gregorian),
        issue_date_hijri: Some(certificate.issued_at.hijri),
        expiry_date_gregorian: certificate.expires_at.gregorian,
        expiry_date_hijri: certificate.expires_at.hijri,
    }
}
