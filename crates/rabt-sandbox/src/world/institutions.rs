//! The institutions behind each city of the sandbox (its municipality, chamber of
//! commerce, labour office and CR prefix), and the activities and professions that
//! licences and health certificates name. Names are real; codes are the sandbox's own
//! where the real ones are not public.

use super::cooperatives::CooperativeKind;
use super::places::StaticName;
use super::records::Activity;

const fn n(ar: &'static str, en: &'static str) -> StaticName {
    StaticName { ar, en }
}

/// Who serves the establishments of one city.
#[derive(Debug)]
pub(crate) struct CityInstitutions {
    /// The SPL city id of [`super::Address::city_id`].
    pub(crate) city_id: u32,
    /// The municipality (أمانة or بلدية) that issues its licences.
    pub(crate) municipality: StaticName,
    /// The chamber of commerce its establishments join.
    pub(crate) chamber_code: u16,
    pub(crate) chamber: StaticName,
    /// The MHRSD labour office of its establishments.
    pub(crate) labor_office_id: u16,
    /// The first four digits of its legacy CR numbers.
    pub(crate) cr_prefix: &'static str,
}

const fn city(
    city_id: u32,
    municipality: StaticName,
    chamber_code: u16,
    chamber: StaticName,
    labor_office_id: u16,
    cr_prefix: &'static str,
) -> CityInstitutions {
    CityInstitutions {
        city_id,
        municipality,
        chamber_code,
        chamber,
        labor_office_id,
        cr_prefix,
    }
}

const RIYADH_CHAMBER: StaticName = n("غرفة الرياض", "Riyadh Chamber");
const ASHARQIA_CHAMBER: StaticName = n("غرفة الشرقية", "Asharqia Chamber");
const EASTERN_MUNICIPALITY: StaticName =
    n("أمانة المنطقة الشرقية", "Eastern Province Municipality");
const QASSIM_CHAMBER: StaticName = n("غرفة القصيم", "Qassim Chamber");
const ABHA_CHAMBER: StaticName = n("غرفة أبها", "Abha Chamber");

/// One entry per city of [`super::places::REGIONS`] (a test keeps them in step).
pub(crate) const CITIES: &[CityInstitutions] = &[
    city(
        3,
        n("أمانة منطقة الرياض", "Riyadh Municipality"),
        1,
        RIYADH_CHAMBER,
        1,
        "1010",
    ),
    city(
        21,
        n("بلدية محافظة الخرج", "Al Kharj Municipality"),
        12,
        n("غرفة الخرج", "Al Kharj Chamber"),
        12,
        "1011",
    ),
    city(
        18,
        n("أمانة محافظة جدة", "Jeddah Municipality"),
        2,
        n("غرفة جدة", "Jeddah Chamber"),
        2,
        "4030",
    ),
    city(
        6,
        n("أمانة العاصمة المقدسة", "Makkah Municipality"),
        3,
        n("غرفة مكة المكرمة", "Makkah Chamber"),
        3,
        "4031",
    ),
    city(
        9,
        n("أمانة محافظة الطائف", "Taif Municipality"),
        10,
        n("غرفة الطائف", "Taif Chamber"),
        10,
        "4032",
    ),
    city(13, EASTERN_MUNICIPALITY, 4, ASHARQIA_CHAMBER, 4, "2050"),
    city(31, EASTERN_MUNICIPALITY, 4, ASHARQIA_CHAMBER, 14, "2051"),
    city(
        37,
        n("أمانة الأحساء", "Al Ahsa Municipality"),
        11,
        n("غرفة الأحساء", "Al Ahsa Chamber"),
        11,
        "2250",
    ),
    city(
        14,
        n("أمانة منطقة المدينة المنورة", "Madinah Municipality"),
        5,
        n("غرفة المدينة المنورة", "Madinah Chamber"),
        5,
        "4650",
    ),
    city(
        11,
        n("أمانة منطقة القصيم", "Qassim Municipality"),
        6,
        QASSIM_CHAMBER,
        6,
        "1131",
    ),
    city(
        42,
        n("بلدية محافظة عنيزة", "Unaizah Municipality"),
        6,
        QASSIM_CHAMBER,
        13,
        "1128",
    ),
    city(
        15,
        n("أمانة منطقة عسير", "Asir Municipality"),
        7,
        ABHA_CHAMBER,
        7,
        "5850",
    ),
    city(
        46,
        n("بلدية محافظة خميس مشيط", "Khamis Mushait Municipality"),
        7,
        ABHA_CHAMBER,
        15,
        "5855",
    ),
    city(
        1,
        n("أمانة منطقة تبوك", "Tabuk Municipality"),
        8,
        n("غرفة تبوك", "Tabuk Chamber"),
        8,
        "3550",
    ),
    city(
        10,
        n("أمانة منطقة حائل", "Hail Municipality"),
        9,
        n("غرفة حائل", "Hail Chamber"),
        9,
        "3350",
    ),
];

/// The institutions of a city, by SPL city id.
pub(crate) fn of_city(city_id: u32) -> Option<&'static CityInstitutions> {
    CITIES.iter().find(|c| c.city_id == city_id)
}

/// Riyadh's: the fixed cooperatives all sit there.
pub(crate) fn riyadh() -> Option<&'static CityInstitutions> {
    of_city(3)
}

/// Cities on the coast, where fisheries cooperatives are: Jeddah, Dammam, Al Khobar.
pub(crate) const COASTAL_CITY_IDS: &[u32] = &[18, 13, 31];

/// An ISIC4 activity as a static table writes it.
pub(crate) type ActivityDef = (&'static str, StaticName);

const FOOD_RETAIL: ActivityDef = (
    "472110",
    n("البيع بالتجزئة للمواد الغذائية", "Retail sale of food"),
);
const CLEANING: ActivityDef = (
    "812110",
    n("التنظيف العام للمباني", "General cleaning of buildings"),
);
const RESIDENTIAL_CONSTRUCTION: ActivityDef = (
    "410010",
    n(
        "تشييد المباني السكنية",
        "Construction of residential buildings",
    ),
);

/// What a building permit allows.
pub(crate) const BUILDING_PERMIT_ACTIVITIES: &[ActivityDef] = &[RESIDENTIAL_CONSTRUCTION];

const SUPERMARKET: ActivityDef = (
    "471110",
    n(
        "البيع بالتجزئة في المتاجر الكبيرة",
        "Retail sale in supermarkets",
    ),
);
const DATE_PALMS: ActivityDef = (
    "012210",
    n("زراعة النخيل وإنتاج التمور", "Growing of date palms"),
);
const AGRICULTURAL_WHOLESALE: ActivityDef = (
    "462010",
    n(
        "البيع بالجملة للمنتجات الزراعية",
        "Wholesale of agricultural products",
    ),
);
const MARINE_FISHING: ActivityDef = ("031110", n("صيد الأسماك البحرية", "Marine fishing"));
const FISH_RETAIL: ActivityDef = ("472130", n("البيع بالتجزئة للأسماك", "Retail sale of fish"));
const REAL_ESTATE: ActivityDef = (
    "681010",
    n("بيع وشراء العقارات", "Buying and selling of real estate"),
);
const FACILITIES: ActivityDef = (
    "811010",
    n("خدمات دعم المرافق", "Combined facilities support"),
);
const FREIGHT: ActivityDef = (
    "492310",
    n("النقل البري للبضائع", "Freight transport by road"),
);
const BUSES: ActivityDef = (
    "492210",
    n("نقل الركاب بالحافلات", "Passenger transport by bus"),
);
const BAKERY: ActivityDef = (
    "107110",
    n("صناعة المخبوزات", "Manufacture of bakery products"),
);
const HANDWOVEN: ActivityDef = (
    "139910",
    n(
        "صناعة المنسوجات اليدوية",
        "Manufacture of handwoven textiles",
    ),
);
const RESTAURANTS: ActivityDef = ("561010", n("المطاعم", "Restaurants"));
const MEMBERSHIP_ORGANISATIONS: ActivityDef = (
    "949910",
    n(
        "أنشطة المنظمات ذات العضوية",
        "Activities of membership organisations",
    ),
);

/// The activities a cooperative's commercial licence lists, by kind.
pub(crate) fn activities(kind: CooperativeKind) -> &'static [ActivityDef] {
    const MULTI_PURPOSE: &[ActivityDef] = &[FOOD_RETAIL, CLEANING];
    const AGRICULTURAL: &[ActivityDef] = &[DATE_PALMS, AGRICULTURAL_WHOLESALE];
    const CONSUMER: &[ActivityDef] = &[SUPERMARKET, FOOD_RETAIL];
    const FISHERIES: &[ActivityDef] = &[MARINE_FISHING, FISH_RETAIL];
    const HOUSING: &[ActivityDef] = &[RESIDENTIAL_CONSTRUCTION, REAL_ESTATE];
    const SERVICES: &[ActivityDef] = &[CLEANING, FACILITIES];
    const TRANSPORT: &[ActivityDef] = &[FREIGHT, BUSES];
    const PRODUCTIVE: &[ActivityDef] = &[BAKERY, HANDWOVEN];
    const NEIGHBOURHOOD: &[ActivityDef] = &[FOOD_RETAIL, RESTAURANTS];
    const OTHER: &[ActivityDef] = &[MEMBERSHIP_ORGANISATIONS];
    match kind {
        CooperativeKind::MultiPurpose => MULTI_PURPOSE,
        CooperativeKind::Agricultural => AGRICULTURAL,
        CooperativeKind::Consumer => CONSUMER,
        CooperativeKind::Fisheries => FISHERIES,
        CooperativeKind::Housing => HOUSING,
        CooperativeKind::Services => SERVICES,
        CooperativeKind::Transport => TRANSPORT,
        CooperativeKind::Productive => PRODUCTIVE,
        CooperativeKind::Neighbourhood => NEIGHBOURHOOD,
        CooperativeKind::Other => OTHER,
    }
}

/// The activities of a table, as records hold them.
pub(crate) fn to_activities(defs: &[ActivityDef]) -> Vec<Activity> {
    defs.iter()
        .map(|(code, name)| Activity {
            code: (*code).to_owned(),
            name: (*name).into(),
        })
        .collect()
}

/// The professions of food-handling workers (ISCO-08), which health certificates name.
pub(crate) const FOOD_PROFESSIONS: &[ActivityDef] = &[
    ("5120", n("طباخ", "Cook")),
    ("7512", n("خباز", "Baker")),
    ("7511", n("جزار", "Butcher")),
    ("9412", n("مساعد مطبخ", "Kitchen helper")),
    ("5223", n("بائع مواد غذائية", "Food sales assistant")),
    ("6222", n("صياد أسماك", "Fisherman")),
];

/// The food profession of an occupation code, if it is one.
pub(crate) fn food_profession(occupation_code: &str) -> Option<&'static ActivityDef> {
    FOOD_PROFESSIONS
        .iter()
        .find(|(code, _)| *code == occupation_code)
}

/// How a cooperative's name says its kind: "جمعية النخيل التعاونية الزراعية" /
/// "Al Nakheel Agricultural Cooperative Society". Empty for OTHER and NEIGHBOURHOOD
/// (neighbourhood cooperatives are named after their district).
pub(crate) fn kind_in_name(kind: CooperativeKind) -> StaticName {
    match kind {
        CooperativeKind::MultiPurpose => n("متعددة الأغراض", "Multi-Purpose"),
        CooperativeKind::Agricultural => n("الزراعية", "Agricultural"),
        CooperativeKind::Consumer => n("الاستهلاكية", "Consumer"),
        CooperativeKind::Fisheries => n("لصيد الأسماك", "Fisheries"),
        CooperativeKind::Housing => n("للإسكان", "Housing"),
        CooperativeKind::Services => n("للخدمات", "Services"),
        CooperativeKind::Transport => n("للنقل", "Transport"),
        CooperativeKind::Productive => n("الإنتاجية", "Productive"),
        CooperativeKind::Neighbourhood | CooperativeKind::Other => n("", ""),
    }
}

/// Words cooperatives are named with (النخيل "the palms", الوفاء "loyalty"…).
pub(crate) const COOPERATIVE_WORDS: &[StaticName] = &[
    n("النخيل", "Al Nakheel"),
    n("الوفاء", "Al Wafa"),
    n("الخير", "Al Khair"),
    n("البركة", "Al Baraka"),
    n("التعاون", "Al Taawun"),
    n("الأمل", "Al Amal"),
    n("النماء", "Al Namaa"),
    n("الريادة", "Al Riyada"),
    n("الفجر", "Al Fajr"),
    n("الهدى", "Al Huda"),
    n("الإخاء", "Al Ikha"),
    n("السنابل", "Al Sanabel"),
    n("الواحة", "Al Waha"),
    n("الساحل", "Al Sahel"),
    n("الشروق", "Al Shurooq"),
    n("الرواد", "Al Ruwad"),
    n("الأصالة", "Al Asala"),
    n("العطاء", "Al Ataa"),
    n("التكافل", "Al Takaful"),
    n("الوئام", "Al Wiam"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::places::REGIONS;

    #[test]
    fn every_city_of_the_places_has_its_institutions() {
        let cities: Vec<u32> = REGIONS
            .iter()
            .flat_map(|r| r.cities.iter().map(|c| c.id))
            .collect();
        assert_eq!(cities.len(), CITIES.len());
        for id in cities {
            let city = of_city(id).unwrap();
            assert_eq!(city.cr_prefix.len(), 4);
            assert!((1..=999).contains(&city.chamber_code));
        }
        for id in COASTAL_CITY_IDS {
            assert!(of_city(*id).is_some());
        }
    }

    #[test]
    fn every_kind_has_activities_and_food_professions_are_isco_codes() {
        for kind in CooperativeKind::ALL {
            assert!(!activities(*kind).is_empty(), "{kind:?}");
        }
        for (code, _) in FOOD_PROFESSIONS {
            assert!(code.len() == 4 && food_profession(code).is_some());
        }
    }
}
