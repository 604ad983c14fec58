//! MHRSD's codes: the ESB's status codes and the coded values its bodies carry. Each
//! table is the one place where a code meets its meaning; the adapter decodes through
//! it and the simulator encodes through it.
//!
//! `E0000142` (wrong establishment number), `E0000949` (not in Nitaqat) and `ODM00102`
//! (Nitaqat colour below Low Green) are MHRSD's own; the others, and the numeric ids of
//! the coded values, are the sandbox's design, in the same style.

/// The success code.
pub const SUCCESS: &str = "I000000";
/// No establishment has that number (MHRSD's own code).
pub const ESTABLISHMENT_NOT_FOUND: &str = "E0000142";
/// The establishment has no Nitaqat file (MHRSD's own code).
pub const NOT_IN_NITAQAT: &str = "E0000949";
/// The establishment's Nitaqat colour is below Low Green (MHRSD's own code).
pub const BELOW_LOW_GREEN: &str = "ODM00102";
/// No cooperative society has that unified number.
pub const SOCIETY_NOT_FOUND: &str = "E0002001";
/// The request is malformed: a missing envelope, header field or parameter.
pub const INVALID_REQUEST: &str = "E0000001";
/// The ESB or a system behind it failed.
pub const INTERNAL_ERROR: &str = "E0000500";

/// What a status code means to Rabt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The answer is in the body.
    Success,
    /// No such establishment or society, or no Nitaqat file: `NOT_FOUND`.
    NotFound,
    /// A Nitaqat colour below Low Green, stated as an error: `MISMATCH`.
    BelowLowGreen,
    /// MHRSD refused our request: `INVALID_INPUT`.
    InvalidRequest,
    /// MHRSD failed: retry later.
    Internal,
}

/// A status code with its meaning and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCode {
    /// The code.
    pub code: &'static str,
    /// What it means.
    pub meaning: Meaning,
    /// The message in Arabic.
    pub ar: &'static str,
    /// The message in English.
    pub en: &'static str,
}

/// Every status code this adapter knows.
pub const STATUS_CODES: [StatusCode; 7] = [
    StatusCode {
        code: SUCCESS,
        meaning: Meaning::Success,
        ar: "تمت العملية بنجاح",
        en: "The operation completed successfully",
    },
    StatusCode {
        code: ESTABLISHMENT_NOT_FOUND,
        meaning: Meaning::NotFound,
        ar: "رقم المنشأة غير صحيح",
        en: "No establishment has this number",
    },
    StatusCode {
        code: NOT_IN_NITAQAT,
        meaning: Meaning::NotFound,
        ar: "المنشأة غير مسجلة في برنامج نطاقات",
        en: "The establishment is not in Nitaqat",
    },
    StatusCode {
        code: BELOW_LOW_GREEN,
        meaning: Meaning::BelowLowGreen,
        ar: "نطاق المنشأة أقل من الأخضر المنخفض",
        en: "The establishment's Nitaqat colour is below Low Green",
    },
    StatusCode {
        code: SOCIETY_NOT_FOUND,
        meaning: Meaning::NotFound,
        ar: "لا توجد جمعية تعاونية مسجلة بهذا الرقم الموحد",
        en: "No cooperative society is registered with this unified number",
    },
    StatusCode {
        code: INVALID_REQUEST,
        meaning: Meaning::InvalidRequest,
        ar: "الطلب غير صحيح",
        en: "The request is invalid",
    },
    StatusCode {
        code: INTERNAL_ERROR,
        meaning: Meaning::Internal,
        ar: "حدث خطأ داخلي، يرجى المحاولة لاحقاً",
        en: "An internal error occurred, please try again later",
    },
];

/// The status code `code`, if this adapter knows it.
pub fn status_code(code: &str) -> Option<&'static StatusCode> {
    STATUS_CODES.iter().find(|s| s.code == code)
}

/// A coded value: MHRSD's id, Rabt's name for it (as the output schemas write it), and
/// MHRSD's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coded {
    /// MHRSD's id.
    pub id: &'static str,
    /// Rabt's wire name, e.g. `MEDIUM_GREEN`.
    pub rabt: &'static str,
    /// The Arabic name.
    pub ar: &'static str,
    /// The English name.
    pub en: &'static str,
}

const fn coded(id: &'static str, rabt: &'static str, ar: &'static str, en: &'static str) -> Coded {
    Coded { id, rabt, ar, en }
}

/// Nitaqat colours, lowest first.
pub const NITAQAT_COLORS: [Coded; 5] = [
    coded("1", "RED", "أحمر", "Red"),
    coded("2", "LOW_GREEN", "أخضر منخفض", "Low Green"),
    coded("3", "MEDIUM_GREEN", "أخضر متوسط", "Medium Green"),
    coded("4", "HIGH_GREEN", "أخضر مرتفع", "High Green"),
    coded("5", "PLATINUM", "بلاتيني", "Platinum"),
];

/// The colour below which an establishment is not compliant.
pub const LOWEST_COMPLIANT_COLOR: &str = "LOW_GREEN";

/// Saudization certificate statuses (`SaudiCertStatus`).
pub const CERTIFICATE_STATUSES: [Coded; 3] = [
    coded("1", "VALID", "سارية", "Valid"),
    coded("2", "EXPIRED", "منتهية", "Expired"),
    coded("3", "CANCELLED", "ملغاة", "Cancelled"),
];

/// Cooperative society types.
pub const SOCIETY_TYPES: [Coded; 10] = [
    coded("1", "MULTI_PURPOSE", "متعددة الأغراض", "Multi-Purpose"),
    coded("2", "AGRICULTURAL", "زراعية", "Agricultural"),
    coded("3", "CONSUMER", "استهلاكية", "Consumer"),
    coded("4", "FISHERIES", "صيد الأسماك", "Fisheries"),
    coded("5", "HOUSING", "إسكان", "Housing"),
    coded("6", "SERVICES", "خدمات", "Services"),
    coded("7", "TRANSPORT", "نقل", "Transport"),
    coded("8", "PRODUCTIVE", "إنتاجية", "Productive"),
    coded("9", "NEIGHBOURHOOD", "جمعيات الأحياء", "Neighbourhood"),
    coded("99", "OTHER", "أخرى", "Other"),
];

/// Where a society stands in the registry.
pub const SOCIETY_STATUSES: [Coded; 4] = [
    coded("1", "ACTIVE", "نشطة", "Active"),
    coded("2", "SUSPENDED", "موقوفة", "Suspended"),
    coded("3", "UNDER_LIQUIDATION", "تحت التصفية", "Under liquidation"),
    coded("4", "DISSOLVED", "منحلة", "Dissolved"),
];

/// The one status in which a society is in good standing.
pub const ACTIVE_SOCIETY: &str = "ACTIVE";

/// Seats on a society's board.
pub const BOARD_POSITIONS: [Coded; 5] = [
    coded("1", "CHAIRMAN", "رئيس مجلس الإدارة", "Chairman"),
    coded(
        "2",
        "VICE_CHAIRMAN",
        "نائب رئيس مجلس الإدارة",
        "Vice chairman",
    ),
    coded("3", "TREASURER", "أمين الصندوق", "Treasurer"),
    coded("4", "SECRETARY", "أمين السر", "Secretary"),
    coded("5", "MEMBER", "عضو", "Member"),
];

/// The entry of `table` with MHRSD's id `id`.
pub fn by_id(table: &'static [Coded], id: &str) -> Option<&'static Coded> {
    table.iter().find(|c| c.id == id)
}

/// The entry of `table` with Rabt's name `rabt`.
pub fn by_rabt(table: &'static [Coded], rabt: &str) -> Option<&'static Coded> {
    table.iter().find(|c| c.rabt == rabt)
}

/// The `{"Id", "Ar", "En"}` of an entry.
pub fn code_name(coded: &Coded) -> super::CodeName {
    super::CodeName {
        id: coded.id.to_owned(),
        ar: coded.ar.to_owned(),
        en: coded.en.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rabt_sandbox::world::{
        BoardRole, CertificateStatus, CooperativeKind, CooperativeStatus, NitaqatBand,
    };

    use super::*;

    fn names(table: &[Coded]) -> Vec<&str> {
        table.iter().map(|c| c.rabt).collect()
    }

    #[test]
    fn every_sandbox_value_has_a_code_in_the_same_order() {
        let all = |v: &[&'static str]| v.to_vec();
        let bands: Vec<_> = NitaqatBand::ALL.iter().map(|b| b.as_str()).collect();
        assert_eq!(names(&NITAQAT_COLORS), all(&bands));
        let statuses: Vec<_> = CertificateStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names(&CERTIFICATE_STATUSES), all(&statuses));
        let kinds: Vec<_> = CooperativeKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names(&SOCIETY_TYPES), all(&kinds));
        let states: Vec<_> = CooperativeStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names(&SOCIETY_STATUSES), all(&states));
        let roles: Vec<_> = BoardRole::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names(&BOARD_POSITIONS), all(&roles));
    }

    #[test]
    fn ids_and_codes_are_unique() {
        for table in [
            &NITAQAT_COLORS[..],
            &CERTIFICATE_STATUSES,
            &SOCIETY_TYPES,
            &SOCIETY_STATUSES,
            &BOARD_POSITIONS,
        ] {
            let ids: HashSet<_> = table.iter().map(|c| c.id).collect();
            assert_eq!(ids.len(), table.len());
            for c in table {
                assert_eq!(by_id(table, c.id), Some(c));
                assert_eq!(by_rabt(table, c.rabt), Some(c));
            }
        }
        let codes: HashSet<_> = STATUS_CODES.iter().map(|s| s.code).collect();
        assert_eq!(codes.len(), STATUS_CODES.len());
        assert_eq!(
            status_code(NOT_IN_NITAQAT).unwrap().meaning,
            Meaning::NotFound
        );
        assert_eq!(status_code("E9999999"), None);
    }
}
