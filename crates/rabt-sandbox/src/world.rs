//! The one deterministic fictional world that every agency simulator serves.
//!
//! A [`World`] is generated from a seed by our own [`SandboxRng`], never from the
//! clock, so the same seed gives the same world on every machine and every run;
//! [`World::standard`] uses the fixed seed [`World::STANDARD_SEED`]. Places and names
//! are real (regions, cities, districts, streets, people's names, in Arabic and
//! English); which building sits where, and who is who, is fictional.
//!
//! The world holds National Addresses (Saudi Post), people (Interior), cooperatives and
//! their labour files (MHRSD), municipal licences (Balady), chamber memberships and
//! food workers' health certificates, consistent with each other: every board member,
//! licence holder and worker is a record of the same world, every headquarters one of
//! its addresses. The golden fixtures of DESIGN.md ([`golden`]) and one deliberate case
//! for every kind of answer ([`cases`]) are in every world, whatever the seed:
//! `RRRD2929` is fixed field by field, and `ZZZZ9999` can never be generated because no
//! region letter is `Z`. docs/sandbox.md lists them, checked by a test.
//!
//! The world never reads the clock, yet validity must not change between test runs:
//! whatever is still valid expires in 2036 or later, whatever has expired did so in 2024
//! or earlier, so any "today" from 2025 to 2035 gives the same answers.
//!
//! Growing the world: each kind of record draws from its own stream
//! ([`SandboxRng::stream`] with a label such as `"people"`), so adding a kind of record,
//! or more records of one kind, never moves the others. Fixed records use identifiers
//! the generator never draws (IDs `10…`/`20…`, unified numbers `70…`).
//!
//! Short addresses read as region letter, city letter, two-letter district code and
//! the building number: `RRRD2929` is Riyadh region, Riyadh city, Al Olaya, building
//! 2929.
//!
//! Layout:
//! - this file: [`World`] and its lookups.
//! - `golden`, `cases`: the fixed fixtures as constants; `fixed`: their records.
//! - `address`, `places`: addresses and the real places they are drawn from.
//! - `people`, `names`: people and the names they are drawn from.
//! - `cooperatives`, `records`: the cooperative registry and the other agencies'
//!   records (licences, memberships, labour files, health certificates).
//! - `generate`, `paperwork`, `institutions`: the generated cooperatives, their
//!   records, and each city's municipality, chamber and labour office.
//! - `dates`, `rng`, `registry`: both-calendar dates, the generator, the indexes.

use std::collections::HashMap;
use std::fmt;

use rabt_core::{
    AdditionalNumber, BuildingNumber, NationalId, PostalCode, ShortAddress, UnifiedNumber,
};

/// Declares a closed enum of wire names: `Serialize` as the names given, `as_str()` and
/// `ALL`, so the wire name is written in exactly one place.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $wire:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name, as the agencies and Rabt's schemas write it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }
    };
}

mod address;
pub mod cases;
#[cfg(test)]
mod consistency_tests;
mod cooperatives;
mod dates;
mod fixed;
mod generate;
pub mod golden;
mod institutions;
mod names;
mod paperwork;
mod people;
mod places;
mod records;
mod registry;
mod rng;
#[cfg(test)]
mod world_tests;

pub use address::{Address, Bilingual, Coordinates};
pub use cooperatives::{BoardRole, BoardSeat, Cooperative, CooperativeKind, CooperativeStatus};
pub use people::{FourPartName, Gender, Nationality, Person};
pub use records::{
    Activity, CertificateStatus, ChamberMembership, Fitness, HealthCertificate, LaborFile,
    LicenceKind, LicenceStatus, MembershipClass, MunicipalLicence, NitaqatBand,
    SaudizationCertificate,
};
pub use rng::SandboxRng;

use registry::{Index, Records};

/// The fictional world: every record the simulators answer from.
pub struct World {
    seed: u64,
    addresses: Vec<Address>,
    by_short_address: HashMap<ShortAddress, usize>,
    by_numbers: HashMap<(BuildingNumber, PostalCode, AdditionalNumber), usize>,
    records: Records,
    index: Index,
}

impl World {
    /// The seed of [`World::standard`]: "RABT" in ASCII.
    /// The seed `rabt demo` and `rabt simulate` serve by default (`simulate.seed` in
    /// deploy/rabt.toml; a test in the binary keeps the two equal).
    pub const STANDARD_SEED: u64 = 1447;

    /// The world every simulator serves unless told otherwise.
    pub fn standard() -> World {
        World::generate(Self::STANDARD_SEED)
    }

    /// The world of `seed`. The same seed always gives the same world.
    pub fn generate(seed: u64) -> World {
        let addresses = address::generate(seed);
        let by_short_address = addresses
            .iter()
            .enumerate()
            .map(|(i, a)| (a.short_address.clone(), i))
            .collect();
        let by_numbers = addresses
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let key = (
                    a.building_number.clone(),
                    a.postal_code.clone(),
                    a.additional_number.clone(),
                );
                (key, i)
            })
            .collect();
        let mut records = Records::default();
        fixed::add(&mut records);
        people::generate(seed, &mut records.people);
        generate::establishments(seed, &addresses, &mut records);
        let index = Index::build(&records);
        World {
            seed,
            addresses,
            by_short_address,
            by_numbers,
            records,
            index,
        }
    }

    /// The seed this world was generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Every National Address, the golden ones first.
    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }

    /// The address with this short address, if the world has one.
    pub fn address_by_short_address(&self, short: &ShortAddress) -> Option<&Address> {
        self.by_short_address
            .get(short)
            .and_then(|&i| self.addresses.get(i))
    }

    /// The address with these three numbers (what SPL's address-verify checks).
    pub fn address_by_numbers(
        &self,
        building: &BuildingNumber,
        postal_code: &PostalCode,
        additional: &AdditionalNumber,
    ) -> Option<&Address> {
        let key = (building.clone(), postal_code.clone(), additional.clone());
        self.by_numbers
            .get(&key)
            .and_then(|&i| self.addresses.get(i))
    }

    /// Every person, the fixed ones ([`golden`], [`cases`]) first.
    pub fn people(&self) -> &[Person] {
        &self.records.people
    }

    /// The person with this national ID or iqama.
    pub fn person(&self, id: &NationalId) -> Option<&Person> {
        at(&self.records.people, self.index.person.get(id))
    }

    /// Every cooperative, the fixed ones first.
    pub fn cooperatives(&self) -> &[Cooperative] {
        &self.records.cooperatives
    }

    /// The cooperative with this unified number.
    pub fn cooperative(&self, unified: &UnifiedNumber) -> Option<&Cooperative> {
        at(
            &self.records.cooperatives,
            self.index.cooperative.get(unified),
        )
    }

    /// Every municipal licence and building permit.
    pub fn licences(&self) -> &[MunicipalLicence] {
        &self.records.licences
    }

    /// The licence or building permit with this unified licence number.
    pub fn licence(&self, number: &str) -> Option<&MunicipalLicence> {
        at(&self.records.licences, self.index.licence.get(number))
    }

    /// Every chamber membership.
    pub fn memberships(&self) -> &[ChamberMembership] {
        &self.records.memberships
    }

    /// The membership with this number in this chamber.
    pub fn membership(
        &self,
        chamber_code: u16,
        membership_number: &str,
    ) -> Option<&ChamberMembership> {
        let key = (chamber_code, membership_number.to_owned());
        at(&self.records.memberships, self.index.membership.get(&key))
    }

    /// The chamber membership of this establishment, if it has one.
    pub fn membership_of(&self, holder: &UnifiedNumber) -> Option<&ChamberMembership> {
        at(
            &self.records.memberships,
            self.index.membership_of.get(holder),
        )
    }

    /// Every labour file.
    pub fn labor_files(&self) -> &[LaborFile] {
        &self.records.labor_files
    }

    /// This establishment's labour file (`None`: not in Nitaqat, `E0000949`).
    pub fn labor_file(&self, holder: &UnifiedNumber) -> Option<&LaborFile> {
        at(&self.records.labor_files, self.index.labor_file.get(holder))
    }

    /// The labour file of establishment number `labor_office_id-sequence_number`.
    pub fn labor_file_by_number(
        &self,
        labor_office_id: u16,
        sequence_number: u32,
    ) -> Option<&LaborFile> {
        let key = (labor_office_id, sequence_number);
        let position = self.index.labor_file_by_number.get(&key);
        at(&self.records.labor_files, position)
    }

    /// Every health certificate of the world.
    pub fn all_health_certificates(&self) -> &[HealthCertificate] {
        &self.records.health_certificates
    }

    /// The certificate this worker holds for this establishment licence.
    pub fn health_certificate(
        &self,
        establishment_licence: &str,
        person: &NationalId,
    ) -> Option<&HealthCertificate> {
        let key = (establishment_licence.to_owned(), person.clone());
        let position = self.index.health_certificate.get(&key);
        at(&self.records.health_certificates, position)
    }

    /// Every certificate issued for this establishment licence, in the world's order.
    pub fn health_certificates(&self, establishment_licence: &str) -> Vec<&HealthCertificate> {
        self.index
            .health_by_licence
            .get(establishment_licence)
            .map(|positions| {
                positions
                    .iter()
                    .filter_map(|&i| self.records.health_certificates.get(i))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The record at an index position, if any.
fn at<'a, T>(items: &'a [T], position: Option<&usize>) -> Option<&'a T> {
    position.and_then(|&i| items.get(i))
}

impl fmt::Debug for World {
    // The full world is thousands of records: a log line needs only what identifies it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("seed", &self.seed)
            .field("addresses", &self.addresses.len())
            .field("people", &self.records.people.len())
            .field("cooperatives", &self.records.cooperatives.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
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
}
