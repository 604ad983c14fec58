//! People of the sandbox: what the Ministry of Interior holds about a citizen or a
//! resident, and the generator of the world's crowd.

use std::collections::HashSet;

use rabt_core::{Calendar, DualDate, Mobile, NationalId};
use serde::Serialize;

use super::address::Bilingual;
use super::dates;
use super::names::{self, Culture, NationalityDef};
use super::rng::SandboxRng;

wire_enum! {
    /// A person's gender as Yakeen answers it.
    Gender {
        /// `M`.
        Male = "M",
        /// `F`.
        Female = "F",
    }
}

/// A four-part name (first, father, grandfather, family), each part in both scripts,
/// as identity records hold it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FourPartName {
    /// The person's own name.
    pub first: Bilingual,
    /// The father's first name.
    pub father: Bilingual,
    /// The grandfather's first name.
    pub grandfather: Bilingual,
    /// The family (tribe or last) name.
    pub family: Bilingual,
}

impl FourPartName {
    /// The full name, the four parts joined with spaces in each script.
    pub fn full(&self) -> Bilingual {
        let parts = [&self.first, &self.father, &self.grandfather, &self.family];
        Bilingual {
            ar: parts.map(|p| p.ar.as_str()).join(" "),
            en: parts.map(|p| p.en.as_str()).join(" "),
        }
    }

    /// A name from four `(arabic, english)` parts.
    pub(crate) fn from_parts(ar: [&str; 4], en: [&str; 4]) -> Self {
        let part = |i: usize| Bilingual {
            ar: ar[i].to_owned(),
            en: en[i].to_owned(),
        };
        Self {
            first: part(0),
            father: part(1),
            grandfather: part(2),
            family: part(3),
        }
    }
}

/// A nationality.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nationality {
    /// ISO 3166-1 alpha-3: `SAU`, `EGY`, `IND`, `PAK`, `YEM`, `SDN`, `PHL`.
    pub code: String,
    /// ISO 3166-1 numeric (`682` for Saudi Arabia): the sandbox's "agency nationality
    /// code", digits as Yakeen's `nationalityCode` is.
    pub numeric_code: String,
    /// The nationality, e.g. سعودي / Saudi.
    pub name: Bilingual,
}

impl From<&NationalityDef> for Nationality {
    fn from(def: &NationalityDef) -> Self {
        Self {
            code: def.code.to_owned(),
            numeric_code: def.numeric.to_owned(),
            name: def.name.into(),
        }
    }
}

/// One person's identity record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Luhn-valid; starts with 1 for a citizen, 2 for a resident.
    pub id: NationalId,
    /// The four-part name in both scripts.
    pub name: FourPartName,
    /// `M` or `F`, consistent with the first name.
    pub gender: Gender,
    /// Both calendars; citizens' records are kept in Hijri, residents' in Gregorian.
    pub birth_date: DualDate,
    /// Saudi for citizens.
    pub nationality: Nationality,
    /// When the ID card or iqama expires (2036 or later: every ID in the world is valid).
    pub id_expiry: DualDate,
    /// The mobile registered to this person; no two people share one.
    pub mobile: Mobile,
    /// An ISCO-08 occupation code (four digits).
    pub occupation_code: String,
}

/// How many generated citizens and residents a world has, besides the fixed people.
const CITIZENS: usize = 360;
const RESIDENTS: usize = 140;

/// Generated IDs never start with `10` or `20`: those belong to the fixed people (and
/// to [`super::cases::ID_IN_NO_WORLD`]), whatever the seed.
fn random_id(rng: &mut SandboxRng, first: char) -> Option<NationalId> {
    let second = rng.between(1, 9);
    let rest = rng.between(0, 9_999_999);
    NationalId::with_check_digit(&format!("{first}{second}{rest:07}"))
}

fn random_mobile(rng: &mut SandboxRng) -> Option<Mobile> {
    // Saudi mobile prefixes 050, 053–059.
    let operator = *rng.pick(&[0u32, 3, 4, 5, 6, 7, 8, 9])?;
    let rest = rng.between(0, 9_999_999);
    Mobile::parse(&format!("9665{operator}{rest:07}")).ok()
}

/// Appends the generated people to `people` (which holds the fixed ones): citizens
/// first, then residents, none sharing an ID or a mobile with anyone before them.
pub(super) fn generate(seed: u64, people: &mut Vec<Person>) {
    let mut rng = SandboxRng::stream(seed, "people");
    let mut ids: HashSet<NationalId> = people.iter().map(|p| p.id.clone()).collect();
    let mut mobiles: HashSet<Mobile> = people.iter().map(|p| p.mobile.clone()).collect();
    for (count, citizen) in [(CITIZENS, true), (RESIDENTS, false)] {
        let mut made = 0;
        while made < count {
            let Some(person) = random_person(&mut rng, citizen) else {
                continue;
            };
            if ids.contains(&person.id) || mobiles.contains(&person.mobile) {
                continue;
            }
            ids.insert(person.id.clone());
            mobiles.insert(person.mobile.clone());
            people.push(person);
            made += 1;
        }
    }
}

fn random_person(rng: &mut SandboxRng, citizen: bool) -> Option<Person> {
    let culture = if citizen {
        &names::SAUDI
    } else {
        names::pick_resident_culture(rng)?
    };
    // Most residents in the world's workforce are men; citizens are half and half.
    let female = rng.below(100) < if citizen { 50 } else { 15 };
    let name = random_name(rng, culture, female)?;
    let (calendar, birth_years, expiry_years) = if citizen {
        (Calendar::Hijri, (1350, 1420), (1458, 1466))
    } else {
        (Calendar::Gregorian, (1960, 2002), (2036, 2040))
    };
    let occupations = if citizen {
        names::CITIZEN_OCCUPATIONS
    } else {
        names::RESIDENT_OCCUPATIONS
    };
    Some(Person {
        id: random_id(rng, if citizen { '1' } else { '2' })?,
        name,
        gender: if female { Gender::Female } else { Gender::Male },
        birth_date: dates::random_day(rng, calendar, birth_years).ok()?,
        nationality: (&culture.nationality).into(),
        id_expiry: dates::random_day(rng, calendar, expiry_years).ok()?,
        mobile: random_mobile(rng)?,
        occupation_code: (*rng.pick(occupations)?).to_owned(),
    })
}

fn random_name(rng: &mut SandboxRng, culture: &Culture, female: bool) -> Option<FourPartName> {
    let first = rng.pick(if female { culture.female } else { culture.male })?;
    let father = rng.pick(culture.male)?;
    let grandfather = rng.pick(culture.male)?;
    let family = rng.pick(culture.family)?;
    Some(FourPartName {
        first: (*first).into(),
        father: (*father).into(),
        grandfather: (*grandfather).into(),
        family: (*family).into(),
    })
}
