//! The golden fixtures of DESIGN.md that every world contains (or, for the "missing"
//! ones, never contains), whatever the seed. Simulators and tests name these constants
//! instead of repeating literals; docs/sandbox.md lists them with the answers they give.

use rabt_core::{BirthMonth, Calendar, DateError, DualDate};

use super::cooperatives::BoardRole;
use super::dates;

/// A short address every world has: building 2929 in Riyadh.
pub const SHORT_ADDRESS_FOUND: &str = "RRRD2929";
/// Its building number.
pub const BUILDING_NUMBER: &str = "2929";
/// Its postal code (Al Olaya, Riyadh).
pub const POSTAL_CODE: &str = "12211";
/// Its additional number.
pub const ADDITIONAL_NUMBER: &str = "7788";
/// A short address no world has.
pub const SHORT_ADDRESS_MISSING: &str = "ZZZZ9999";

/// A day as a fixture table writes it: the calendar the record is kept in, and the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedDate {
    /// The calendar the agency keeps this date in (Hijri for citizens' records).
    pub calendar: Calendar,
    /// The year (AH for Hijri).
    pub year: u16,
    /// The month, 1–12.
    pub month: u8,
    /// The day of the month.
    pub day: u8,
}

impl FixedDate {
    /// A day of the Umm al-Qura calendar.
    pub const fn hijri(year: u16, month: u8, day: u8) -> Self {
        Self {
            calendar: Calendar::Hijri,
            year,
            month,
            day,
        }
    }

    /// A day of the Gregorian calendar.
    pub const fn gregorian(year: u16, month: u8, day: u8) -> Self {
        Self {
            calendar: Calendar::Gregorian,
            year,
            month,
            day,
        }
    }

    /// The same day in both calendars.
    pub fn to_dual(&self) -> Result<DualDate, DateError> {
        match self.calendar {
            Calendar::Hijri => dates::hijri(self.year, self.month, self.day),
            Calendar::Gregorian => dates::gregorian(self.year, self.month, self.day),
        }
    }

    /// The month of birth an identity service takes for someone born on this day
    /// (in this date's calendar, as `interior.identity.verify` asks for it).
    pub fn birth_month(&self) -> Result<BirthMonth, DateError> {
        BirthMonth::try_new(self.calendar, self.year, self.month)
    }
}

/// The golden citizen: Hijri birth month 07 of 1400 is found, any other is `MISMATCH`.
pub const CITIZEN_ID: &str = "1000000008";
/// The golden citizen's name, first, father, grandfather, family.
pub const CITIZEN_NAME_AR: [&str; 4] = ["محمد", "عبدالله", "سعد", "القحطاني"];
/// The same name in English.
pub const CITIZEN_NAME_EN: [&str; 4] = ["Mohammed", "Abdullah", "Saad", "Alqahtani"];
/// 5 Rajab 1400 (20 May 1980).
pub const CITIZEN_BIRTH: FixedDate = FixedDate::hijri(1400, 7, 5);
/// The golden citizen's mobile, in the international form.
pub const CITIZEN_MOBILE: &str = "966512345678";
/// The golden citizen's ID expires on 10 Muharram 1460 (15 February 2038).
pub const CITIZEN_ID_EXPIRY: FixedDate = FixedDate::hijri(1460, 1, 10);

/// The golden resident (iqama): Gregorian birth month 03 of 1985 is found.
pub const RESIDENT_ID: &str = "2000000006";
/// The golden resident's name, first, father, grandfather, family.
pub const RESIDENT_NAME_AR: [&str; 4] = ["أحمد", "محمود", "علي", "منصور"];
/// The same name in English.
pub const RESIDENT_NAME_EN: [&str; 4] = ["Ahmed", "Mahmoud", "Ali", "Mansour"];
/// 14 March 1985.
pub const RESIDENT_BIRTH: FixedDate = FixedDate::gregorian(1985, 3, 14);
/// The golden resident's nationality (ISO 3166 alpha-3): Egyptian.
pub const RESIDENT_NATIONALITY: &str = "EGY";
/// The golden resident's mobile, in the international form.
pub const RESIDENT_MOBILE: &str = "966550000006";
/// The golden resident's iqama expires on 14 March 2037.
pub const RESIDENT_ID_EXPIRY: FixedDate = FixedDate::gregorian(2037, 3, 14);

/// One seat of the golden board, with what a cooperative sends to have it checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardMember {
    /// The member's national ID.
    pub id: &'static str,
    /// The seat.
    pub role: BoardRole,
    /// The member's birth date (Hijri: they are citizens).
    pub birth: FixedDate,
}

/// The board of every fixed cooperative (7000000001–3 and the deliberate cases of
/// [`super::cases`]): the chairman is the golden citizen.
pub const BOARD: [BoardMember; 4] = [
    BoardMember {
        id: CITIZEN_ID,
        role: BoardRole::Chairman,
        birth: CITIZEN_BIRTH,
    },
    BoardMember {
        id: "1000000016",
        role: BoardRole::ViceChairman,
        birth: FixedDate::hijri(1392, 11, 20),
    },
    BoardMember {
        id: "1000000024",
        role: BoardRole::Treasurer,
        birth: FixedDate::hijri(1405, 2, 14),
    },
    BoardMember {
        id: "1000000032",
        role: BoardRole::Secretary,
        birth: FixedDate::hijri(1398, 9, 3),
    },
];

/// Fully compliant: the establishment check is PASS.
pub const COOP_COMPLIANT: &str = "7000000001";
/// Its municipal licence (ACTIVE).
pub const COOP_COMPLIANT_LICENCE: &str = "4000012345";
/// The building permit linked to that licence (ACTIVE).
pub const COOP_COMPLIANT_BUILDING_PERMIT: &str = "5000012345";
/// The chamber holding its membership: Riyadh.
pub const COOP_COMPLIANT_CHAMBER: u16 = 1;
/// Its membership number there (valid).
pub const COOP_COMPLIANT_MEMBERSHIP: &str = "123456";
/// Its labour office and sequence number: establishment `1-63293`.
pub const COOP_COMPLIANT_LABOR_OFFICE: u16 = 1;
/// See [`COOP_COMPLIANT_LABOR_OFFICE`].
pub const COOP_COMPLIANT_LABOR_SEQUENCE: u32 = 63293;

/// As [`COOP_COMPLIANT`], but its municipal licence is EXPIRED: the establishment
/// check is FAIL naming the licence check.
pub const COOP_EXPIRED_LICENCE: &str = "7000000002";
/// That EXPIRED licence.
pub const COOP_EXPIRED_LICENCE_LICENCE: &str = "4000023456";

/// As [`COOP_COMPLIANT`], but its Nitaqat band is RED: labour compliance `MISMATCH`.
pub const COOP_RED_BAND: &str = "7000000003";
/// Its labour office and sequence number: establishment `1-63295`.
pub const COOP_RED_BAND_LABOR_SEQUENCE: u32 = 63295;
