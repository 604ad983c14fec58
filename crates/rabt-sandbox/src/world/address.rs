//! National Address records of the sandbox and how they are generated.

use std::collections::HashSet;

use rabt_core::{AdditionalNumber, BuildingNumber, PostalCode, ShortAddress};
use serde::Serialize;

use super::places::{CityDef, DistrictDef, REGIONS, RegionDef, STREETS, StaticName};
use super::rng::SandboxRng;

/// A name in Arabic and English.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Bilingual {
    /// Arabic.
    pub ar: String,
    /// English.
    pub en: String,
}

impl From<StaticName> for Bilingual {
    fn from(name: StaticName) -> Self {
        Self {
            ar: name.ar.to_owned(),
            en: name.en.to_owned(),
        }
    }
}

/// A point in WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coordinates {
    /// Latitude, north positive.
    pub lat: f64,
    /// Longitude, east positive.
    pub lng: f64,
}

/// One building's National Address.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Region letter, city letter, district code, building number: `RRRD2929`.
    pub short_address: ShortAddress,
    /// Four digits; the digits of the short address.
    pub building_number: BuildingNumber,
    /// Four digits that tell buildings with the same number apart.
    pub additional_number: AdditionalNumber,
    /// The district's five-digit postal code.
    pub postal_code: PostalCode,
    /// The street the building is on.
    pub street: Bilingual,
    /// The district (حي).
    pub district: Bilingual,
    /// The city.
    pub city: Bilingual,
    /// The administrative region.
    pub region: Bilingual,
    /// The building's location, inside its district.
    pub location: Coordinates,
    /// SPL-style numeric ids of the region, city and district.
    pub region_id: u32,
    /// See `region_id`.
    pub city_id: u32,
    /// See `region_id`.
    pub district_id: u64,
}

/// How many addresses each district gets, besides the golden ones.
const ADDRESSES_PER_DISTRICT: usize = 24;

/// How far (degrees) a building may lie from its district's centre: about 900 m.
const DISTRICT_RADIUS_DEG: f64 = 0.008;

/// The golden `RRRD2929`: fixed field by field, so that outside checks can rely on it
/// whatever the seed.
fn golden_rrrd2929() -> Option<Address> {
    let place = find_place(b'R', b'R', "RD")?;
    let street = STREETS.first()?;
    Some(place.address(Building {
        short_address: ShortAddress::parse("RRRD2929").ok()?,
        building_number: BuildingNumber::parse("2929").ok()?,
        additional_number: AdditionalNumber::parse("7788").ok()?,
        postal_code: PostalCode::parse(place.district.postal_code).ok()?,
        street: (*street).into(),
        location: Coordinates {
            lat: place.district.lat,
            lng: place.district.lng,
        },
    }))
}

/// A district together with its city and region.
#[derive(Debug, Clone, Copy)]
struct Place {
    region: &'static RegionDef,
    city: &'static CityDef,
    district: &'static DistrictDef,
    district_index: usize,
}

impl Place {
    fn prefix(&self) -> String {
        let mut prefix = String::with_capacity(4);
        prefix.push(char::from(self.region.letter));
        prefix.push(char::from(self.city.letter));
        prefix.push_str(self.district.code);
        prefix
    }

    /// The address of a building in this place.
    fn address(&self, building: Building) -> Address {
        Address {
            short_address: building.short_address,
            building_number: building.building_number,
            additional_number: building.additional_number,
            postal_code: building.postal_code,
            street: building.street,
            district: self.district.name.into(),
            city: self.city.name.into(),
            region: self.region.name.into(),
            location: building.location,
            region_id: self.region.id,
            city_id: self.city.id,
            district_id: u64::from(self.city.id) * 1000 + self.district_index as u64 + 1,
        }
    }
}

/// What sets one building apart from the rest of its district.
#[derive(Debug)]
struct Building {
    short_address: ShortAddress,
    building_number: BuildingNumber,
    additional_number: AdditionalNumber,
    postal_code: PostalCode,
    street: Bilingual,
    location: Coordinates,
}

fn places() -> impl Iterator<Item = Place> {
    REGIONS.iter().flat_map(|region| {
        region.cities.iter().flat_map(move |city| {
            city.districts
                .iter()
                .enumerate()
                .map(move |(district_index, district)| Place {
                    region,
                    city,
                    district,
                    district_index,
                })
        })
    })
}

fn find_place(region: u8, city: u8, district: &str) -> Option<Place> {
    places()
        .find(|p| p.region.letter == region && p.city.letter == city && p.district.code == district)
}

/// Generates every address of a world: the golden ones first, then
/// [`ADDRESSES_PER_DISTRICT`] per district, none colliding with another by short
/// address or by (building, postal code, additional number).
pub(super) fn generate(seed: u64) -> Vec<Address> {
    let mut rng = SandboxRng::stream(seed, "addresses");
    let mut addresses: Vec<Address> = golden_rrrd2929().into_iter().collect();
    let mut short_seen: HashSet<String> = addresses
        .iter()
        .map(|a| a.short_address.to_string())
        .collect();
    let mut numbers_seen: HashSet<(String, String, String)> =
        addresses.iter().map(numbers_key).collect();

    for place in places() {
        let mut made = 0;
        while made < ADDRESSES_PER_DISTRICT {
            let Some(address) = random_address(&mut rng, &place) else {
                continue;
            };
            if short_seen.contains(address.short_address.as_str())
                || numbers_seen.contains(&numbers_key(&address))
            {
                continue;
            }
            short_seen.insert(address.short_address.to_string());
            numbers_seen.insert(numbers_key(&address));
            addresses.push(address);
            made += 1;
        }
    }
    addresses
}

fn numbers_key(a: &Address) -> (String, String, String) {
    (
        a.building_number.to_string(),
        a.postal_code.to_string(),
        a.additional_number.to_string(),
    )
}

fn random_address(rng: &mut SandboxRng, place: &Place) -> Option<Address> {
    let building = rng.between(1000, 9999);
    let additional = rng.between(1000, 9999);
    let street = rng.pick(STREETS)?;
    let lat = place.district.lat + (rng.unit() * 2.0 - 1.0) * DISTRICT_RADIUS_DEG;
    let lng = place.district.lng + (rng.unit() * 2.0 - 1.0) * DISTRICT_RADIUS_DEG;
    Some(place.address(Building {
        short_address: ShortAddress::parse(&format!("{}{building}", place.prefix())).ok()?,
        building_number: BuildingNumber::parse(&building.to_string()).ok()?,
        additional_number: AdditionalNumber::parse(&additional.to_string()).ok()?,
        postal_code: PostalCode::parse(place.district.postal_code).ok()?,
        street: (*street).into(),
        location: Coordinates {
            lat: round6(lat),
            lng: round6(lng),
        },
    }))
}

/// Six decimals (about 10 cm): what SPL answers, and exact across platforms once
/// printed.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_codes_are_unique_and_never_z() {
        let prefixes: Vec<String> = places().map(|p| p.prefix()).collect();
        let unique: HashSet<&String> = prefixes.iter().collect();
        assert_eq!(
            unique.len(),
            prefixes.len(),
            "duplicate short address prefix"
        );
        for prefix in &prefixes {
            assert_eq!(prefix.len(), 4);
            assert!(prefix.bytes().all(|b| b.is_ascii_uppercase()), "{prefix}");
            assert!(!prefix.starts_with('Z'), "{prefix}");
        }
    }

    #[test]
    fn every_district_postal_code_is_valid() {
        for place in places() {
            assert!(
                PostalCode::parse(place.district.postal_code).is_ok(),
                "{}",
                place.district.name.en
            );
        }
    }

    #[test]
    fn golden_address_is_in_riyadh() {
        let golden = golden_rrrd2929().unwrap();
        assert_eq!(golden.city.en, "Riyadh");
        assert_eq!(golden.city.ar, "الرياض");
        assert_eq!(golden.building_number.as_str(), "2929");
    }
}
