//! What the other agencies hold about an establishment: its municipal licence (Balady),
//! its chamber membership (Federation of Saudi Chambers), its labour file (MHRSD:
//! Nitaqat and Saudization) and its workers' health certificates (MoH / Balady).

use rabt_core::{DualDate, NationalId, ShortAddress, UnifiedNumber};
use serde::Serialize;

use super::address::Bilingual;

wire_enum! {
    /// A municipal licence's status.
    LicenceStatus {
        /// In force (expires 2036 or later).
        Active = "ACTIVE",
        /// Past its expiry (2024 or earlier).
        Expired = "EXPIRED",
        /// Suspended by the municipality.
        Suspended = "SUSPENDED",
        /// Cancelled; cancelling a licence revokes its linked permits.
        Cancelled = "CANCELLED",
    }
}

wire_enum! {
    /// What a municipal licence allows.
    LicenceKind {
        /// A shop or office licence.
        Commercial = "COMMERCIAL",
        /// A building permit.
        BuildingPermit = "BUILDING_PERMIT",
    }
}

/// An activity (ISIC4 code) or a profession: a code and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Activity {
    /// The code: ISIC4 (six digits) for activities, ISCO-08 (four digits) for
    /// professions.
    pub code: String,
    /// Its name.
    pub name: Bilingual,
}

/// A municipal (Balady) licence or building permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MunicipalLicence {
    /// The unified licence number (`^\d{8,20}$`).
    pub number: String,
    /// Commercial licence or building permit.
    pub kind: LicenceKind,
    /// Its status.
    pub status: LicenceStatus,
    /// The holder's unified number.
    pub holder: UnifiedNumber,
    /// The holder's name.
    pub holder_name: Bilingual,
    /// The activities it allows (at least one).
    pub activities: Vec<Activity>,
    /// When it was issued (2024 or earlier).
    pub issued_at: DualDate,
    /// When it expires or expired.
    pub expires_at: DualDate,
    /// The municipality that issued it.
    pub municipality: Bilingual,
    /// The licensed premises.
    pub address: ShortAddress,
    /// Permits linked to this licence (building permits, themselves in the world).
    pub linked_permits: Vec<String>,
}

wire_enum! {
    /// A chamber membership's class.
    MembershipClass {
        /// الممتازة.
        Excellent = "EXCELLENT",
        /// الأولى.
        First = "FIRST",
        /// الثانية.
        Second = "SECOND",
        /// الثالثة.
        Third = "THIRD",
        /// الرابعة.
        Fourth = "FOURTH",
    }
}

/// A membership of a chamber of commerce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChamberMembership {
    /// The chamber's code (1 Riyadh, 2 Jeddah…).
    pub chamber_code: u16,
    /// The chamber's name.
    pub chamber_name: Bilingual,
    /// The membership number within that chamber (`^\d{1,12}$`).
    pub membership_number: String,
    /// The member establishment's unified number.
    pub holder: UnifiedNumber,
    /// The member establishment's name.
    pub establishment_name: Bilingual,
    /// The membership class.
    pub class: MembershipClass,
    /// The legacy commercial registration number (ten digits, city prefix first).
    pub cr_number: String,
    /// When the subscription started (2024 or earlier).
    pub subscribed_at: DualDate,
    /// When it ends: 2036 or later for a valid membership, 2024 or earlier for an
    /// expired one.
    pub expires_at: DualDate,
}

wire_enum! {
    /// A Nitaqat band, lowest first.
    NitaqatBand {
        /// Below the required Saudization: not compliant.
        Red = "RED",
        /// The lowest compliant band.
        LowGreen = "LOW_GREEN",
        /// نطاق أخضر متوسط.
        MediumGreen = "MEDIUM_GREEN",
        /// نطاق أخضر مرتفع.
        HighGreen = "HIGH_GREEN",
        /// The top band.
        Platinum = "PLATINUM",
    }
}

impl NitaqatBand {
    /// Whether the band is at least LOW_GREEN.
    pub fn is_compliant(self) -> bool {
        self != NitaqatBand::Red
    }

    /// The sandbox's band for a Saudization rate in tenths of a percent. Real
    /// thresholds depend on the activity and the size; the sandbox uses one table:
    /// RED below 10 %, LOW_GREEN below 20 %, MEDIUM_GREEN below 30 %, HIGH_GREEN below
    /// 40 %, PLATINUM from 40 %.
    pub fn for_rate_tenths(rate_tenths: u32) -> NitaqatBand {
        match rate_tenths {
            0..100 => NitaqatBand::Red,
            100..200 => NitaqatBand::LowGreen,
            200..300 => NitaqatBand::MediumGreen,
            300..400 => NitaqatBand::HighGreen,
            _ => NitaqatBand::Platinum,
        }
    }
}

wire_enum! {
    /// A certificate's status (Saudization certificates and health certificates).
    CertificateStatus {
        /// In force (expires 2036 or later).
        Valid = "VALID",
        /// Past its expiry (2024 or earlier).
        Expired = "EXPIRED",
        /// Withdrawn.
        Cancelled = "CANCELLED",
    }
}

/// An establishment's Saudization certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SaudizationCertificate {
    /// Its number, e.g. `SC-2024-000123`.
    pub number: String,
    /// Its status.
    pub status: CertificateStatus,
    /// When it was issued (2024 or earlier).
    pub issued_at: DualDate,
    /// When it expires or expired.
    pub expires_at: DualDate,
}

/// An establishment's file at MHRSD: Nitaqat band, headcount and certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaborFile {
    /// The establishment's unified number.
    pub holder: UnifiedNumber,
    /// The labour office: the first half of the establishment number `1-63293`.
    pub labor_office_id: u16,
    /// The sequence number within that office: the second half.
    pub sequence_number: u32,
    /// The establishment's name.
    pub establishment_name: Bilingual,
    /// Its band, which follows the rate ([`NitaqatBand::for_rate_tenths`]).
    pub band: NitaqatBand,
    /// `saudi / (saudi + non_saudi)` in percent, one decimal, 0–100.
    pub saudization_rate: f64,
    /// Saudi employees.
    pub saudi: u32,
    /// Non-Saudi employees.
    pub non_saudi: u32,
    /// Its Saudization certificate (VALID only when the band is compliant).
    pub certificate: SaudizationCertificate,
    /// The GOSI registration number (nine digits).
    pub gosi_registration: String,
    /// Whether its GOSI contributions are up to date.
    pub gosi_compliant: bool,
}

impl LaborFile {
    /// The establishment number as MHRSD writes it: `LaborOfficeId-SequenceNumber`.
    pub fn establishment_number(&self) -> String {
        format!("{}-{}", self.labor_office_id, self.sequence_number)
    }
}

/// The Saudization rate of a headcount in tenths of a percent, rounded half up.
pub(crate) fn rate_tenths(saudi: u32, non_saudi: u32) -> u32 {
    let total = u64::from(saudi) + u64::from(non_saudi);
    if total == 0 {
        return 0;
    }
    let tenths = (u64::from(saudi) * 1000 + total / 2) / total;
    u32::try_from(tenths).unwrap_or(1000)
}

wire_enum! {
    /// The medical examination's verdict (Sehha sends it to Balady).
    Fitness {
        /// لائق.
        Fit = "FIT",
        /// غير لائق.
        Unfit = "UNFIT",
    }
}

/// A food-handling worker's health certificate, issued for one establishment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCertificate {
    /// The worker (a person of the world).
    pub person: NationalId,
    /// The municipal licence of the shop or kitchen the worker serves.
    pub establishment_licence: String,
    /// The certificate's number, e.g. `HC-1445-778812`.
    pub number: String,
    /// Its status.
    pub status: CertificateStatus,
    /// The medical examination's verdict; a certificate is valid only when FIT.
    pub fitness: Fitness,
    /// The worker's profession (ISCO-08 code and name).
    pub profession: Activity,
    /// Whether the health-education test was passed.
    pub education_passed: bool,
    /// When it was issued (2024 or earlier).
    pub issued_at: DualDate,
    /// When it expires or expired.
    pub expires_at: DualDate,
    /// Whether it is a seasonal certificate (Hajj and Ramadan workers).
    pub seasonal: bool,
}

impl HealthCertificate {
    /// What `health.certificates.verify` calls valid: VALID and FIT. (A VALID
    /// certificate always expires in 2036 or later, so no clock is needed.)
    pub fn is_valid(&self) -> bool {
        self.status == CertificateStatus::Valid && self.fitness == Fitness::Fit
    }
}
