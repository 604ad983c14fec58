//! SPL's own wire format, named as SPL names it, and its translation into
//! [`AddressOutput`].
//!
//! SPL sends every value as a string (`"BuildingNumber": "2929"`, `"Latitude":
//! "24.69110000"`, `"totalSearchResults": "1"`), and answers one language per call
//! (`language=A` or `language=E`): one address is two answers, merged by
//! [`TryFrom<SplPair>`]. The simulator serialises these same types, and the golden JSON
//! files under `tests/fixtures/wire/` pin the format on both sides.

use rabt_core::{AdditionalNumber, BuildingNumber, PostalCode};
use serde::{Deserialize, Serialize};

use crate::SaudiPostError;
use crate::output::{AddressOutput, Location, Names};

/// SPL's `language` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// `A`: Arabic.
    Arabic,
    /// `E`: English.
    English,
}

impl Language {
    /// The parameter value.
    pub const fn code(self) -> &'static str {
        match self {
            Language::Arabic => "A",
            Language::English => "E",
        }
    }

    /// Parses the parameter value.
    pub fn from_code(code: &str) -> Option<Language> {
        match code {
            "A" | "a" => Some(Language::Arabic),
            "E" | "e" => Some(Language::English),
            _ => None,
        }
    }
}

/// The answer of the short-address lookup and of the free-text search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplAddressResponse {
    /// `true` when SPL processed the call (even if it found nothing).
    pub success: bool,
    /// `"SUCCESS"`, or what went wrong.
    pub statusdescription: String,
    /// How many addresses matched, as a string.
    #[serde(rename = "totalSearchResults")]
    pub total_search_results: String,
    /// The addresses; empty means not found.
    #[serde(rename = "Addresses", default)]
    pub addresses: Vec<SplAddress>,
}

/// One address in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SplAddress {
    /// Usually null.
    #[serde(default)]
    pub title: Option<String>,
    /// First printed line: building number, street, district.
    #[serde(default)]
    pub address1: Option<String>,
    /// Second printed line: city, postal code, additional number.
    #[serde(default)]
    pub address2: Option<String>,
    /// `"lat lng"`.
    #[serde(default)]
    pub obj_lat_lng: Option<String>,
    /// Four digits.
    pub building_number: String,
    /// Street name.
    pub street: String,
    /// District name.
    pub district: String,
    /// City name.
    pub city: String,
    /// Five digits.
    pub post_code: String,
    /// Four digits.
    pub additional_number: String,
    /// Region name.
    pub region_name: String,
    /// `"True"` for a building's primary address.
    #[serde(default)]
    pub is_primary_address: Option<String>,
    /// Unit within the building, `"0"` for none.
    #[serde(default)]
    pub unit_number: Option<String>,
    /// Decimal degrees, as a string.
    pub latitude: String,
    /// Decimal degrees, as a string.
    pub longitude: String,
    /// SPL's city id.
    #[serde(default)]
    pub city_id: Option<String>,
    /// SPL's region id.
    #[serde(default)]
    pub region_id: Option<String>,
    /// SPL's district id.
    #[serde(rename = "DistrictID", default)]
    pub district_id: Option<String>,
    /// SPL's address record id.
    #[serde(rename = "PKAddressID", default)]
    pub pk_address_id: Option<String>,
}

/// The answer of `v3.1/address/address-verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplVerifyResponse {
    /// Whether the three numbers name one address.
    pub addressfound: bool,
    /// `true` when SPL processed the call.
    #[serde(default = "yes")]
    pub success: bool,
    /// `"SUCCESS"`, or what went wrong.
    #[serde(default)]
    pub statusdescription: String,
}

fn yes() -> bool {
    true
}

/// The body of an error answer (400, 401, 403, 5xx), as far as SPL sends one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplErrorResponse {
    /// Always `false`.
    pub success: bool,
    /// A code such as `INVALID_PARAMETER` or `INVALID_API_KEY`.
    pub statusdescription: String,
    /// A sentence for people.
    #[serde(default)]
    pub message: Option<String>,
}

/// The Arabic and English answers for one building.
#[derive(Debug, Clone, Copy)]
pub struct SplPair<'a> {
    /// From `language=A`.
    pub ar: &'a SplAddress,
    /// From `language=E`.
    pub en: &'a SplAddress,
}

impl SplPair<'_> {
    /// Whether both answers are about the same building.
    pub fn same_building(&self) -> bool {
        self.ar.building_number == self.en.building_number
            && self.ar.post_code == self.en.post_code
            && self.ar.additional_number == self.en.additional_number
    }
}

impl TryFrom<SplPair<'_>> for AddressOutput {
    type Error = SaudiPostError;

    /// Checks SPL's strings against rabt-core's rules and merges both languages. The
    /// short address is not in SPL's answer; the caller sets it when it asked by one.
    fn try_from(pair: SplPair<'_>) -> Result<Self, Self::Error> {
        if !pair.same_building() {
            return Err(SaudiPostError::LanguagesDisagree);
        }
        let SplPair { ar, en } = pair;
        let building = BuildingNumber::parse(&en.building_number)
            .map_err(|_| field("BuildingNumber", "four digits", &en.building_number))?;
        let postal = PostalCode::parse(&en.post_code)
            .map_err(|_| field("PostCode", "five digits", &en.post_code))?;
        let additional = AdditionalNumber::parse(&en.additional_number)
            .map_err(|_| field("AdditionalNumber", "four digits", &en.additional_number))?;
        let lat = degrees("Latitude", &en.latitude, 90.0)?;
        let lng = degrees("Longitude", &en.longitude, 180.0)?;
        let names = |ar: &str, en: &str| {
            Some(Names {
                ar: ar.to_owned(),
                en: en.to_owned(),
            })
        };
        Ok(AddressOutput {
            found: true,
            short_address: None,
            building_number: Some(building.into()),
            additional_number: Some(additional.into()),
            postal_code: Some(postal.into()),
            street: names(&ar.street, &en.street),
            district: names(&ar.district, &en.district),
            city: names(&ar.city, &en.city),
            region: names(&ar.region_name, &en.region_name),
            location: Some(Location { lat, lng }),
        })
    }
}

fn field(field: &'static str, expected: &'static str, value: &str) -> SaudiPostError {
    SaudiPostError::Field {
        field,
        expected,
        value: value.chars().take(32).collect(),
    }
}

fn degrees(name: &'static str, value: &str, limit: f64) -> Result<f64, SaudiPostError> {
    match value.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= limit => Ok(x),
        _ => Err(field(name, "decimal degrees", value)),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    const RRRD2929_AR: &str = include_str!("../tests/fixtures/wire/short-address-rrrd2929-ar.json");
    const RRRD2929_EN: &str = include_str!("../tests/fixtures/wire/short-address-rrrd2929-en.json");
    const NOT_FOUND: &str = include_str!("../tests/fixtures/wire/short-address-zzzz9999.json");
    const VERIFY_FOUND: &str = include_str!("../tests/fixtures/wire/address-verify-found.json");
    const ERROR_401: &str = include_str!("../tests/fixtures/wire/error-401.json");
    /// What RRRD2929's two answers merge into (the golden tests expect it too).
    const OUTPUT_RRRD2929: &str = include_str!("../tests/fixtures/output/address-rrrd2929.json");

    fn parse(text: &str) -> SplAddressResponse {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn golden_fixtures_merge_into_the_output() {
        let ar = parse(RRRD2929_AR);
        let en = parse(RRRD2929_EN);
        assert!(ar.success && en.success);
        assert_eq!(ar.total_search_results, "1");
        let pair = SplPair {
            ar: &ar.addresses[0],
            en: &en.addresses[0],
        };
        let output = AddressOutput::try_from(pair).unwrap();
        let expected: serde_json::Value = serde_json::from_str(OUTPUT_RRRD2929).unwrap();
        assert_eq!(output.to_json(), expected);
    }

    #[test]
    fn fixtures_round_trip_through_the_wire_types() {
        for text in [RRRD2929_AR, RRRD2929_EN, NOT_FOUND] {
            let original: serde_json::Value = serde_json::from_str(text).unwrap();
            let again = serde_json::to_value(parse(text)).unwrap();
            assert_eq!(again, original);
        }
        assert!(parse(NOT_FOUND).addresses.is_empty());
        let verify: SplVerifyResponse = serde_json::from_str(VERIFY_FOUND).unwrap();
        assert!(verify.addressfound);
        let error: SplErrorResponse = serde_json::from_str(ERROR_401).unwrap();
        assert!(!error.success);
    }

    #[test]
    fn numeric_fields_must_follow_the_rules() {
        let en = parse(RRRD2929_EN).addresses.remove(0);
        type Breaker = fn(&mut SplAddress);
        let cases: [(&str, Breaker); 4] = [
            ("BuildingNumber", |a| a.building_number = "29A9".into()),
            ("PostCode", |a| a.post_code = "1221".into()),
            ("AdditionalNumber", |a| a.additional_number = "".into()),
            ("Latitude", |a| a.latitude = "north".into()),
        ];
        for (name, break_it) in cases {
            let mut broken = en.clone();
            break_it(&mut broken);
            let pair = SplPair {
                ar: &broken,
                en: &broken,
            };
            match AddressOutput::try_from(pair) {
                Err(SaudiPostError::Field { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn two_languages_about_two_buildings_are_refused() {
        let en = parse(RRRD2929_EN).addresses.remove(0);
        let mut other = en.clone();
        other.additional_number = "1111".into();
        let pair = SplPair {
            ar: &other,
            en: &en,
        };
        assert!(matches!(
            AddressOutput::try_from(pair),
            Err(SaudiPostError::LanguagesDisagree)
        ));
    }

    #[test]
    fn language_codes() {
        for lang in [Language::Arabic, Language::English] {
            assert_eq!(Language::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Language::from_code("F"), None);
    }
}
