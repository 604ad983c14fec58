//! The places of the sandbox: real regions, cities, district and street names, with
//! plausible postal codes and coordinates. Only the combinations (which building sits on
//! which street in which district) are fictional.
//!
//! Short address letters follow one scheme so that a reader can tell where an address
//! is: region letter, city letter, then a two-letter district code. No region uses `Z`,
//! so `ZZZZ9999` (the golden "not found") can never be generated.

/// A name in Arabic and English, as written in a static table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StaticName {
    pub(crate) ar: &'static str,
    pub(crate) en: &'static str,
}

const fn n(ar: &'static str, en: &'static str) -> StaticName {
    StaticName { ar, en }
}

/// An administrative region (منطقة).
#[derive(Debug)]
pub(crate) struct RegionDef {
    /// First letter of every short address in the region.
    pub(crate) letter: u8,
    /// SPL-style numeric region id.
    pub(crate) id: u32,
    pub(crate) name: StaticName,
    pub(crate) cities: &'static [CityDef],
}

/// A city of a region.
#[derive(Debug)]
pub(crate) struct CityDef {
    /// Second letter of every short address in the city.
    pub(crate) letter: u8,
    /// SPL-style numeric city id.
    pub(crate) id: u32,
    pub(crate) name: StaticName,
    pub(crate) districts: &'static [DistrictDef],
}

/// A district (حي) of a city: one postal code, a centre, and a two-letter code.
#[derive(Debug)]
pub(crate) struct DistrictDef {
    /// Third and fourth letters of every short address in the district.
    pub(crate) code: &'static str,
    pub(crate) name: StaticName,
    pub(crate) postal_code: &'static str,
    pub(crate) lat: f64,
    pub(crate) lng: f64,
}

const fn d(
    code: &'static str,
    ar: &'static str,
    en: &'static str,
    postal_code: &'static str,
    lat: f64,
    lng: f64,
) -> DistrictDef {
    DistrictDef {
        code,
        name: n(ar, en),
        postal_code,
        lat,
        lng,
    }
}

/// Streets drawn for generated addresses (any street may appear in any city: the
/// combinations are fictional, the names are common Saudi street names).
pub(crate) const STREETS: &[StaticName] = &[
    n("طريق الملك فهد", "King Fahd Road"),
    n("طريق الملك عبدالعزيز", "King Abdulaziz Road"),
    n("طريق الملك عبدالله", "King Abdullah Road"),
    n("شارع الأمير سلطان", "Prince Sultan Street"),
    n(
        "شارع الأمير محمد بن عبدالعزيز",
        "Prince Mohammed Bin Abdulaziz Street",
    ),
    n("شارع عمر بن الخطاب", "Omar Ibn Al Khattab Street"),
    n("شارع عثمان بن عفان", "Othman Ibn Affan Street"),
    n("طريق أبو بكر الصديق", "Abu Bakr Al Siddiq Road"),
    n("شارع علي بن أبي طالب", "Ali Ibn Abi Talib Street"),
    n("شارع التخصصي", "Al Takhassusi Street"),
    n("شارع ابن خلدون", "Ibn Khaldun Street"),
    n("شارع الخنساء", "Al Khansa Street"),
    n("شارع حسان بن ثابت", "Hassan Ibn Thabit Street"),
    n("شارع الإمام سعود", "Imam Saud Street"),
    n("شارع الستين", "Al Sitteen Street"),
    n("شارع الأربعين", "Al Arbaeen Street"),
    n("شارع المدينة المنورة", "Al Madinah Al Munawwarah Street"),
    n("شارع الملك خالد", "King Khalid Street"),
    n("شارع الأمير ماجد", "Prince Majid Street"),
    n("شارع ابن سينا", "Ibn Sina Street"),
    n("شارع الفرزدق", "Al Farazdaq Street"),
    n("شارع الرازي", "Al Razi Street"),
];

/// The regions of the sandbox. Letters: region letters are unique, city letters are
/// unique within a region, district codes unique within a city (a unit test checks).
pub(crate) const REGIONS: &[RegionDef] = &[
    RegionDef {
        letter: b'R',
        id: 1,
        name: n("منطقة الرياض", "Riyadh Region"),
        cities: &[
            CityDef {
                letter: b'R',
                id: 3,
                name: n("الرياض", "Riyadh"),
                districts: &[
                    d("RD", "العليا", "Al Olaya", "12211", 24.6911, 46.6853),
                    d("MZ", "الملز", "Al Malaz", "12836", 24.6660, 46.7330),
                    d("MR", "المربع", "Al Murabba", "12613", 24.6470, 46.7110),
                    d(
                        "SL",
                        "السليمانية",
                        "Al Sulimaniyah",
                        "12245",
                        24.7050,
                        46.7000,
                    ),
                    d("NK", "النخيل", "Al Nakheel", "12382", 24.7470, 46.6330),
                    d("YS", "الياسمين", "Al Yasmin", "13325", 24.8250, 46.6410),
                    d("RW", "الروضة", "Al Rawdah", "13211", 24.7350, 46.7700),
                    d("HT", "حطين", "Hittin", "13512", 24.7600, 46.6000),
                ],
            },
            CityDef {
                letter: b'K',
                id: 21,
                name: n("الخرج", "Al Kharj"),
                districts: &[
                    d("KL", "الخالدية", "Al Khalidiyah", "16278", 24.1550, 47.3200),
                    d("NH", "النهضة", "Al Nahdah", "16273", 24.1400, 47.3300),
                ],
            },
        ],
    },
    RegionDef {
        letter: b'M',
        id: 2,
        name: n("منطقة مكة المكرمة", "Makkah Region"),
        cities: &[
            CityDef {
                letter: b'J',
                id: 18,
                name: n("جدة", "Jeddah"),
                districts: &[
                    d("HM", "الحمراء", "Al Hamra", "23212", 21.5120, 39.1720),
                    d("RW", "الروضة", "Al Rawdah", "23435", 21.5650, 39.1600),
                    d("SF", "الصفا", "Al Safa", "23456", 21.5850, 39.2100),
                    d("ZH", "الزهراء", "Al Zahra", "23425", 21.6000, 39.1450),
                    d("BL", "البلد", "Al Balad", "22235", 21.4850, 39.1870),
                ],
            },
            CityDef {
                letter: b'M',
                id: 6,
                name: n("مكة المكرمة", "Makkah"),
                districts: &[
                    d("AZ", "العزيزية", "Al Aziziyah", "24243", 21.4000, 39.8700),
                    d("SH", "الشوقية", "Al Shawqiyah", "24351", 21.3870, 39.7870),
                    d("AW", "العوالي", "Al Awali", "24381", 21.3700, 39.8600),
                    d("ZH", "الزاهر", "Al Zahir", "24231", 21.4400, 39.8100),
                ],
            },
            CityDef {
                letter: b'T',
                id: 9,
                name: n("الطائف", "Taif"),
                districts: &[
                    d("SH", "شهار", "Shihar", "26523", 21.2450, 40.4200),
                    d("FS", "الفيصلية", "Al Faisaliyah", "26514", 21.2800, 40.4100),
                    d("HW", "الحوية", "Al Hawiyah", "26571", 21.4300, 40.4800),
                ],
            },
        ],
    },
    RegionDef {
        letter: b'E',
        id: 5,
        name: n("المنطقة الشرقية", "Eastern Province"),
        cities: &[
            CityDef {
                letter: b'D',
                id: 13,
                name: n("الدمام", "Dammam"),
                districts: &[
                    d("FS", "الفيصلية", "Al Faisaliyah", "32272", 26.4000, 50.0800),
                    d("SH", "الشاطئ", "Al Shati", "32413", 26.4700, 50.1200),
                    d("MZ", "المزروعية", "Al Mazruiyah", "32414", 26.4200, 50.0900),
                    d("AD", "العدامة", "Al Adamah", "32241", 26.4350, 50.1000),
                ],
            },
            CityDef {
                letter: b'K',
                id: 31,
                name: n("الخبر", "Al Khobar"),
                districts: &[
                    d("AQ", "العقربية", "Al Aqrabiyah", "34446", 26.2900, 50.2000),
                    d("TQ", "الثقبة", "Al Thuqbah", "34623", 26.2600, 50.1900),
                    d("RK", "الراكة", "Al Rakah", "34227", 26.3500, 50.1900),
                ],
            },
            CityDef {
                letter: b'H',
                id: 37,
                name: n("الهفوف", "Al Hofuf"),
                districts: &[
                    d("MZ", "المزروعية", "Al Mazrouia", "36361", 25.3700, 49.5700),
                    d("NT", "النعاثل", "Al Naathel", "36421", 25.3800, 49.5900),
                ],
            },
        ],
    },
    RegionDef {
        letter: b'D',
        id: 3,
        name: n("منطقة المدينة المنورة", "Madinah Region"),
        cities: &[CityDef {
            letter: b'M',
            id: 14,
            name: n("المدينة المنورة", "Madinah"),
            districts: &[
                d("QB", "قباء", "Quba", "42318", 24.4400, 39.6170),
                d("AZ", "العزيزية", "Al Aziziyah", "42381", 24.4200, 39.6000),
                d("UY", "العيون", "Al Uyun", "42391", 24.5200, 39.5800),
                d("KL", "الخالدية", "Al Khalidiyah", "42331", 24.4900, 39.6400),
            ],
        }],
    },
    RegionDef {
        letter: b'Q',
        id: 4,
        name: n("منطقة القصيم", "Qassim Region"),
        cities: &[
            CityDef {
                letter: b'B',
                id: 11,
                name: n("بريدة", "Buraydah"),
                districts: &[
                    d("IS", "الإسكان", "Al Iskan", "52384", 26.3600, 43.9600),
                    d("RY", "الريان", "Al Rayyan", "52367", 26.3400, 43.9900),
                    d("SF", "الصفراء", "Al Safra", "52342", 26.3300, 43.9300),
                ],
            },
            CityDef {
                letter: b'U',
                id: 42,
                name: n("عنيزة", "Unaizah"),
                districts: &[
                    d("SL", "الصالحية", "Al Salhiyah", "56437", 26.0900, 43.9900),
                    d("KL", "الخالدية", "Al Khalidiyah", "56219", 26.0800, 43.9800),
                ],
            },
        ],
    },
    RegionDef {
        letter: b'A',
        id: 6,
        name: n("منطقة عسير", "Asir Region"),
        cities: &[
            CityDef {
                letter: b'A',
                id: 15,
                name: n("أبها", "Abha"),
                districts: &[
                    d("MF", "المفتاحة", "Al Muftaha", "62521", 18.2200, 42.5050),
                    d("MN", "المنسك", "Al Mansak", "62461", 18.2300, 42.5100),
                    d("KL", "الخالدية", "Al Khalidiyah", "62413", 18.2100, 42.5200),
                ],
            },
            CityDef {
                letter: b'K',
                id: 46,
                name: n("خميس مشيط", "Khamis Mushait"),
                districts: &[
                    d("DH", "الدوحة", "Al Dawhah", "62441", 18.3000, 42.7300),
                    d("RB", "الربوة", "Al Rabwah", "62433", 18.3100, 42.7400),
                ],
            },
        ],
    },
    RegionDef {
        letter: b'T',
        id: 7,
        name: n("منطقة تبوك", "Tabuk Region"),
        cities: &[CityDef {
            letter: b'T',
            id: 1,
            name: n("تبوك", "Tabuk"),
            districts: &[
                d("MJ", "المروج", "Al Muruj", "47913", 28.4000, 36.5700),
                d("FS", "الفيصلية", "Al Faisaliyah", "47911", 28.3900, 36.5500),
                d("RW", "الروضة", "Al Rawdah", "47914", 28.4100, 36.5900),
            ],
        }],
    },
    RegionDef {
        letter: b'H',
        id: 8,
        name: n("منطقة حائل", "Hail Region"),
        cities: &[CityDef {
            letter: b'H',
            id: 10,
            name: n("حائل", "Hail"),
            districts: &[
                d("NQ", "النقرة", "Al Naqrah", "55431", 27.5200, 41.6900),
                d("SM", "السمراء", "Al Samra", "55433", 27.5000, 41.7000),
                d("AZ", "العزيزية", "Al Aziziyah", "55421", 27.5300, 41.7200),
            ],
        }],
    },
];
