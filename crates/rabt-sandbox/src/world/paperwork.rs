//! What the other agencies hold about a generated cooperative: its municipal licence
//! (and a building permit for housing societies), most often a chamber membership and a
//! labour file, and health certificates for the food-handling workers of consumer,
//! fisheries and neighbourhood societies. Each kind of record draws from its own stream.

use std::collections::HashSet;

use chrono::Datelike;
use rabt_core::{Calendar, DualDate, NationalId};

use super::address::Address;
use super::cooperatives::{Cooperative, CooperativeKind, CooperativeStatus};
use super::dates::{self, FIRST_VALID_GREGORIAN_YEAR, FIRST_VALID_HIJRI_YEAR};
use super::generate::Deck;
use super::institutions::{self, CityInstitutions};
use super::records::{
    Activity, CertificateStatus, ChamberMembership, Fitness, HealthCertificate, LaborFile,
    LicenceKind, LicenceStatus, MembershipClass, MunicipalLicence, NitaqatBand,
    SaudizationCertificate, rate_tenths,
};
use super::registry::Records;
use super::rng::SandboxRng;

/// Identifiers already given out, so that no two records share one.
#[derive(Debug, Default)]
pub(super) struct Taken {
    pub(super) unified: HashSet<String>,
    pub(super) registration: HashSet<String>,
    pub(super) names: HashSet<String>,
    /// Headquarters: no two cooperatives share a building.
    pub(super) headquarters: HashSet<String>,
    licence: HashSet<String>,
    membership: HashSet<String>,
    cr: HashSet<String>,
    labor: HashSet<(u16, u32)>,
    certificate: HashSet<String>,
    gosi: HashSet<String>,
}

impl Taken {
    /// The identifiers of the records made so far (the fixed ones).
    pub(super) fn of(records: &Records) -> Self {
        let strings = |it: &mut dyn Iterator<Item = String>| it.collect::<HashSet<_>>();
        let coops = &records.cooperatives;
        let files = &records.labor_files;
        Taken {
            unified: strings(&mut coops.iter().map(|c| c.unified_number.to_string())),
            registration: strings(&mut coops.iter().map(|c| c.registration_number.clone())),
            names: strings(&mut coops.iter().map(|c| c.name.en.clone())),
            headquarters: strings(&mut coops.iter().map(|c| c.headquarters.to_string())),
            licence: strings(&mut records.licences.iter().map(|l| l.number.clone())),
            membership: strings(
                &mut records
                    .memberships
                    .iter()
                    .map(|m| m.membership_number.clone()),
            ),
            cr: strings(&mut records.memberships.iter().map(|m| m.cr_number.clone())),
            labor: files
                .iter()
                .map(|f| (f.labor_office_id, f.sequence_number))
                .collect(),
            certificate: strings(
                &mut files
                    .iter()
                    .map(|f| f.certificate.number.clone())
                    .chain(records.health_certificates.iter().map(|h| h.number.clone())),
            ),
            gosi: strings(&mut files.iter().map(|f| f.gosi_registration.clone())),
        }
    }
}

/// A cooperative's commercial licence from its municipality, for its headquarters and
/// the activities of its kind: what the fixed and the generated cooperatives share.
pub(super) fn commercial_licence(
    number: String,
    status: LicenceStatus,
    coop: &Cooperative,
    city: &CityInstitutions,
    (issued_at, expires_at): (DualDate, DualDate),
    linked_permits: Vec<String>,
) -> MunicipalLicence {
    MunicipalLicence {
        number,
        kind: LicenceKind::Commercial,
        status,
        holder: coop.unified_number.clone(),
        holder_name: coop.name.clone(),
        activities: institutions::to_activities(institutions::activities(coop.kind)),
        issued_at,
        expires_at,
        municipality: city.municipality.into(),
        address: coop.headquarters.clone(),
        linked_permits,
    }
}

/// A value `make` draws that is not in `taken` yet, now taken.
pub(super) fn unique(
    rng: &mut SandboxRng,
    taken: &mut HashSet<String>,
    mut make: impl FnMut(&mut SandboxRng) -> String,
) -> String {
    loop {
        let value = make(rng);
        if taken.insert(value.clone()) {
            return value;
        }
    }
}

/// The random streams of the records beside a cooperative's own.
#[derive(Debug)]
pub(super) struct Paperwork {
    licence: SandboxRng,
    membership: SandboxRng,
    labor: SandboxRng,
    pub(super) health: SandboxRng,
}

impl Paperwork {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            licence: SandboxRng::stream(seed, "licences"),
            membership: SandboxRng::stream(seed, "memberships"),
            labor: SandboxRng::stream(seed, "labor-files"),
            health: SandboxRng::stream(seed, "health-certificates"),
        }
    }

    /// Makes `coop`'s records, appends them to `records` and writes their numbers into
    /// `coop`.
    pub(super) fn add(
        &mut self,
        coop: &mut Cooperative,
        hq: &Address,
        taken: &mut Taken,
        workers: &mut Deck,
        records: &mut Records,
    ) {
        let Some(city) = institutions::of_city(hq.city_id) else {
            return;
        };
        let licences = licences(&mut self.licence, coop, city, taken);
        if let Some(commercial) = licences.first() {
            coop.municipal_licence = commercial.number.clone();
            if coop.kind.handles_food() {
                let number = commercial.number.clone();
                health_certificates(&mut self.health, &number, workers, taken, records);
            }
        }
        records.licences.extend(licences);
        // Four in five societies have joined their chamber.
        if self.membership.below(100) < 80
            && let Some(m) = membership(&mut self.membership, coop, city, taken)
        {
            coop.chamber_membership = Some(m.membership_number.clone());
            records.memberships.push(m);
        }
        // A few small societies employ no one and have no Nitaqat file.
        if self.labor.below(100) < 85
            && let Some(file) = labor_file(&mut self.labor, coop, city, taken)
        {
            coop.labor_file = true;
            records.labor_files.push(file);
        }
    }
}

fn still_valid_hijri(rng: &mut SandboxRng) -> Option<DualDate> {
    dates::random_day(rng, Calendar::Hijri, (FIRST_VALID_HIJRI_YEAR, 1466)).ok()
}

/// A day of a Hijri year from `after + 1` to 1445 (the last year that has passed).
fn expired_hijri(rng: &mut SandboxRng, after: u16) -> Option<DualDate> {
    let from = (after + 1).min(dates::LAST_PAST_HIJRI_YEAR);
    dates::random_day(rng, Calendar::Hijri, (from, dates::LAST_PAST_HIJRI_YEAR)).ok()
}

/// Issued after registration and before 2025; expiring in 2036 or later unless EXPIRED.
fn licence_dates(
    rng: &mut SandboxRng,
    coop: &Cooperative,
    status: LicenceStatus,
) -> Option<(DualDate, DualDate)> {
    let registered = coop.registered_at.hijri.year();
    let issued_year = dates::random_year(rng, (registered, 1444));
    let issued_at = dates::random_day(rng, Calendar::Hijri, (issued_year, issued_year)).ok()?;
    let expires_at = match status {
        LicenceStatus::Expired => expired_hijri(rng, issued_year)?,
        LicenceStatus::Active | LicenceStatus::Suspended | LicenceStatus::Cancelled => {
            still_valid_hijri(rng)?
        }
    };
    Some((issued_at, expires_at))
}

/// The commercial licence, then a housing society's building permit.
fn licences(
    rng: &mut SandboxRng,
    coop: &Cooperative,
    city: &CityInstitutions,
    taken: &mut Taken,
) -> Vec<MunicipalLicence> {
    let status = match (coop.status, rng.below(100)) {
        (CooperativeStatus::Dissolved, _) => LicenceStatus::Cancelled,
        (_, 0..84) => LicenceStatus::Active,
        (_, 84..91) => LicenceStatus::Expired,
        (_, 91..96) => LicenceStatus::Suspended,
        _ => LicenceStatus::Cancelled,
    };
    let Some((issued_at, expires_at)) = licence_dates(rng, coop, status) else {
        return Vec::new();
    };
    let number = |rng: &mut SandboxRng, lead: u32| {
        format!(
            "{lead}{}{:08}",
            rng.between(1, 9),
            rng.between(0, 99_999_999)
        )
    };
    // Generated numbers never start with 40 or 50, the fixed licences' and permits'.
    let permit = (coop.kind == CooperativeKind::Housing)
        .then(|| unique(rng, &mut taken.licence, |r| number(r, 5)));
    let commercial = commercial_licence(
        unique(rng, &mut taken.licence, |r| number(r, 4)),
        status,
        coop,
        city,
        (issued_at, expires_at),
        permit.iter().cloned().collect(),
    );
    let permits = permit.map(|number| MunicipalLicence {
        number,
        kind: LicenceKind::BuildingPermit,
        // The permit shares the licence's dates; cancelling a licence revokes its
        // linked permits, and a suspension concerns the trade, not the building.
        status: match status {
            LicenceStatus::Active | LicenceStatus::Suspended => LicenceStatus::Active,
            LicenceStatus::Expired | LicenceStatus::Cancelled => status,
        },
        activities: institutions::to_activities(institutions::BUILDING_PERMIT_ACTIVITIES),
        linked_permits: Vec::new(),
        ..commercial.clone()
    });
    std::iter::once(commercial).chain(permits).collect()
}

fn membership(
    rng: &mut SandboxRng,
    coop: &Cooperative,
    city: &CityInstitutions,
    taken: &mut Taken,
) -> Option<ChamberMembership> {
    let class = *rng.pick(MembershipClass::ALL)?;
    let subscribed_year = dates::random_year(rng, (coop.registered_at.hijri.year(), 1444));
    let subscribed_at =
        dates::random_day(rng, Calendar::Hijri, (subscribed_year, subscribed_year)).ok()?;
    let expires_at = if rng.below(100) < 88 {
        still_valid_hijri(rng)?
    } else {
        expired_hijri(rng, subscribed_year)?
    };
    Some(ChamberMembership {
        chamber_code: city.chamber_code,
        chamber_name: city.chamber.into(),
        // Six digits from 200000: the fixed memberships are 1234xx.
        membership_number: unique(rng, &mut taken.membership, |r| {
            r.between(200_000, 999_999).to_string()
        }),
        holder: coop.unified_number.clone(),
        establishment_name: coop.name.clone(),
        class,
        cr_number: unique(rng, &mut taken.cr, |r| {
            format!("{}{:06}", city.cr_prefix, r.between(0, 999_999))
        }),
        subscribed_at,
        expires_at,
    })
}

/// A band by weight, then a headcount whose rate falls in it.
fn labor_file(
    rng: &mut SandboxRng,
    coop: &Cooperative,
    city: &CityInstitutions,
    taken: &mut Taken,
) -> Option<LaborFile> {
    let (low, high) = match rng.below(100) {
        0..10 => (0, 99),
        10..30 => (100, 199),
        30..60 => (200, 299),
        60..85 => (300, 399),
        _ => (400, 700),
    };
    let total = rng.between(8, 150);
    let saudi = (total * rng.between(low, high) + 500) / 1000;
    let tenths = rate_tenths(saudi, total - saudi);
    let band = NitaqatBand::for_rate_tenths(tenths);
    let sequence = loop {
        let candidate = rng.between(1, 99_999_999);
        if taken.labor.insert((city.labor_office_id, candidate)) {
            break candidate;
        }
    };
    Some(LaborFile {
        holder: coop.unified_number.clone(),
        labor_office_id: city.labor_office_id,
        sequence_number: sequence,
        establishment_name: coop.name.clone(),
        band,
        saudization_rate: f64::from(tenths) / 10.0,
        saudi,
        non_saudi: total - saudi,
        certificate: saudization_certificate(rng, band, taken)?,
        gosi_registration: unique(rng, &mut taken.gosi, |r| {
            format!("5{:08}", r.between(0, 99_999_999))
        }),
        gosi_compliant: rng.below(100) < 94,
    })
}

/// VALID only for a compliant band; RED establishments hold an expired one.
fn saudization_certificate(
    rng: &mut SandboxRng,
    band: NitaqatBand,
    taken: &mut Taken,
) -> Option<SaudizationCertificate> {
    let status = match (band.is_compliant(), rng.below(100)) {
        (false, _) | (true, 88..96) => CertificateStatus::Expired,
        (true, 96..) => CertificateStatus::Cancelled,
        (true, _) => CertificateStatus::Valid,
    };
    let (issued_at, expires_at) = match status {
        CertificateStatus::Valid => (
            dates::random_day(rng, Calendar::Gregorian, (2024, 2024)).ok()?,
            dates::random_day(rng, Calendar::Gregorian, (FIRST_VALID_GREGORIAN_YEAR, 2038)).ok()?,
        ),
        // Certificates last 90 days; these were issued early in 2023 or 2024.
        CertificateStatus::Expired | CertificateStatus::Cancelled => {
            let year = dates::random_year(rng, (2023, dates::LAST_PAST_GREGORIAN_YEAR));
            let month = u8::try_from(rng.between(1, 9)).ok()?;
            (
                dates::gregorian(year, month, 1).ok()?,
                dates::gregorian(year, month + 3, 1).ok()?,
            )
        }
    };
    let year = issued_at.gregorian.year();
    let number = unique(rng, &mut taken.certificate, |r| {
        format!("SC-{year}-{:06}", r.between(200_000, 999_999))
    });
    Some(SaudizationCertificate {
        number,
        status,
        issued_at,
        expires_at,
    })
}

/// Three to eight workers from the deck, each with a certificate for `licence`.
fn health_certificates(
    rng: &mut SandboxRng,
    licence: &str,
    workers: &mut Deck,
    taken: &mut Taken,
    records: &mut Records,
) {
    for _ in 0..rng.between(3, 8) {
        let Some(worker) = workers.draw() else {
            return;
        };
        // The deck holds people of this world, so each is found; one that were not would
        // get no certificate rather than one for a made-up occupation.
        let Some(occupation) = records
            .people
            .iter()
            .find(|p| p.id == worker)
            .map(|p| p.occupation_code.clone())
        else {
            continue;
        };
        if let Some(cert) = health_certificate(rng, licence, worker, &occupation, taken) {
            records.health_certificates.push(cert);
        }
    }
}

fn health_certificate(
    rng: &mut SandboxRng,
    licence: &str,
    person: NationalId,
    occupation: &str,
    taken: &mut Taken,
) -> Option<HealthCertificate> {
    let (code, name) = institutions::food_profession(occupation)?;
    let (status, fitness) = match rng.below(100) {
        0..80 => (CertificateStatus::Valid, Fitness::Fit),
        80..88 => (CertificateStatus::Valid, Fitness::Unfit),
        88..96 => (CertificateStatus::Expired, Fitness::Fit),
        _ => (CertificateStatus::Cancelled, Fitness::Fit),
    };
    let issued_at = dates::random_day(rng, Calendar::Gregorian, (2022, 2023)).ok()?;
    let expires_at = match status {
        // A year after issue: 2023 or 2024.
        CertificateStatus::Expired => {
            let year = u16::try_from(issued_at.gregorian.year() + 1).ok()?;
            let month = u8::try_from(issued_at.gregorian.month()).ok()?;
            dates::gregorian(year, month, 1).ok()?
        }
        CertificateStatus::Valid | CertificateStatus::Cancelled => {
            dates::random_day(rng, Calendar::Gregorian, (FIRST_VALID_GREGORIAN_YEAR, 2038)).ok()?
        }
    };
    let hijri_year = issued_at.hijri.year();
    Some(HealthCertificate {
        person,
        establishment_licence: licence.to_owned(),
        number: unique(rng, &mut taken.certificate, |r| {
            format!("HC-{hijri_year}-{:06}", r.between(200_000, 999_999))
        }),
        status,
        fitness,
        profession: Activity {
            code: (*code).to_owned(),
            name: (*name).into(),
        },
        // Passing the health-education test is a condition of a VALID certificate.
        education_passed: status == CertificateStatus::Valid || rng.below(100) < 70,
        issued_at,
        expires_at,
        // Hajj and Ramadan workers hold seasonal certificates.
        seasonal: rng.below(100) < 8,
    })
}
