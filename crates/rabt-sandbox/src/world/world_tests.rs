//! Tests of the whole world: determinism, the golden fixtures and deliberate cases
//! exactly as documented, and the consistency of every record with the others.

use std::collections::HashSet;

use rabt_core::{Calendar, IdKind, Mobile, NationalId, ShortAddress, UnifiedNumber};

use super::dates::{has_passed, is_still_to_come};
use super::*;

/// Seeds the tests walk: the standard one and a few far apart.
const SEEDS: [u64; 4] = [World::STANDARD_SEED, 0, 7, u64::MAX];

fn id(s: &str) -> NationalId {
    NationalId::parse(s).unwrap()
}

fn unified(s: &str) -> UnifiedNumber {
    UnifiedNumber::parse(s).unwrap()
}

fn names(ar: [&str; 4], en: [&str; 4]) -> FourPartName {
    FourPartName::from_parts(ar, en)
}

#[test]
fn same_seed_same_records_other_seed_other_crowd_same_goldens() {
    let a = World::generate(99);
    let b = World::generate(99);
    assert_eq!(a.records, b.records);
    let c = World::generate(100);
    assert_ne!(a.people(), c.people());
    let fixed = |w: &World| -> Vec<Person> {
        w.people()
            .iter()
            .filter(|p| p.id.as_str().starts_with("10") || p.id.as_str().starts_with("20"))
            .cloned()
            .collect()
    };
    assert_eq!(fixed(&a), fixed(&c));
    assert!(!fixed(&a).is_empty());
}

#[test]
fn the_golden_citizen_is_as_documented_in_every_world() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let p = world.person(&id(golden::CITIZEN_ID)).unwrap();
        assert_eq!(p.id.kind(), IdKind::Citizen);
        assert_eq!(
            p.name,
            names(golden::CITIZEN_NAME_AR, golden::CITIZEN_NAME_EN)
        );
        assert_eq!(p.name.full().ar, "محمد عبدالله سعد القحطاني");
        assert_eq!(p.name.full().en, "Mohammed Abdullah Saad Alqahtani");
        assert_eq!(p.gender, Gender::Male);
        assert_eq!(p.birth_date.hijri.to_string(), "1400-07-05");
        assert_eq!(p.birth_date.gregorian.to_string(), "1980-05-20");
        assert_eq!(p.nationality.code, "SAU");
        assert_eq!(p.mobile.as_str(), golden::CITIZEN_MOBILE);
        assert!(is_still_to_come(&p.id_expiry));
        let month = golden::CITIZEN_BIRTH.birth_month().unwrap();
        assert_eq!(
            (month.calendar, month.mm_yyyy().as_str()),
            (Calendar::Hijri, "07-1400")
        );
    }
}

#[test]
fn the_golden_resident_is_as_documented_in_every_world() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let p = world.person(&id(golden::RESIDENT_ID)).unwrap();
        assert_eq!(p.id.kind(), IdKind::Resident);
        assert_eq!(
            p.name,
            names(golden::RESIDENT_NAME_AR, golden::RESIDENT_NAME_EN)
        );
        assert_eq!(p.birth_date.gregorian.to_string(), "1985-03-14");
        assert_eq!(p.nationality.code, golden::RESIDENT_NATIONALITY);
        assert_ne!(p.nationality.code, "SAU");
        assert_eq!(p.mobile.as_str(), golden::RESIDENT_MOBILE);
        let month = golden::RESIDENT_BIRTH.birth_month().unwrap();
        assert_eq!(
            (month.calendar, month.mm_yyyy().as_str()),
            (Calendar::Gregorian, "03-1985")
        );
    }
}

#[test]
fn the_golden_cooperatives_tell_their_stories_in_every_world() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let pass = world.cooperative(&unified(golden::COOP_COMPLIANT)).unwrap();
        assert_compliant_except(&world, pass, "nothing");
        assert_eq!(pass.municipal_licence, golden::COOP_COMPLIANT_LICENCE);
        let m = world.membership_of(&pass.unified_number).unwrap();
        assert_eq!(
            (m.chamber_code, m.membership_number.as_str()),
            (
                golden::COOP_COMPLIANT_CHAMBER,
                golden::COOP_COMPLIANT_MEMBERSHIP
            )
        );
        let file = world
            .labor_file_by_number(
                golden::COOP_COMPLIANT_LABOR_OFFICE,
                golden::COOP_COMPLIANT_LABOR_SEQUENCE,
            )
            .unwrap();
        assert_eq!(file.holder, pass.unified_number);
        assert_eq!(file.establishment_number(), "1-63293");

        let expired = world
            .cooperative(&unified(golden::COOP_EXPIRED_LICENCE))
            .unwrap();
        assert_compliant_except(&world, expired, "licence");
        let licence = world.licence(&expired.municipal_licence).unwrap();
        assert_eq!(licence.number, golden::COOP_EXPIRED_LICENCE_LICENCE);
        assert_eq!(licence.status, LicenceStatus::Expired);
        assert!(has_passed(&licence.expires_at));

        let red = world.cooperative(&unified(golden::COOP_RED_BAND)).unwrap();
        assert_compliant_except(&world, red, "band");
        assert_eq!(
            world.labor_file(&red.unified_number).unwrap().band,
            NitaqatBand::Red
        );
    }
}

/// Checks that `coop` passes every check of the establishment check but `except`
/// ("nothing", "licence", "band", "membership", "labor file", "status", "hq").
fn assert_compliant_except(world: &World, coop: &Cooperative, except: &str) {
    let name = &coop.unified_number;
    assert_eq!(
        coop.status == CooperativeStatus::Active,
        except != "status",
        "{name}"
    );
    let hq_found = world.address_by_short_address(&coop.headquarters).is_some();
    assert_eq!(hq_found, except != "hq", "{name}");
    let chairman = coop.chairman().unwrap();
    assert_eq!(chairman.person.as_str(), golden::CITIZEN_ID, "{name}");
    let board: Vec<(&str, BoardRole)> = coop
        .board
        .iter()
        .map(|s| (s.person.as_str(), s.role))
        .collect();
    let golden_board: Vec<(&str, BoardRole)> =
        golden::BOARD.iter().map(|m| (m.id, m.role)).collect();
    assert_eq!(board, golden_board, "{name}");
    let licence = world.licence(&coop.municipal_licence).unwrap();
    assert_eq!(
        licence.status == LicenceStatus::Active,
        except != "licence",
        "{name}"
    );
    let membership_valid = world
        .membership_of(name)
        .is_some_and(|m| is_still_to_come(&m.expires_at));
    assert_eq!(membership_valid, except != "membership", "{name}");
    match world.labor_file(name) {
        None => assert_eq!(except, "labor file", "{name}"),
        Some(file) => {
            let compliant =
                file.band.is_compliant() && file.certificate.status == CertificateStatus::Valid;
            assert_eq!(compliant, except != "band", "{name}");
        }
    }
}

#[test]
fn the_board_of_the_fixed_cooperatives_is_as_documented() {
    let world = World::standard();
    for member in golden::BOARD {
        let person = world.person(&id(member.id)).unwrap();
        assert_eq!(person.id.kind(), IdKind::Citizen);
        assert_eq!(member.birth.calendar, Calendar::Hijri);
        assert_eq!(
            person.birth_date,
            member.birth.to_dual().unwrap(),
            "{}",
            member.id
        );
    }
    let roles: Vec<BoardRole> = golden::BOARD.iter().map(|m| m.role).collect();
    assert_eq!(
        roles.iter().filter(|r| **r == BoardRole::Chairman).count(),
        1
    );
}

#[test]
fn every_deliberate_case_is_there_in_every_world() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let coop = |u: &str| world.cooperative(&unified(u)).unwrap();
        assert_compliant_except(&world, coop(cases::COOP_LICENCE_SUSPENDED), "licence");
        assert_eq!(
            world.licence(cases::LICENCE_SUSPENDED).unwrap().status,
            LicenceStatus::Suspended
        );
        assert_compliant_except(&world, coop(cases::COOP_LICENCE_CANCELLED), "licence");
        assert_eq!(
            world.licence(cases::LICENCE_CANCELLED).unwrap().status,
            LicenceStatus::Cancelled
        );
        let permit = world.licence(cases::PERMIT_CANCELLED).unwrap();
        assert_eq!(
            (permit.kind, permit.status),
            (LicenceKind::BuildingPermit, LicenceStatus::Cancelled)
        );
        assert_compliant_except(&world, coop(cases::COOP_MEMBERSHIP_EXPIRED), "membership");
        let m = world
            .membership(cases::MEMBERSHIP_EXPIRED_CHAMBER, cases::MEMBERSHIP_EXPIRED)
            .unwrap();
        assert!(has_passed(&m.expires_at));
        assert_compliant_except(&world, coop(cases::COOP_NO_MEMBERSHIP), "membership");
        assert!(coop(cases::COOP_NO_MEMBERSHIP).chamber_membership.is_none());
        assert_compliant_except(&world, coop(cases::COOP_NO_LABOR_FILE), "labor file");
        assert!(!coop(cases::COOP_NO_LABOR_FILE).labor_file);
        assert_compliant_except(&world, coop(cases::COOP_SUSPENDED), "status");
        assert_eq!(
            coop(cases::COOP_SUSPENDED).status,
            CooperativeStatus::Suspended
        );
        assert_compliant_except(&world, coop(cases::COOP_HQ_NOT_IN_WORLD), "hq");
        assert_eq!(
            coop(cases::COOP_HQ_NOT_IN_WORLD).headquarters.as_str(),
            cases::HQ_NOT_IN_WORLD
        );
        for (u, band) in [
            (cases::COOP_BAND_RED, NitaqatBand::Red),
            (cases::COOP_BAND_LOW_GREEN, NitaqatBand::LowGreen),
            (cases::COOP_BAND_MEDIUM_GREEN, NitaqatBand::MediumGreen),
            (cases::COOP_BAND_HIGH_GREEN, NitaqatBand::HighGreen),
            (cases::COOP_BAND_PLATINUM, NitaqatBand::Platinum),
        ] {
            assert_eq!(world.labor_file(&unified(u)).unwrap().band, band, "{u}");
            if band != NitaqatBand::Red {
                assert_compliant_except(&world, coop(u), "nothing");
            }
        }
        assert!(world.person(&id(cases::ID_IN_NO_WORLD)).is_none());
        assert!(
            world
                .cooperative(&unified(cases::COOP_IN_NO_WORLD))
                .is_none()
        );
        assert!(world.licence(cases::LICENCE_IN_NO_WORLD).is_none());
        assert!(
            world
                .address_by_short_address(&ShortAddress::parse(cases::HQ_NOT_IN_WORLD).unwrap())
                .is_none()
        );
    }
}

#[test]
fn the_food_cooperative_has_every_kind_of_health_certificate() {
    let world = World::standard();
    let coop = world.cooperative(&unified(cases::COOP_FOOD)).unwrap();
    assert!(coop.kind.handles_food());
    assert_compliant_except(&world, coop, "nothing");
    assert_eq!(coop.municipal_licence, cases::FOOD_LICENCE);
    let cert = |p: &str| world.health_certificate(cases::FOOD_LICENCE, &id(p));
    assert!(cert(cases::WORKER_VALID_CITIZEN).unwrap().is_valid());
    assert!(cert(cases::WORKER_VALID_RESIDENT).unwrap().is_valid());
    let unfit = cert(cases::WORKER_UNFIT).unwrap();
    assert_eq!(
        (unfit.status, unfit.fitness),
        (CertificateStatus::Valid, Fitness::Unfit)
    );
    assert!(!unfit.is_valid());
    let expired = cert(cases::WORKER_CERTIFICATE_EXPIRED).unwrap();
    assert_eq!(expired.status, CertificateStatus::Expired);
    assert!(has_passed(&expired.expires_at));
    assert!(cert(cases::WORKER_WITHOUT_CERTIFICATE).is_none());
    assert!(
        world
            .person(&id(cases::WORKER_WITHOUT_CERTIFICATE))
            .is_some()
    );
    assert_eq!(world.health_certificates(cases::FOOD_LICENCE).len(), 4);
}

#[test]
fn the_name_normalisation_case_carries_hamza_and_taa_marbuta() {
    let world = World::standard();
    let p = world.person(&id(cases::NAME_NORMALISATION_ID)).unwrap();
    let full = p.name.full().ar;
    assert!(
        full.contains('إ') && full.contains('ئ') && full.contains('ة'),
        "{full}"
    );
    assert_eq!(p.gender, Gender::Female);
    // The variant differs only by the letters matching folds.
    let fold = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                'أ' | 'إ' | 'آ' => 'ا',
                'ة' => 'ه',
                'ئ' | 'ى' => 'ي',
                'ؤ' => 'و',
                other => other,
            })
            .collect()
    };
    assert_eq!(fold(&full), fold(cases::NAME_NORMALISATION_VARIANT_AR));
    assert_ne!(fold(&full), fold(cases::NAME_NORMALISATION_OTHER_AR));
}

#[test]
fn wire_names_serialise_as_as_str_says() {
    fn check<T: serde::Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for &v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), as_str(v));
        }
    }
    check(Gender::ALL, Gender::as_str);
    check(CooperativeKind::ALL, CooperativeKind::as_str);
    check(CooperativeStatus::ALL, CooperativeStatus::as_str);
    check(BoardRole::ALL, BoardRole::as_str);
    check(LicenceStatus::ALL, LicenceStatus::as_str);
    check(LicenceKind::ALL, LicenceKind::as_str);
    check(MembershipClass::ALL, MembershipClass::as_str);
    check(NitaqatBand::ALL, NitaqatBand::as_str);
    check(CertificateStatus::ALL, CertificateStatus::as_str);
    check(Fitness::ALL, Fitness::as_str);
    assert_eq!(NitaqatBand::LowGreen.as_str(), "LOW_GREEN");
    assert_eq!(CooperativeKind::MultiPurpose.as_str(), "MULTI_PURPOSE");
    assert_eq!(BoardRole::ViceChairman.as_str(), "VICE_CHAIRMAN");
}

#[test]
fn people_are_unique_valid_and_consistent() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let people = world.people();
        assert!(people.len() >= 300, "{} people", people.len());
        assert_eq!(world.index.person.len(), people.len(), "duplicate ID");
        let mobiles: HashSet<&Mobile> = people.iter().map(|p| &p.mobile).collect();
        assert_eq!(mobiles.len(), people.len(), "shared mobile");
        let mut residents = 0;
        for p in people {
            assert_eq!(NationalId::parse(p.id.as_str()).unwrap(), p.id);
            assert_eq!(Mobile::parse(p.mobile.as_str()).unwrap(), p.mobile);
            assert!(is_still_to_come(&p.id_expiry), "{p:?}");
            assert!(has_passed(&p.birth_date), "{p:?}");
            assert_eq!(p.occupation_code.len(), 4);
            assert!(p.occupation_code.bytes().all(|b| b.is_ascii_digit()));
            assert!(
                !p.nationality.numeric_code.is_empty() && p.nationality.numeric_code.len() <= 4
            );
            let saudi = p.nationality.code == "SAU";
            match p.id.kind() {
                IdKind::Citizen => {
                    assert!(saudi, "{p:?}");
                    assert!((1350..=1420).contains(&p.birth_date.hijri.year()), "{p:?}");
                }
                IdKind::Resident => {
                    assert!(!saudi, "{p:?}");
                    residents += 1;
                }
            }
            let full = p.name.full();
            assert_eq!(full.ar.split(' ').count(), 4, "{full:?}");
            assert!(full.en.is_ascii(), "{full:?}");
        }
        assert!(residents >= 50, "{residents} residents");
    }
}

#[test]
fn genders_follow_first_names() {
    let world = World::standard();
    for p in world.people() {
        let culture = super::names::culture(&p.nationality.code).unwrap();
        let list = match p.gender {
            Gender::Male => culture.male,
            Gender::Female => culture.female,
        };
        let listed = list
            .iter()
            .any(|n| n.ar == p.name.first.ar && n.en == p.name.first.en);
        assert!(
            listed,
            "{:?} is not a {:?} first name",
            p.name.first, p.gender
        );
    }
}
