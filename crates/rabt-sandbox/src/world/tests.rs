//! Tests of the world: the inline checks of its lookups here; the whole world's
//! determinism and documented cases in `whole`, the records' agreement in `consistency`.

mod consistency;
mod whole;

use std::collections::HashSet;

use super::*;

fn short(s: &str) -> ShortAddress {
    ShortAddress::parse(s).unwrap()
}

#[test]
fn same_seed_same_world_other_seed_other_world() {
    let a = World::generate(99);
    let b = World::generate(99);
    assert_eq!(a.addresses(), b.addresses());
    let c = World::generate(100);
    assert_ne!(a.addresses(), c.addresses());
    assert_eq!(World::standard().seed(), World::STANDARD_SEED);
}

#[test]
fn golden_short_addresses_in_every_world() {
    for seed in [World::STANDARD_SEED, 0, 1, u64::MAX] {
        let world = World::generate(seed);
        let found = world
            .address_by_short_address(&short(golden::SHORT_ADDRESS_FOUND))
            .unwrap();
        assert_eq!(found.building_number.as_str(), golden::BUILDING_NUMBER);
        assert_eq!(found.postal_code.as_str(), golden::POSTAL_CODE);
        assert_eq!(found.additional_number.as_str(), golden::ADDITIONAL_NUMBER);
        assert_eq!(found.city.en, "Riyadh");
        assert_eq!(found.city.ar, "الرياض");
        assert_eq!(found.district.en, "Al Olaya");
        assert_eq!(found.street.en, "King Fahd Road");
        assert!(
            world
                .address_by_short_address(&short(golden::SHORT_ADDRESS_MISSING))
                .is_none()
        );
    }
}

#[test]
fn golden_numbers_find_the_golden_address() {
    let world = World::standard();
    let found = world
        .address_by_numbers(
            &BuildingNumber::parse(golden::BUILDING_NUMBER).unwrap(),
            &PostalCode::parse(golden::POSTAL_CODE).unwrap(),
            &AdditionalNumber::parse(golden::ADDITIONAL_NUMBER).unwrap(),
        )
        .unwrap();
    assert_eq!(found.short_address.as_str(), golden::SHORT_ADDRESS_FOUND);
}

#[test]
fn addresses_are_unique_by_both_keys() {
    let world = World::standard();
    let n = world.addresses().len();
    assert!(
        n > 1000,
        "a world of {n} addresses is too small to be useful"
    );
    assert_eq!(world.by_short_address.len(), n);
    assert_eq!(world.by_numbers.len(), n);
}

#[test]
fn every_field_has_a_valid_format() {
    let world = World::standard();
    for a in world.addresses() {
        // Round trip through rabt-core's parsers: the records hold canonical text.
        assert_eq!(
            ShortAddress::parse(a.short_address.as_str()).unwrap(),
            a.short_address
        );
        assert!(BuildingNumber::parse(a.building_number.as_str()).is_ok());
        assert!(AdditionalNumber::parse(a.additional_number.as_str()).is_ok());
        assert!(PostalCode::parse(a.postal_code.as_str()).is_ok());
        assert!(
            a.short_address
                .as_str()
                .ends_with(a.building_number.as_str())
        );
        for name in [&a.street, &a.district, &a.city, &a.region] {
            assert!(!name.ar.is_empty() && !name.en.is_empty());
            assert!(
                name.ar
                    .chars()
                    .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
            );
            assert!(name.en.is_ascii());
        }
    }
}

#[test]
fn coordinates_lie_inside_saudi_arabia_and_near_their_district() {
    let world = World::standard();
    for a in world.addresses() {
        assert!((16.0..32.5).contains(&a.location.lat), "{a:?}");
        assert!((34.5..56.0).contains(&a.location.lng), "{a:?}");
    }
    let cities: HashSet<&str> = world
        .addresses()
        .iter()
        .map(|a| a.city.en.as_str())
        .collect();
    for city in [
        "Riyadh", "Jeddah", "Dammam", "Madinah", "Buraydah", "Abha", "Tabuk",
    ] {
        assert!(cities.contains(city), "{city} missing");
    }
}

#[test]
fn postal_codes_follow_the_city() {
    // The first digit of a Saudi postal code names the zone: 1 Riyadh, 2 Makkah,
    // 3 Eastern Province, 4 Madinah and Tabuk, 5 Qassim and Hail, 6 Asir.
    let world = World::standard();
    for a in world.addresses() {
        let zone = a.postal_code.as_str().as_bytes()[0];
        let expected: &[u8] = match a.region.en.as_str() {
            "Riyadh Region" => b"1",
            "Makkah Region" => b"2",
            "Eastern Province" => b"3",
            "Madinah Region" | "Tabuk Region" => b"4",
            "Qassim Region" | "Hail Region" => b"5",
            "Asir Region" => b"6",
            other => panic!("unexpected region {other}"),
        };
        assert!(expected.contains(&zone), "{a:?}");
    }
}
