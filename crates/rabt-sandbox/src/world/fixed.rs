//! The records every world holds whatever its seed: the golden fixtures of DESIGN.md
//! ([`super::golden`]) and the deliberate cases ([`super::cases`]), written out as
//! tables so that a reader sees each one whole.

use rabt_core::{Mobile, NationalId, ShortAddress, UnifiedNumber};

use super::address::Bilingual;
use super::cases;
use super::cooperatives::{BoardSeat, Cooperative, CooperativeKind, CooperativeStatus};
use super::golden::{self, FixedDate};
use super::institutions::{self, CityInstitutions};
use super::names;
use super::paperwork;
use super::people::{FourPartName, Gender, Person};
use super::records::{
    Activity, CertificateStatus, ChamberMembership, Fitness, HealthCertificate, LaborFile,
    LicenceKind, LicenceStatus, MembershipClass, MunicipalLicence, NitaqatBand,
    SaudizationCertificate, rate_tenths,
};
use super::registry::Records;

use CertificateStatus as Cert;
use CooperativeKind as Kind;
use CooperativeStatus as Status;
use LicenceStatus as Lic;
use MembershipClass as Class;

struct PersonDef {
    id: &'static str,
    ar: [&'static str; 4],
    en: [&'static str; 4],
    gender: Gender,
    birth: FixedDate,
    nationality: &'static str,
    id_expiry: FixedDate,
    mobile: &'static str,
    occupation: &'static str,
}

const fn hijri(y: u16, m: u8, d: u8) -> FixedDate {
    FixedDate::hijri(y, m, d)
}

const fn greg(y: u16, m: u8, d: u8) -> FixedDate {
    FixedDate::gregorian(y, m, d)
}

const M: Gender = Gender::Male;
const F: Gender = Gender::Female;

#[rustfmt::skip] // one person per line reads better than rustfmt's one field per line
const PEOPLE: &[PersonDef] = &[
    PersonDef { id: golden::CITIZEN_ID, ar: golden::CITIZEN_NAME_AR, en: golden::CITIZEN_NAME_EN, gender: M, birth: golden::CITIZEN_BIRTH, nationality: "SAU", id_expiry: golden::CITIZEN_ID_EXPIRY, mobile: golden::CITIZEN_MOBILE, occupation: "1120" },
    PersonDef { id: golden::BOARD[1].id, ar: ["فهد", "ناصر", "محمد", "الدوسري"], en: ["Fahd", "Nasser", "Mohammed", "Aldosari"], gender: M, birth: golden::BOARD[1].birth, nationality: "SAU", id_expiry: hijri(1461, 4, 12), mobile: "966501000016", occupation: "2142" },
    PersonDef { id: golden::BOARD[2].id, ar: ["سلطان", "عبدالرحمن", "فيصل", "الشهري"], en: ["Sultan", "Abdulrahman", "Faisal", "Alshehri"], gender: M, birth: golden::BOARD[2].birth, nationality: "SAU", id_expiry: hijri(1459, 8, 1), mobile: "966501000024", occupation: "2411" },
    PersonDef { id: golden::BOARD[3].id, ar: ["نورة", "سعد", "عبدالله", "الحربي"], en: ["Noura", "Saad", "Abdullah", "Alharbi"], gender: F, birth: golden::BOARD[3].birth, nationality: "SAU", id_expiry: hijri(1462, 2, 20), mobile: "966501000032", occupation: "2330" },
    PersonDef { id: cases::NAME_NORMALISATION_ID, ar: cases::NAME_NORMALISATION_AR, en: cases::NAME_NORMALISATION_EN, gender: F, birth: cases::NAME_NORMALISATION_BIRTH, nationality: "SAU", id_expiry: hijri(1463, 5, 5), mobile: "966501000040", occupation: "2221" },
    PersonDef { id: cases::WORKER_VALID_CITIZEN, ar: ["ماجد", "صالح", "حمد", "العنزي"], en: ["Majed", "Saleh", "Hamad", "Alanazi"], gender: M, birth: hijri(1412, 6, 20), nationality: "SAU", id_expiry: hijri(1460, 10, 10), mobile: "966501000057", occupation: "5120" },
    PersonDef { id: golden::RESIDENT_ID, ar: golden::RESIDENT_NAME_AR, en: golden::RESIDENT_NAME_EN, gender: M, birth: golden::RESIDENT_BIRTH, nationality: golden::RESIDENT_NATIONALITY, id_expiry: golden::RESIDENT_ID_EXPIRY, mobile: golden::RESIDENT_MOBILE, occupation: "5120" },
    PersonDef { id: cases::WORKER_UNFIT, ar: ["راجيش", "سوريش", "راميش", "ناير"], en: ["Rajesh", "Suresh", "Ramesh", "Nair"], gender: M, birth: greg(1990, 7, 22), nationality: "IND", id_expiry: greg(2036, 7, 22), mobile: "966502000014", occupation: "9412" },
    PersonDef { id: cases::WORKER_CERTIFICATE_EXPIRED, ar: ["عمران", "طارق", "محمد", "قريشي"], en: ["Imran", "Tariq", "Muhammad", "Qureshi"], gender: M, birth: greg(1988, 11, 5), nationality: "PAK", id_expiry: greg(2038, 11, 5), mobile: "966502000022", occupation: "7512" },
    PersonDef { id: cases::WORKER_WITHOUT_CERTIFICATE, ar: ["خوسيه", "رامون", "خوان", "سانتوس"], en: ["Jose", "Ramon", "Juan", "Santos"], gender: M, birth: greg(1993, 1, 30), nationality: "PHL", id_expiry: greg(2036, 9, 30), mobile: "966502000030", occupation: "5223" },
];

struct LicenceDef {
    number: &'static str,
    status: LicenceStatus,
    issued: FixedDate,
    expires: FixedDate,
    /// A building permit linked to the licence, and its status.
    permit: Option<(&'static str, LicenceStatus)>,
}

struct MembershipDef {
    number: &'static str,
    class: MembershipClass,
    cr: &'static str,
    expires: FixedDate,
}

struct LaborDef {
    sequence: u32,
    saudi: u32,
    non_saudi: u32,
    certificate: &'static str,
    /// VALID certificates run from [`CERT_ISSUED`] to [`CERT_EXPIRES`]; the others
    /// ran 90 days from 10 January 2023.
    certificate_status: CertificateStatus,
}

struct CoopDef {
    unified: &'static str,
    registration: &'static str,
    ar: &'static str,
    en: &'static str,
    kind: CooperativeKind,
    status: CooperativeStatus,
    registered: FixedDate,
    members: u32,
    hq: &'static str,
    licence: LicenceDef,
    membership: Option<MembershipDef>,
    labor: Option<LaborDef>,
}

const LICENCE_ISSUED: FixedDate = hijri(1440, 6, 1);
const LICENCE_EXPIRES: FixedDate = hijri(1460, 6, 1);
const SUBSCRIBED: FixedDate = hijri(1440, 6, 15);
const MEMBERSHIP_EXPIRES: FixedDate = hijri(1462, 6, 15);
const CERT_ISSUED: FixedDate = greg(2024, 1, 15);
const CERT_EXPIRES: FixedDate = greg(2037, 1, 15);
const TERM_ENDS: FixedDate = hijri(1461, 12, 1);

const fn labor_def(
    sequence: u32,
    saudi: u32,
    non_saudi: u32,
    certificate: &'static str,
) -> LaborDef {
    LaborDef {
        sequence,
        saudi,
        non_saudi,
        certificate,
        certificate_status: CertificateStatus::Valid,
    }
}

const fn licence(number: &'static str, status: LicenceStatus) -> LicenceDef {
    LicenceDef {
        number,
        status,
        issued: LICENCE_ISSUED,
        expires: LICENCE_EXPIRES,
        permit: None,
    }
}

const fn member(
    number: &'static str,
    class: MembershipClass,
    cr: &'static str,
) -> Option<MembershipDef> {
    Some(MembershipDef {
        number,
        class,
        cr,
        expires: MEMBERSHIP_EXPIRES,
    })
}

const fn labor(
    sequence: u32,
    saudi: u32,
    non_saudi: u32,
    certificate: &'static str,
) -> Option<LaborDef> {
    Some(labor_def(sequence, saudi, non_saudi, certificate))
}

const HQ: &str = golden::SHORT_ADDRESS_FOUND;

#[rustfmt::skip] // one field group per line: each case reads as one row
const COOPERATIVES: &[CoopDef] = &[
    CoopDef { unified: golden::COOP_COMPLIANT, registration: "1234", ar: "جمعية الربط التعاونية متعددة الأغراض", en: "Rabt Multi-Purpose Cooperative Society", kind: Kind::MultiPurpose, status: Status::Active, registered: hijri(1440, 5, 10), members: 48, hq: HQ,
        licence: LicenceDef { permit: Some((golden::COOP_COMPLIANT_BUILDING_PERMIT, Lic::Active)), ..licence(golden::COOP_COMPLIANT_LICENCE, Lic::Active) },
        membership: member(golden::COOP_COMPLIANT_MEMBERSHIP, Class::Second, "1010123456"),
        labor: labor(golden::COOP_COMPLIANT_LABOR_SEQUENCE, 8, 24, "SC-2024-000123") },
    CoopDef { unified: golden::COOP_EXPIRED_LICENCE, registration: "1235", ar: "جمعية النخيل التعاونية متعددة الأغراض", en: "Al Nakheel Multi-Purpose Cooperative Society", kind: Kind::MultiPurpose, status: Status::Active, registered: hijri(1434, 11, 2), members: 36, hq: HQ,
        licence: LicenceDef { issued: hijri(1435, 3, 1), expires: hijri(1445, 3, 1), ..licence(golden::COOP_EXPIRED_LICENCE_LICENCE, Lic::Expired) },
        membership: member("123457", Class::Third, "1010123457"),
        labor: labor(63294, 7, 21, "SC-2024-000124") },
    CoopDef { unified: golden::COOP_RED_BAND, registration: "1236", ar: "جمعية الوفاء التعاونية متعددة الأغراض", en: "Al Wafa Multi-Purpose Cooperative Society", kind: Kind::MultiPurpose, status: Status::Active, registered: hijri(1438, 2, 20), members: 52, hq: HQ,
        licence: licence("4000034567", Lic::Active),
        membership: member("123458", Class::Second, "1010123458"),
        labor: Some(LaborDef { certificate_status: Cert::Expired, ..labor_def(golden::COOP_RED_BAND_LABOR_SEQUENCE, 2, 28, "SC-2023-000125") }) },
    CoopDef { unified: cases::COOP_LICENCE_SUSPENDED, registration: "1237", ar: "جمعية البركة التعاونية للخدمات", en: "Al Baraka Services Cooperative Society", kind: Kind::Services, status: Status::Active, registered: hijri(1439, 7, 14), members: 30, hq: HQ,
        licence: licence(cases::LICENCE_SUSPENDED, Lic::Suspended),
        membership: member("123459", Class::Third, "1010123459"),
        labor: labor(63296, 6, 18, "SC-2024-000126") },
    CoopDef { unified: cases::COOP_LICENCE_CANCELLED, registration: "1238", ar: "جمعية الديار التعاونية للإسكان", en: "Al Diyar Housing Cooperative Society", kind: Kind::Housing, status: Status::Active, registered: hijri(1436, 4, 8), members: 120, hq: HQ,
        licence: LicenceDef { permit: Some((cases::PERMIT_CANCELLED, Lic::Cancelled)), ..licence(cases::LICENCE_CANCELLED, Lic::Cancelled) },
        membership: member("123460", Class::First, "1010123460"),
        labor: labor(63297, 8, 22, "SC-2024-000127") },
    CoopDef { unified: cases::COOP_MEMBERSHIP_EXPIRED, registration: "1239", ar: "جمعية المسار التعاونية للنقل", en: "Al Masar Transport Cooperative Society", kind: Kind::Transport, status: Status::Active, registered: hijri(1435, 9, 25), members: 25, hq: HQ,
        licence: licence("4000078901", Lic::Active),
        membership: Some(MembershipDef { number: cases::MEMBERSHIP_EXPIRED, class: Class::Fourth, cr: "1010123461", expires: hijri(1444, 2, 1) }),
        labor: labor(63298, 5, 15, "SC-2024-000128") },
    CoopDef { unified: cases::COOP_NO_LABOR_FILE, registration: "1240", ar: "جمعية السدو التعاونية الإنتاجية", en: "Al Sadu Productive Cooperative Society", kind: Kind::Productive, status: Status::Active, registered: hijri(1443, 1, 12), members: 18, hq: HQ,
        licence: licence("4000089012", Lic::Active),
        membership: member("123462", Class::Fourth, "1010123462"),
        labor: None },
    CoopDef { unified: cases::COOP_SUSPENDED, registration: "1241", ar: "جمعية السنابل التعاونية الزراعية", en: "Al Sanabel Agricultural Cooperative Society", kind: Kind::Agricultural, status: Status::Suspended, registered: hijri(1430, 8, 3), members: 64, hq: HQ,
        licence: licence("4000090123", Lic::Active),
        membership: member("123463", Class::Third, "1010123463"),
        labor: labor(63300, 5, 17, "SC-2024-000130") },
    CoopDef { unified: cases::COOP_HQ_NOT_IN_WORLD, registration: "1242", ar: "جمعية الأمل التعاونية متعددة الأغراض", en: "Al Amal Multi-Purpose Cooperative Society", kind: Kind::MultiPurpose, status: Status::Active, registered: hijri(1441, 3, 19), members: 40, hq: cases::HQ_NOT_IN_WORLD,
        licence: licence("4000101234", Lic::Active),
        membership: member("123464", Class::Third, "1010123464"),
        labor: labor(63301, 7, 20, "SC-2024-000131") },
    CoopDef { unified: cases::COOP_NO_MEMBERSHIP, registration: "1243", ar: "جمعية التراث التعاونية", en: "Al Turath Cooperative Society", kind: Kind::Other, status: Status::Active, registered: hijri(1442, 10, 7), members: 15, hq: HQ,
        licence: licence("4000112345", Lic::Active),
        membership: None,
        labor: labor(63302, 3, 9, "SC-2024-000132") },
    CoopDef { unified: cases::COOP_BAND_LOW_GREEN, registration: "1244", ar: "جمعية الخير التعاونية متعددة الأغراض", en: "Al Khair Multi-Purpose Cooperative Society", kind: Kind::MultiPurpose, status: Status::Active, registered: hijri(1437, 6, 28), members: 75, hq: HQ,
        licence: licence("4000123456", Lic::Active),
        membership: member("123466", Class::Second, "1010123466"),
        labor: labor(63303, 4, 26, "SC-2024-000133") },
    CoopDef { unified: cases::COOP_BAND_HIGH_GREEN, registration: "1245", ar: "جمعية النماء التعاونية للخدمات", en: "Al Namaa Services Cooperative Society", kind: Kind::Services, status: Status::Active, registered: hijri(1439, 12, 2), members: 33, hq: HQ,
        licence: licence("4000134567", Lic::Active),
        membership: member("123467", Class::First, "1010123467"),
        labor: labor(63304, 12, 22, "SC-2024-000134") },
    CoopDef { unified: cases::COOP_BAND_PLATINUM, registration: "1246", ar: "جمعية الريادة التعاونية متعددة الأغراض", en: "Al Riyada Multi-Purpose Cooperative Society", kind: Kind::MultiPurpose, status: Status::Active, registered: hijri(1433, 5, 16), members: 90, hq: HQ,
        licence: licence("4000145678", Lic::Active),
        membership: member("123468", Class::Excellent, "1010123468"),
        labor: labor(63305, 20, 20, "SC-2024-000135") },
    CoopDef { unified: cases::COOP_FOOD, registration: "1247", ar: "جمعية الواحة التعاونية الاستهلاكية", en: "Al Waha Consumer Cooperative Society", kind: Kind::Consumer, status: Status::Active, registered: hijri(1436, 1, 22), members: 210, hq: HQ,
        licence: licence(cases::FOOD_LICENCE, Lic::Active),
        membership: member("123469", Class::First, "1010123469"),
        labor: labor(63306, 9, 27, "SC-2024-000136") },
];

struct HealthDef {
    person: &'static str,
    number: &'static str,
    status: CertificateStatus,
    fitness: Fitness,
    profession: &'static str,
    issued: FixedDate,
    expires: FixedDate,
}

#[rustfmt::skip]
const HEALTH_CERTIFICATES: &[HealthDef] = &[
    HealthDef { person: cases::WORKER_VALID_CITIZEN, number: "HC-1445-000101", status: Cert::Valid, fitness: Fitness::Fit, profession: "5120", issued: greg(2024, 2, 1), expires: greg(2037, 2, 1) },
    HealthDef { person: cases::WORKER_VALID_RESIDENT, number: "HC-1445-000102", status: Cert::Valid, fitness: Fitness::Fit, profession: "5120", issued: greg(2024, 2, 1), expires: greg(2037, 2, 1) },
    HealthDef { person: cases::WORKER_UNFIT, number: "HC-1445-000103", status: Cert::Valid, fitness: Fitness::Unfit, profession: "9412", issued: greg(2024, 3, 10), expires: greg(2037, 3, 10) },
    HealthDef { person: cases::WORKER_CERTIFICATE_EXPIRED, number: "HC-1444-000104", status: Cert::Expired, fitness: Fitness::Fit, profession: "7512", issued: greg(2023, 1, 15), expires: greg(2024, 1, 15) },
];

/// Appends the fixed records to `records`. A record whose table entry cannot be built
/// (an impossible date) is left out; the golden tests would fail on it.
pub(super) fn add(records: &mut Records) {
    records.people.extend(PEOPLE.iter().filter_map(person));
    let Some(riyadh) = institutions::riyadh() else {
        return;
    };
    for def in COOPERATIVES {
        let Some(coop) = cooperative(def) else {
            continue;
        };
        records.licences.extend(licences(def, &coop, riyadh));
        if let Some(m) = &def.membership {
            records.memberships.extend(membership(m, &coop, riyadh));
        }
        if let Some(l) = &def.labor {
            records.labor_files.extend(labor_file(l, &coop, riyadh));
        }
        records.cooperatives.push(coop);
    }
    records
        .health_certificates
        .extend(HEALTH_CERTIFICATES.iter().filter_map(health_certificate));
}

fn person(def: &PersonDef) -> Option<Person> {
    Some(Person {
        id: NationalId::parse(def.id).ok()?,
        name: FourPartName::from_parts(def.ar, def.en),
        gender: def.gender,
        birth_date: def.birth.to_dual().ok()?,
        nationality: (&names::culture(def.nationality)?.nationality).into(),
        id_expiry: def.id_expiry.to_dual().ok()?,
        mobile: Mobile::parse(def.mobile).ok()?,
        occupation_code: def.occupation.to_owned(),
    })
}

fn cooperative(def: &CoopDef) -> Option<Cooperative> {
    let term_ends_at = TERM_ENDS.to_dual().ok()?;
    let board = golden::BOARD
        .iter()
        .map(|m| {
            Some(BoardSeat {
                person: NationalId::parse(m.id).ok()?,
                role: m.role,
                term_ends_at,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Cooperative {
        unified_number: UnifiedNumber::parse(def.unified).ok()?,
        registration_number: def.registration.to_owned(),
        name: Bilingual {
            ar: def.ar.to_owned(),
            en: def.en.to_owned(),
        },
        kind: def.kind,
        status: def.status,
        registered_at: def.registered.to_dual().ok()?,
        member_count: def.members,
        board,
        headquarters: ShortAddress::parse(def.hq).ok()?,
        municipal_licence: def.licence.number.to_owned(),
        chamber_membership: def.membership.as_ref().map(|m| m.number.to_owned()),
        labor_file: def.labor.is_some(),
    })
}

/// The cooperative's commercial licence, and its building permit if it has one.
fn licences(def: &CoopDef, coop: &Cooperative, city: &CityInstitutions) -> Vec<MunicipalLicence> {
    let l = &def.licence;
    let (Ok(issued_at), Ok(expires_at)) = (l.issued.to_dual(), l.expires.to_dual()) else {
        return Vec::new();
    };
    let commercial = paperwork::commercial_licence(
        l.number.to_owned(),
        l.status,
        coop,
        city,
        (issued_at, expires_at),
        l.permit.iter().map(|(n, _)| (*n).to_owned()).collect(),
    );
    let permits = l.permit.iter().map(|(number, status)| MunicipalLicence {
        number: (*number).to_owned(),
        kind: LicenceKind::BuildingPermit,
        status: *status,
        activities: institutions::to_activities(institutions::BUILDING_PERMIT_ACTIVITIES),
        linked_permits: Vec::new(),
        ..commercial.clone()
    });
    let mut all: Vec<MunicipalLicence> = permits.collect();
    all.insert(0, commercial);
    all
}

fn membership(
    def: &MembershipDef,
    coop: &Cooperative,
    city: &CityInstitutions,
) -> Option<ChamberMembership> {
    Some(ChamberMembership {
        chamber_code: city.chamber_code,
        chamber_name: city.chamber.into(),
        membership_number: def.number.to_owned(),
        holder: coop.unified_number.clone(),
        establishment_name: coop.name.clone(),
        class: def.class,
        cr_number: def.cr.to_owned(),
        subscribed_at: SUBSCRIBED.to_dual().ok()?,
        expires_at: def.expires.to_dual().ok()?,
    })
}

fn labor_file(def: &LaborDef, coop: &Cooperative, city: &CityInstitutions) -> Option<LaborFile> {
    let (issued, expires) = match def.certificate_status {
        CertificateStatus::Valid => (CERT_ISSUED, CERT_EXPIRES),
        CertificateStatus::Expired | CertificateStatus::Cancelled => {
            (greg(2023, 1, 10), greg(2023, 4, 10))
        }
    };
    let tenths = rate_tenths(def.saudi, def.non_saudi);
    Some(LaborFile {
        holder: coop.unified_number.clone(),
        labor_office_id: city.labor_office_id,
        sequence_number: def.sequence,
        establishment_name: coop.name.clone(),
        band: NitaqatBand::for_rate_tenths(tenths),
        saudization_rate: f64::from(tenths) / 10.0,
        saudi: def.saudi,
        non_saudi: def.non_saudi,
        certificate: SaudizationCertificate {
            number: def.certificate.to_owned(),
            status: def.certificate_status,
            issued_at: issued.to_dual().ok()?,
            expires_at: expires.to_dual().ok()?,
        },
        // Nine digits, unique because the sequence numbers are.
        gosi_registration: format!("50{:07}", def.sequence),
        gosi_compliant: true,
    })
}

fn health_certificate(def: &HealthDef) -> Option<HealthCertificate> {
    let (code, name) = institutions::food_profession(def.profession)?;
    Some(HealthCertificate {
        person: NationalId::parse(def.person).ok()?,
        establishment_licence: cases::FOOD_LICENCE.to_owned(),
        number: def.number.to_owned(),
        status: def.status,
        fitness: def.fitness,
        profession: Activity {
            code: (*code).to_owned(),
            name: (*name).into(),
        },
        education_passed: true,
        issued_at: def.issued.to_dual().ok()?,
        expires_at: def.expires.to_dual().ok()?,
        seasonal: false,
    })
}
