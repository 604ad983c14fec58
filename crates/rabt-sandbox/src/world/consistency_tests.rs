//! Every record of a world agrees with the others and with rabt-core's parsers, and
//! dates keep the clock-free rule: still valid means 2036 or later, expired means 2024
//! or earlier. Checked on several seeds, so no seed can break it.

use std::collections::HashSet;

use rabt_core::{DualDate, IdKind, NationalId, ShortAddress, UnifiedNumber};

use super::dates::{has_passed, is_still_to_come};
use super::generate::is_fixed;
use super::*;

const SEEDS: [u64; 4] = [World::STANDARD_SEED, 0, 7, u64::MAX];

fn digits(s: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Issued in the past, and expiring after issue, in the years its status allows.
fn assert_dates(what: &str, issued: &DualDate, expires: &DualDate, valid: Option<bool>) {
    assert!(has_passed(issued), "{what} issued {issued:?}");
    assert!(issued < expires, "{what} expires before issue");
    match valid {
        Some(true) => assert!(is_still_to_come(expires), "{what} valid until {expires:?}"),
        Some(false) => assert!(has_passed(expires), "{what} expired {expires:?}"),
        None => assert!(is_still_to_come(expires) || has_passed(expires), "{what}"),
    }
}

#[test]
fn cooperatives_are_unique_and_well_formed() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let coops = world.cooperatives();
        assert!(coops.len() >= 50, "{} cooperatives", coops.len());
        assert_eq!(
            world.index.cooperative.len(),
            coops.len(),
            "duplicate unified number"
        );
        let registrations: HashSet<&str> = coops
            .iter()
            .map(|c| c.registration_number.as_str())
            .collect();
        assert_eq!(
            registrations.len(),
            coops.len(),
            "duplicate registration number"
        );
        // The fixed cooperatives share RRRD2929; generated ones have a building each.
        let generated = coops
            .iter()
            .filter(|c| !c.unified_number.as_str().starts_with("70"));
        let hqs: Vec<&ShortAddress> = generated.map(|c| &c.headquarters).collect();
        let distinct: HashSet<&&ShortAddress> = hqs.iter().collect();
        assert_eq!(
            distinct.len(),
            hqs.len(),
            "two cooperatives share a building"
        );
        assert!(
            !hqs.iter()
                .any(|h| h.as_str() == golden::SHORT_ADDRESS_FOUND)
        );
        for c in coops {
            let u = &c.unified_number;
            assert_eq!(UnifiedNumber::parse(u.as_str()).unwrap(), *u);
            assert!(digits(&c.registration_number, 1..=10), "{u}");
            assert!(digits(&c.municipal_licence, 8..=20), "{u}");
            assert!(c.member_count >= 12, "{u}");
            assert!(has_passed(&c.registered_at), "{u}");
            assert!(!c.name.ar.is_empty() && c.name.en.is_ascii(), "{u}");
            assert_eq!(
                ShortAddress::parse(c.headquarters.as_str()).unwrap(),
                c.headquarters
            );
            let hq_in_world = world.address_by_short_address(&c.headquarters).is_some();
            assert_eq!(
                hq_in_world,
                u.as_str() != cases::COOP_HQ_NOT_IN_WORLD,
                "{u}"
            );
        }
    }
}

#[test]
fn boards_are_citizens_of_the_world_with_one_chairman() {
    for seed in SEEDS {
        let world = World::generate(seed);
        for c in world.cooperatives() {
            let u = &c.unified_number;
            let chairs = c
                .board
                .iter()
                .filter(|s| s.role == BoardRole::Chairman)
                .count();
            assert_eq!(chairs, 1, "{u}");
            let size = if u.as_str().starts_with("70") {
                4..=4
            } else {
                5..=9
            };
            assert!(
                size.contains(&c.board.len()),
                "{u}: {} seats",
                c.board.len()
            );
            let members: HashSet<&NationalId> = c.board.iter().map(|s| &s.person).collect();
            assert_eq!(members.len(), c.board.len(), "{u}: someone holds two seats");
            for seat in &c.board {
                let person = world
                    .person(&seat.person)
                    .unwrap_or_else(|| panic!("{u}: {:?}", seat.person));
                assert_eq!(person.id.kind(), IdKind::Citizen, "{u}");
                assert!(is_still_to_come(&seat.term_ends_at), "{u}");
            }
        }
    }
}

#[test]
fn every_cooperative_s_records_exist_and_point_back() {
    for seed in SEEDS {
        let world = World::generate(seed);
        for c in world.cooperatives() {
            let u = &c.unified_number;
            let licence = world
                .licence(&c.municipal_licence)
                .unwrap_or_else(|| panic!("{u}"));
            assert_eq!(
                (&licence.holder, licence.kind),
                (u, LicenceKind::Commercial)
            );
            assert_eq!(licence.address, c.headquarters, "{u}");
            assert_eq!(licence.holder_name, c.name, "{u}");
            match &c.chamber_membership {
                Some(number) => {
                    let m = world.membership_of(u).unwrap();
                    assert_eq!(&m.membership_number, number);
                    assert_eq!(world.membership(m.chamber_code, number).unwrap().holder, *u);
                }
                None => assert!(world.membership_of(u).is_none(), "{u}"),
            }
            assert_eq!(world.labor_file(u).is_some(), c.labor_file, "{u}");
            if c.status == CooperativeStatus::Dissolved {
                assert_eq!(licence.status, LicenceStatus::Cancelled, "{u}");
            }
        }
    }
}

#[test]
fn licences_are_consistent() {
    for seed in SEEDS {
        let world = World::generate(seed);
        assert_eq!(
            world.index.licence.len(),
            world.licences().len(),
            "duplicate licence"
        );
        for l in world.licences() {
            let what = format!("licence {}", l.number);
            assert!(digits(&l.number, 8..=20), "{what}");
            assert!(world.cooperative(&l.holder).is_some(), "{what}");
            assert!(!l.activities.is_empty(), "{what}");
            assert!(
                l.activities.iter().all(|a| digits(&a.code, 4..=8)),
                "{what}"
            );
            let valid = match l.status {
                LicenceStatus::Active => Some(true),
                LicenceStatus::Expired => Some(false),
                LicenceStatus::Suspended | LicenceStatus::Cancelled => None,
            };
            assert_dates(&what, &l.issued_at, &l.expires_at, valid);
            for permit in &l.linked_permits {
                let p = world.licence(permit).unwrap();
                assert_eq!(
                    (p.kind, &p.holder),
                    (LicenceKind::BuildingPermit, &l.holder),
                    "{what}"
                );
                if l.status == LicenceStatus::Cancelled {
                    assert_eq!(
                        p.status,
                        LicenceStatus::Cancelled,
                        "{what}: permit not revoked"
                    );
                }
            }
        }
        for status in LicenceStatus::ALL {
            assert!(
                world.licences().iter().any(|l| l.status == *status),
                "{status:?}"
            );
        }
    }
}

#[test]
fn memberships_are_consistent() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let all = world.memberships();
        assert_eq!(
            world.index.membership.len(),
            all.len(),
            "duplicate membership"
        );
        assert_eq!(
            world.index.membership_of.len(),
            all.len(),
            "two memberships for one holder"
        );
        let crs: HashSet<&str> = all.iter().map(|m| m.cr_number.as_str()).collect();
        assert_eq!(crs.len(), all.len(), "duplicate CR number");
        for m in all {
            let what = format!("membership {}-{}", m.chamber_code, m.membership_number);
            assert!((1..=999).contains(&m.chamber_code), "{what}");
            assert!(digits(&m.membership_number, 1..=12), "{what}");
            assert!(digits(&m.cr_number, 10..=10), "{what}");
            let holder = world.cooperative(&m.holder).unwrap();
            assert_eq!(m.establishment_name, holder.name, "{what}");
            assert_dates(&what, &m.subscribed_at, &m.expires_at, None);
        }
    }
}

#[test]
fn labor_files_are_consistent() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let files = world.labor_files();
        assert_eq!(world.index.labor_file.len(), files.len());
        assert_eq!(world.index.labor_file_by_number.len(), files.len());
        let certificates: HashSet<&str> = files
            .iter()
            .map(|f| f.certificate.number.as_str())
            .collect();
        assert_eq!(certificates.len(), files.len(), "duplicate certificate");
        let gosi: HashSet<&str> = files.iter().map(|f| f.gosi_registration.as_str()).collect();
        assert_eq!(gosi.len(), files.len(), "duplicate GOSI registration");
        for f in files {
            let what = format!("labour file {}", f.establishment_number());
            assert!(
                (1..=999).contains(&f.labor_office_id) && f.sequence_number <= 99_999_999,
                "{what}"
            );
            assert!(world.cooperative(&f.holder).is_some(), "{what}");
            let tenths = records::rate_tenths(f.saudi, f.non_saudi);
            assert_eq!(f.saudization_rate, f64::from(tenths) / 10.0, "{what}");
            assert!((0.0..=100.0).contains(&f.saudization_rate), "{what}");
            assert_eq!(f.band, NitaqatBand::for_rate_tenths(tenths), "{what}");
            assert!(digits(&f.gosi_registration, 1..=12), "{what}");
            let cert = &f.certificate;
            assert!(!cert.number.is_empty() && cert.number.len() <= 40, "{what}");
            if cert.status == CertificateStatus::Valid {
                assert!(
                    f.band.is_compliant(),
                    "{what}: a RED establishment with a valid certificate"
                );
            }
            let valid = match cert.status {
                CertificateStatus::Valid => Some(true),
                CertificateStatus::Expired => Some(false),
                CertificateStatus::Cancelled => None,
            };
            assert_dates(&what, &cert.issued_at, &cert.expires_at, valid);
        }
        for band in NitaqatBand::ALL {
            assert!(files.iter().any(|f| f.band == *band), "{band:?}");
        }
    }
}

#[test]
fn health_certificates_are_consistent_and_cover_citizens_and_residents() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let all = world.all_health_certificates();
        assert_eq!(world.index.health_certificate.len(), all.len());
        let numbers: HashSet<&str> = all.iter().map(|h| h.number.as_str()).collect();
        assert_eq!(numbers.len(), all.len(), "duplicate certificate number");
        let mut kinds = HashSet::new();
        for h in all {
            let what = format!("health certificate {}", h.number);
            let person = world.person(&h.person).unwrap();
            let licence = world.licence(&h.establishment_licence).unwrap();
            let coop = world.cooperative(&licence.holder).unwrap();
            assert!(coop.kind.handles_food(), "{what}");
            assert!(
                !coop.board.iter().any(|s| s.person == h.person),
                "{what}: a board member"
            );
            assert!(
                digits(&h.profession.code, 4..=4) && h.number.len() <= 40,
                "{what}"
            );
            if !is_fixed(&person.id) {
                kinds.insert(person.id.kind());
            }
            let valid = match h.status {
                CertificateStatus::Valid => Some(true),
                CertificateStatus::Expired => Some(false),
                CertificateStatus::Cancelled => None,
            };
            assert_dates(&what, &h.issued_at, &h.expires_at, valid);
            let listed = world.health_certificates(&h.establishment_licence);
            assert!(listed.iter().any(|c| c.number == h.number), "{what}");
        }
        assert_eq!(
            kinds.len(),
            2,
            "generated workers should be citizens and residents"
        );
        let workers: HashSet<&NationalId> = all.iter().map(|h| &h.person).collect();
        assert_eq!(
            workers.len(),
            all.len(),
            "a worker serves one establishment"
        );
    }
}

#[test]
fn generated_cooperatives_spread_over_kinds_and_regions_and_follow_the_seed() {
    let world = World::standard();
    let generated: Vec<&Cooperative> = world
        .cooperatives()
        .iter()
        .filter(|c| !c.unified_number.as_str().starts_with("70"))
        .collect();
    assert!(generated.len() >= 36, "{} generated", generated.len());
    let kinds: HashSet<CooperativeKind> = generated.iter().map(|c| c.kind).collect();
    assert!(kinds.len() >= 8, "{kinds:?}");
    let regions: HashSet<&str> = generated
        .iter()
        .filter_map(|c| world.address_by_short_address(&c.headquarters))
        .map(|a| a.region.en.as_str())
        .collect();
    let every_region: HashSet<&str> = world
        .addresses()
        .iter()
        .map(|a| a.region.en.as_str())
        .collect();
    assert_eq!(regions, every_region);
    for c in &generated {
        if c.kind == CooperativeKind::Fisheries {
            let city = world
                .address_by_short_address(&c.headquarters)
                .unwrap()
                .city_id;
            assert!(
                institutions::COASTAL_CITY_IDS.contains(&city),
                "{}",
                c.name.en
            );
        }
    }
    let other = World::generate(World::STANDARD_SEED + 1);
    assert_ne!(world.cooperatives(), other.cooperatives());
    assert_eq!(
        world.cooperatives()[..14],
        other.cooperatives()[..14],
        "the fixed ones move"
    );
}

#[test]
fn generated_identifiers_keep_out_of_the_fixed_ranges() {
    for seed in SEEDS {
        let world = World::generate(seed);
        let fixed_coops = world
            .cooperatives()
            .iter()
            .take_while(|c| c.unified_number.as_str().starts_with("70"));
        let fixed_licences: HashSet<&str> = fixed_coops
            .flat_map(|c| {
                world
                    .licences()
                    .iter()
                    .filter(move |l| l.holder == c.unified_number)
            })
            .map(|l| l.number.as_str())
            .collect();
        for p in world.people().iter().filter(|p| !is_fixed(&p.id)) {
            assert!(!p.id.as_str().starts_with("10") && !p.id.as_str().starts_with("20"));
        }
        assert_eq!(
            world.people().iter().filter(|p| is_fixed(&p.id)).count(),
            10
        );
        for l in world.licences() {
            let reserved = l.number.starts_with("40") || l.number.starts_with("50");
            assert_eq!(
                reserved,
                fixed_licences.contains(l.number.as_str()),
                "{}",
                l.number
            );
        }
        let fixed = world
            .cooperatives()
            .iter()
            .filter(|c| c.unified_number.as_str().starts_with("70"));
        assert_eq!(fixed.count(), 14);
    }
}
