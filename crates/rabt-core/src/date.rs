//! Dates in both calendars. Every date Rabt returns carries its Gregorian and its Umm
//! al-Qura Hijri form, `{"gregorian": "YYYY-MM-DD", "hijri": "YYYY-MM-DD"}`, because
//! Saudi agencies use both (Hijri for citizens' records, Gregorian for residents').
//!
//! The conversion uses ICU4X's `icu_calendar`, whose Umm al-Qura month lengths come from
//! KACST's published tables for 1300–1600 AH. Dates outside that range are refused
//! rather than guessed with an arithmetic approximation.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use icu_calendar::cal::Hijri;
use icu_calendar::{Date, Iso};
use serde::{Deserialize, Serialize};

/// The calendars Rabt speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Calendar {
    /// Umm al-Qura, the official Hijri calendar of the Kingdom.
    Hijri,
    /// The proleptic Gregorian calendar.
    Gregorian,
}

/// Why a date is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not a real day of that calendar (e.g. 30th of a 29-day Hijri month).
    #[error("{0} is not a valid {1:?} date")]
    Invalid(String, Calendar),
    /// Outside the years whose Umm al-Qura table is known (1300–1600 AH,
    /// 1882-11-12 – 2174-11-25).
    #[error("{0} is outside the supported range (1300–1600 AH, 1882-11-12 to 2174-11-25)")]
    OutOfRange(String),
    /// Text that is not `YYYY-MM-DD`.
    #[error("`{0}` is not a date of the form YYYY-MM-DD")]
    Syntax(String),
}

const MIN_HIJRI_YEAR: u16 = 1300;
const MAX_HIJRI_YEAR: u16 = 1600;

/// A day of the Umm al-Qura Hijri calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HijriDate {
    year: u16,
    month: u8,
    day: u8,
    /// The same day in the Gregorian calendar, computed once when the date is made.
    gregorian: NaiveDate,
}

impl HijriDate {
    /// A Hijri date, checked against the month lengths of the Umm al-Qura table.
    pub fn try_new(year: u16, month: u8, day: u8) -> Result<Self, DateError> {
        let text = format!("{year:04}-{month:02}-{day:02}");
        if !(MIN_HIJRI_YEAR..=MAX_HIJRI_YEAR).contains(&year) {
            return Err(DateError::OutOfRange(text));
        }
        let hijri = Date::try_new_hijri_with_calendar(
            i32::from(year),
            month,
            day,
            Hijri::new_umm_al_qura(),
        )
        .map_err(|_| DateError::Invalid(text.clone(), Calendar::Hijri))?;
        let gregorian = iso_to_naive(&hijri.to_calendar(Iso)).ok_or(DateError::OutOfRange(text))?;
        Ok(Self {
            year,
            month,
            day,
            gregorian,
        })
    }

    /// The year (AH).
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1–12 (1 = Muharram, 9 = Ramadan).
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, 1–30.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The same day in the Gregorian calendar.
    pub fn to_gregorian(&self) -> NaiveDate {
        self.gregorian
    }

    /// The Hijri day of a Gregorian date within the supported range.
    pub fn from_gregorian(date: NaiveDate) -> Result<Self, DateError> {
        let text = date.format("%Y-%m-%d").to_string();
        let month = u8::try_from(date.month())
            .map_err(|_| DateError::Invalid(text.clone(), Calendar::Gregorian))?;
        let day = u8::try_from(date.day())
            .map_err(|_| DateError::Invalid(text.clone(), Calendar::Gregorian))?;
        let iso = Date::try_new_iso(date.year(), month, day)
            .map_err(|_| DateError::Invalid(text.clone(), Calendar::Gregorian))?;
        let hijri = iso.to_calendar(Hijri::new_umm_al_qura());
        let year = hijri.era_year().year;
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (MIN_HIJRI_YEAR..=MAX_HIJRI_YEAR).contains(y))
            .ok_or(DateError::OutOfRange(text))?;
        Ok(Self {
            year,
            month: hijri.month().ordinal,
            day: hijri.day_of_month().0,
            gregorian: date,
        })
    }
}

fn iso_to_naive(iso: &Date<Iso>) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        iso.era_year().extended_year,
        u32::from(iso.month().ordinal),
        u32::from(iso.day_of_month().0),
    )
}

impl fmt::Display for HijriDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Splits `YYYY-MM-DD` into numbers.
fn parse_ymd(s: &str) -> Option<(u16, u8, u8)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Some((
        s[0..4].parse().ok()?,
        s[5..7].parse().ok()?,
        s[8..10].parse().ok()?,
    ))
}

impl FromStr for HijriDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (y, m, d) =
            parse_ymd(s).ok_or_else(|| DateError::Syntax(s.chars().take(32).collect()))?;
        HijriDate::try_new(y, m, d)
    }
}

impl TryFrom<String> for HijriDate {
    type Error = DateError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HijriDate> for String {
    fn from(d: HijriDate) -> String {
        d.to_string()
    }
}

/// One day written in both calendars, as every date in Rabt's answers is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DualDate {
    /// `YYYY-MM-DD`, Gregorian.
    pub gregorian: NaiveDate,
    /// `YYYY-MM-DD`, Umm al-Qura.
    pub hijri: HijriDate,
}

impl DualDate {
    /// From a Gregorian date.
    pub fn from_gregorian(gregorian: NaiveDate) -> Result<Self, DateError> {
        Ok(Self {
            gregorian,
            hijri: HijriDate::from_gregorian(gregorian)?,
        })
    }

    /// From a Hijri date.
    pub fn from_hijri(hijri: HijriDate) -> Self {
        Self {
            gregorian: hijri.to_gregorian(),
            hijri,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDualDate {
    gregorian: NaiveDate,
    hijri: HijriDate,
}

impl<'de> Deserialize<'de> for DualDate {
    /// Accepts only a pair whose two halves name the same day.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawDualDate::deserialize(deserializer)?;
        let converted =
            DualDate::from_gregorian(raw.gregorian).map_err(serde::de::Error::custom)?;
        if converted.hijri != raw.hijri {
            return Err(serde::de::Error::custom(format!(
                "gregorian {} is hijri {}, not {}",
                raw.gregorian, converted.hijri, raw.hijri
            )));
        }
        Ok(converted)
    }
}

/// A month of birth, as identity services ask for it: the calendar, the year and the
/// month. Citizens give Hijri months, residents Gregorian ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawBirthMonth")]
pub struct BirthMonth {
    /// Which calendar `year` and `month` are in.
    pub calendar: Calendar,
    /// The year (AH for Hijri).
    pub year: u16,
    /// The month, 1–12.
    pub month: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBirthMonth {
    calendar: Calendar,
    year: u16,
    month: u8,
}

impl BirthMonth {
    /// Hijri years accepted for a birth month.
    pub const HIJRI_YEARS: std::ops::RangeInclusive<u16> = 1300..=1500;
    /// Gregorian years accepted for a birth month.
    pub const GREGORIAN_YEARS: std::ops::RangeInclusive<u16> = 1880..=2100;

    /// A birth month, checked for its calendar's year range and 1–12.
    pub fn try_new(calendar: Calendar, year: u16, month: u8) -> Result<Self, DateError> {
        let text = format!("{month:02}-{year:04}");
        let years = match calendar {
            Calendar::Hijri => Self::HIJRI_YEARS,
            Calendar::Gregorian => Self::GREGORIAN_YEARS,
        };
        if !years.contains(&year) {
            return Err(DateError::OutOfRange(text));
        }
        if !(1..=12).contains(&month) {
            return Err(DateError::Invalid(text, calendar));
        }
        Ok(Self {
            calendar,
            year,
            month,
        })
    }

    /// The `MM-YYYY` form identity services take.
    pub fn mm_yyyy(&self) -> String {
        format!("{:02}-{:04}", self.month, self.year)
    }
}

impl TryFrom<RawBirthMonth> for BirthMonth {
    type Error = DateError;
    fn try_from(raw: RawBirthMonth) -> Result<Self, Self::Error> {
        BirthMonth::try_new(raw.calendar, raw.year, raw.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// (Gregorian y, m, d) and the same day in the Umm al-Qura calendar (y, m, d).
    type Pair = ((i32, u32, u32), (u16, u8, u8));

    /// First days of months as published in the Umm al-Qura calendar.
    const KNOWN: [Pair; 5] = [
        ((2024, 3, 11), (1445, 9, 1)),  // 1 Ramadan 1445
        ((2024, 7, 7), (1446, 1, 1)),   // 1 Muharram 1446
        ((2025, 3, 1), (1446, 9, 1)),   // 1 Ramadan 1446
        ((2023, 4, 21), (1444, 10, 1)), // 1 Shawwal 1444
        ((2000, 1, 1), (1420, 9, 24)),  // Y2K in the Umm al-Qura calendar
    ];

    #[test]
    fn known_days_convert_both_ways() {
        for ((gy, gm, gd), (hy, hm, hd)) in KNOWN {
            let hijri = HijriDate::try_new(hy, hm, hd).unwrap();
            assert_eq!(
                HijriDate::from_gregorian(g(gy, gm, gd)).unwrap(),
                hijri,
                "{gy}-{gm}-{gd}"
            );
            assert_eq!(hijri.to_gregorian(), g(gy, gm, gd), "{hijri}");
        }
    }

    #[test]
    fn every_day_of_a_decade_round_trips() {
        let mut day = g(2020, 1, 1);
        while day < g(2030, 1, 1) {
            let dual = DualDate::from_gregorian(day).unwrap();
            assert_eq!(DualDate::from_hijri(dual.hijri), dual);
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn consecutive_gregorian_days_are_consecutive_hijri_days() {
        let mut day = g(1979, 1, 1);
        let mut previous = HijriDate::from_gregorian(day).unwrap();
        for _ in 0..3000 {
            day = day.succ_opt().unwrap();
            let next = HijriDate::from_gregorian(day).unwrap();
            let same_month_next_day = next.year == previous.year
                && next.month == previous.month
                && next.day == previous.day + 1;
            let new_month = next.day == 1 && (previous.day == 29 || previous.day == 30);
            assert!(same_month_next_day || new_month, "{previous} -> {next}");
            previous = next;
        }
    }

    #[test]
    fn impossible_and_out_of_range_days_are_refused() {
        assert!(matches!(
            HijriDate::try_new(1445, 13, 1),
            Err(DateError::Invalid(..))
        ));
        assert!(matches!(
            HijriDate::try_new(1445, 1, 31),
            Err(DateError::Invalid(..))
        ));
        assert!(matches!(
            HijriDate::try_new(1200, 1, 1),
            Err(DateError::OutOfRange(_))
        ));
        assert!(matches!(
            HijriDate::from_gregorian(g(1800, 1, 1)),
            Err(DateError::OutOfRange(_))
        ));
        assert!(matches!(
            "1445-9-01".parse::<HijriDate>(),
            Err(DateError::Syntax(_))
        ));
    }

    #[test]
    fn dual_dates_serialise_as_the_contract_says() {
        let dual = DualDate::from_gregorian(g(2024, 3, 11)).unwrap();
        let json = serde_json::to_string(&dual).unwrap();
        assert_eq!(json, r#"{"gregorian":"2024-03-11","hijri":"1445-09-01"}"#);
        assert_eq!(serde_json::from_str::<DualDate>(&json).unwrap(), dual);
        let inconsistent = r#"{"gregorian":"2024-03-12","hijri":"1445-09-01"}"#;
        assert!(serde_json::from_str::<DualDate>(inconsistent).is_err());
    }

    #[test]
    fn birth_months_check_their_calendar() {
        let golden = BirthMonth::try_new(Calendar::Hijri, 1400, 7).unwrap();
        assert_eq!(golden.mm_yyyy(), "07-1400");
        assert!(BirthMonth::try_new(Calendar::Hijri, 1985, 3).is_err());
        assert!(BirthMonth::try_new(Calendar::Gregorian, 1985, 13).is_err());
        let json = r#"{"calendar":"gregorian","year":1985,"month":3}"#;
        let resident: BirthMonth = serde_json::from_str(json).unwrap();
        assert_eq!(resident.mm_yyyy(), "03-1985");
        assert!(
            serde_json::from_str::<BirthMonth>(r#"{"calendar":"julian","year":1985,"month":3}"#)
                .is_err()
        );
    }
}
