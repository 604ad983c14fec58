//! Names of the sandbox's people: real, common names of each nationality, in Arabic
//! script and in the English transliteration an identity record would carry. Only the
//! combinations are fictional.

use super::places::StaticName;
use super::rng::SandboxRng;

const fn n(ar: &'static str, en: &'static str) -> StaticName {
    StaticName { ar, en }
}

/// A nationality as a static table writes it.
#[derive(Debug)]
pub(crate) struct NationalityDef {
    /// ISO 3166-1 alpha-3.
    pub(crate) code: &'static str,
    /// ISO 3166-1 numeric.
    pub(crate) numeric: &'static str,
    pub(crate) name: StaticName,
}

/// The names one nationality's people are drawn from.
#[derive(Debug)]
pub(crate) struct Culture {
    pub(crate) nationality: NationalityDef,
    pub(crate) male: &'static [StaticName],
    pub(crate) female: &'static [StaticName],
    pub(crate) family: &'static [StaticName],
}

pub(crate) const SAUDI: Culture = Culture {
    nationality: NationalityDef {
        code: "SAU",
        numeric: "682",
        name: n("سعودي", "Saudi"),
    },
    male: &[
        n("محمد", "Mohammed"),
        n("عبدالله", "Abdullah"),
        n("عبدالرحمن", "Abdulrahman"),
        n("عبدالعزيز", "Abdulaziz"),
        n("فهد", "Fahd"),
        n("خالد", "Khalid"),
        n("سعد", "Saad"),
        n("سعود", "Saud"),
        n("فيصل", "Faisal"),
        n("سلطان", "Sultan"),
        n("ناصر", "Nasser"),
        n("تركي", "Turki"),
        n("بندر", "Bandar"),
        n("ماجد", "Majed"),
        n("سلمان", "Salman"),
        n("نايف", "Nayef"),
        n("يوسف", "Yousef"),
        n("إبراهيم", "Ibrahim"),
        n("أحمد", "Ahmed"),
        n("علي", "Ali"),
        n("عمر", "Omar"),
        n("حمد", "Hamad"),
        n("مشعل", "Mishal"),
        n("منصور", "Mansour"),
        n("عادل", "Adel"),
        n("طلال", "Talal"),
        n("وليد", "Waleed"),
        n("ياسر", "Yasser"),
        n("صالح", "Saleh"),
        n("سليمان", "Sulaiman"),
        n("راشد", "Rashed"),
        n("حسن", "Hassan"),
        n("عبدالإله", "Abdulelah"),
        n("مساعد", "Musaed"),
        n("زياد", "Ziyad"),
        n("بدر", "Badr"),
        n("هشام", "Hisham"),
        n("عثمان", "Othman"),
        n("عبدالمجيد", "Abdulmajeed"),
        n("نواف", "Nawaf"),
        n("متعب", "Mutaib"),
        n("حمود", "Hamoud"),
    ],
    female: &[
        n("نورة", "Noura"),
        n("سارة", "Sarah"),
        n("فاطمة", "Fatimah"),
        n("عائشة", "Aisha"),
        n("مريم", "Maryam"),
        n("هيفاء", "Haifa"),
        n("ريم", "Reem"),
        n("لطيفة", "Latifa"),
        n("منيرة", "Munira"),
        n("الجوهرة", "Aljawhara"),
        n("أمل", "Amal"),
        n("هند", "Hind"),
        n("شهد", "Shahad"),
        n("لمى", "Lama"),
        n("دانة", "Dana"),
        n("أسماء", "Asma"),
        n("خديجة", "Khadijah"),
        n("رهف", "Rahaf"),
        n("جواهر", "Jawaher"),
        n("نوف", "Nouf"),
        n("حصة", "Hessa"),
        n("عبير", "Abeer"),
        n("وعد", "Waad"),
        n("غادة", "Ghada"),
        n("مها", "Maha"),
        n("ليلى", "Laila"),
        n("سلمى", "Salma"),
    ],
    family: &[
        n("القحطاني", "Alqahtani"),
        n("العتيبي", "Alotaibi"),
        n("الدوسري", "Aldosari"),
        n("الشهري", "Alshehri"),
        n("الحربي", "Alharbi"),
        n("الغامدي", "Alghamdi"),
        n("الزهراني", "Alzahrani"),
        n("المطيري", "Almutairi"),
        n("الشمري", "Alshammari"),
        n("العنزي", "Alanazi"),
        n("اليامي", "Alyami"),
        n("السبيعي", "Alsubaie"),
        n("الرشيدي", "Alrashidi"),
        n("الجهني", "Aljohani"),
        n("المالكي", "Almalki"),
        n("الأسمري", "Alasmari"),
        n("العمري", "Alomari"),
        n("البلوي", "Albalawi"),
        n("الشهراني", "Alshahrani"),
        n("السهلي", "Alsahli"),
        n("الخالدي", "Alkhalidi"),
        n("التميمي", "Altamimi"),
        n("البقمي", "Albuqami"),
        n("الثبيتي", "Althubaiti"),
        n("الحارثي", "Alharthi"),
        n("السلمي", "Alsulami"),
        n("الشمراني", "Alshamrani"),
        n("الأحمدي", "Alahmadi"),
        n("القرني", "Alqarni"),
        n("العسيري", "Alasiri"),
        n("الرويلي", "Alruwaili"),
        n("الهاجري", "Alhajri"),
        n("المري", "Almarri"),
        n("العجمي", "Alajmi"),
        n("الفيفي", "Alfaifi"),
        n("الصاعدي", "Alsaedi"),
    ],
};

const EGYPTIAN: Culture = Culture {
    nationality: NationalityDef {
        code: "EGY",
        numeric: "818",
        name: n("مصري", "Egyptian"),
    },
    male: &[
        n("محمد", "Mohamed"),
        n("أحمد", "Ahmed"),
        n("محمود", "Mahmoud"),
        n("مصطفى", "Mostafa"),
        n("عمرو", "Amr"),
        n("كريم", "Karim"),
        n("طارق", "Tarek"),
        n("هاني", "Hany"),
        n("شريف", "Sherif"),
        n("إسلام", "Islam"),
        n("حسن", "Hassan"),
        n("علي", "Ali"),
        n("سيد", "Sayed"),
        n("وائل", "Wael"),
    ],
    female: &[
        n("منى", "Mona"),
        n("ياسمين", "Yasmin"),
        n("دينا", "Dina"),
        n("هبة", "Heba"),
        n("رانيا", "Rania"),
        n("نهى", "Noha"),
        n("إيمان", "Eman"),
        n("مروة", "Marwa"),
    ],
    family: &[
        n("منصور", "Mansour"),
        n("السيد", "Elsayed"),
        n("عبدالفتاح", "Abdelfattah"),
        n("الشربيني", "Elsherbiny"),
        n("حسانين", "Hassanein"),
        n("النجار", "Elnaggar"),
        n("عبدالحميد", "Abdelhamid"),
        n("فودة", "Fouda"),
        n("سالم", "Salem"),
        n("الشافعي", "Elshafei"),
        n("رضوان", "Radwan"),
    ],
};

const INDIAN: Culture = Culture {
    nationality: NationalityDef {
        code: "IND",
        numeric: "356",
        name: n("هندي", "Indian"),
    },
    male: &[
        n("راجيش", "Rajesh"),
        n("سوريش", "Suresh"),
        n("أنيل", "Anil"),
        n("سونيل", "Sunil"),
        n("راميش", "Ramesh"),
        n("فيجاي", "Vijay"),
        n("محمد", "Mohammed"),
        n("ديليب", "Dileep"),
        n("سانتوش", "Santhosh"),
        n("بيجو", "Biju"),
        n("جورج", "George"),
    ],
    female: &[
        n("بريا", "Priya"),
        n("لاكشمي", "Lakshmi"),
        n("أنيتا", "Anitha"),
        n("ديفيا", "Divya"),
    ],
    family: &[
        n("كومار", "Kumar"),
        n("ناير", "Nair"),
        n("بيلاي", "Pillai"),
        n("ريدي", "Reddy"),
        n("شارما", "Sharma"),
        n("سينغ", "Singh"),
        n("مينون", "Menon"),
        n("توماس", "Thomas"),
        n("فارغيز", "Varghese"),
        n("جوزيف", "Joseph"),
    ],
};

const PAKISTANI: Culture = Culture {
    nationality: NationalityDef {
        code: "PAK",
        numeric: "586",
        name: n("باكستاني", "Pakistani"),
    },
    male: &[
        n("محمد", "Muhammad"),
        n("عمران", "Imran"),
        n("آصف", "Asif"),
        n("طارق", "Tariq"),
        n("بلال", "Bilal"),
        n("عثمان", "Usman"),
        n("زبير", "Zubair"),
        n("وقاص", "Waqas"),
        n("نويد", "Naveed"),
        n("شاهد", "Shahid"),
        n("جاويد", "Javed"),
        n("عرفان", "Irfan"),
    ],
    female: &[
        n("عائشة", "Ayesha"),
        n("ثناء", "Sana"),
        n("فرح", "Farah"),
        n("سعدية", "Sadia"),
    ],
    family: &[
        n("خان", "Khan"),
        n("قريشي", "Qureshi"),
        n("ملك", "Malik"),
        n("شودري", "Chaudhry"),
        n("بت", "Butt"),
        n("أختر", "Akhtar"),
        n("حسين", "Hussain"),
        n("أعوان", "Awan"),
        n("رضا", "Raza"),
        n("إقبال", "Iqbal"),
    ],
};

const YEMENI: Culture = Culture {
    nationality: NationalityDef {
        code: "YEM",
        numeric: "887",
        name: n("يمني", "Yemeni"),
    },
    male: &[
        n("عبده", "Abdo"),
        n("علي", "Ali"),
        n("محمد", "Mohammed"),
        n("صالح", "Saleh"),
        n("عبدالله", "Abdullah"),
        n("فؤاد", "Fuad"),
        n("نبيل", "Nabil"),
        n("سمير", "Samir"),
        n("أحمد", "Ahmed"),
        n("ياسين", "Yaseen"),
        n("هائل", "Hayel"),
    ],
    female: &[
        n("أروى", "Arwa"),
        n("بلقيس", "Balqees"),
        n("سعاد", "Suad"),
        n("نجلاء", "Najla"),
    ],
    family: &[
        n("العولقي", "Alawlaqi"),
        n("الحضرمي", "Alhadrami"),
        n("باوزير", "Bawazir"),
        n("العمودي", "Alamoudi"),
        n("الصبري", "Alsabri"),
        n("الأهدل", "Alahdal"),
        n("باعشن", "Baeshen"),
        n("الشرعبي", "Alsharabi"),
    ],
};

const SUDANESE: Culture = Culture {
    nationality: NationalityDef {
        code: "SDN",
        numeric: "729",
        name: n("سوداني", "Sudanese"),
    },
    male: &[
        n("عثمان", "Osman"),
        n("الطيب", "Eltayeb"),
        n("مصطفى", "Mustafa"),
        n("عمر", "Omer"),
        n("محمد", "Mohamed"),
        n("حسن", "Hassan"),
        n("عوض", "Awad"),
        n("بابكر", "Babiker"),
        n("الصادق", "Elsadig"),
        n("عبدالرحيم", "Abdelrahim"),
    ],
    female: &[
        n("إقبال", "Igbal"),
        n("آمنة", "Amna"),
        n("سلمى", "Salma"),
        n("هالة", "Hala"),
    ],
    family: &[
        n("البشير", "Elbashir"),
        n("الأمين", "Elamin"),
        n("المهدي", "Elmahdi"),
        n("الطاهر", "Eltahir"),
        n("النور", "Elnour"),
        n("إدريس", "Idris"),
        n("الحسن", "Elhassan"),
        n("الفكي", "Elfaki"),
    ],
};

const FILIPINO: Culture = Culture {
    nationality: NationalityDef {
        code: "PHL",
        numeric: "608",
        name: n("فلبيني", "Filipino"),
    },
    male: &[
        n("خوسيه", "Jose"),
        n("خوان", "Juan"),
        n("مارك", "Mark"),
        n("جون", "John"),
        n("رامون", "Ramon"),
        n("رولاندو", "Rolando"),
        n("إدواردو", "Eduardo"),
        n("مايكل", "Michael"),
        n("أنتونيو", "Antonio"),
    ],
    female: &[
        n("ماريا", "Maria"),
        n("غريس", "Grace"),
        n("جوي", "Joy"),
        n("روزالي", "Rosalie"),
        n("كريستين", "Kristine"),
    ],
    family: &[
        n("سانتوس", "Santos"),
        n("رييس", "Reyes"),
        n("كروز", "Cruz"),
        n("باوتيستا", "Bautista"),
        n("غارسيا", "Garcia"),
        n("ميندوزا", "Mendoza"),
        n("فيلانويفا", "Villanueva"),
        n("راموس", "Ramos"),
        n("أكينو", "Aquino"),
    ],
};

/// Residents' nationalities, each with its weight in the world's workforce.
const RESIDENT_CULTURES: &[(&Culture, u64)] = &[
    (&EGYPTIAN, 22),
    (&INDIAN, 22),
    (&PAKISTANI, 18),
    (&YEMENI, 14),
    (&SUDANESE, 12),
    (&FILIPINO, 12),
];

/// Every nationality of the world, Saudi first.
pub(crate) fn cultures() -> impl Iterator<Item = &'static Culture> {
    std::iter::once(&SAUDI).chain(RESIDENT_CULTURES.iter().map(|(c, _)| *c))
}

/// The culture of the nationality `code` (ISO alpha-3), if the world has it.
pub(crate) fn culture(code: &str) -> Option<&'static Culture> {
    cultures().find(|c| c.nationality.code == code)
}

/// A resident's nationality, by weight.
pub(crate) fn pick_resident_culture(rng: &mut SandboxRng) -> Option<&'static Culture> {
    let total: u64 = RESIDENT_CULTURES.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (culture, weight) in RESIDENT_CULTURES {
        if roll < *weight {
            return Some(culture);
        }
        roll -= weight;
    }
    None
}

/// ISCO-08 occupation codes of citizens: managers, professionals, clerks, drivers.
pub(crate) const CITIZEN_OCCUPATIONS: &[&str] = &[
    "1120", "1211", "1324", "2142", "2211", "2221", "2330", "2411", "2421", "3313", "4110", "5223",
    "8322",
];

/// ISCO-08 occupation codes of residents: cooks, bakers, butchers, shop and kitchen
/// workers, drivers, builders, cleaners, fishery workers, a few professionals.
pub(crate) const RESIDENT_OCCUPATIONS: &[&str] = &[
    "5120", "7512", "7511", "9412", "5223", "8322", "7112", "9112", "6222", "2411", "2142",
];
