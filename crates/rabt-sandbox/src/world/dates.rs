//! Dates of the sandbox, always in both calendars, and the clock-free rule for validity.
//!
//! The world never reads the clock, yet whether a licence is valid must not change from
//! one test run to the next. So every date that is still to come lies in 2036 or later
//! ([`FIRST_VALID_HIJRI_YEAR`], [`FIRST_VALID_GREGORIAN_YEAR`]) and every date that has
//! passed lies in 2024 or earlier ([`LAST_PAST_HIJRI_YEAR`], [`LAST_PAST_GREGORIAN_YEAR`]):
//! any "today" from 2025 to 2035 gives the same answers.

use chrono::NaiveDate;
use rabt_core::{Calendar, DateError, DualDate, HijriDate};

use super::rng::SandboxRng;

/// 1 Muharram 1458 is 29 February 2036: a Hijri year from here on is "still to come".
pub(crate) const FIRST_VALID_HIJRI_YEAR: u16 = 1458;
/// 1445 AH ended on 6 July 2024: a Hijri year up to here has passed.
pub(crate) const LAST_PAST_HIJRI_YEAR: u16 = 1445;
/// The first Gregorian year of things still valid.
pub(crate) const FIRST_VALID_GREGORIAN_YEAR: u16 = 2036;
/// The last Gregorian year of things already expired.
pub(crate) const LAST_PAST_GREGORIAN_YEAR: u16 = 2024;

/// A day of the Umm al-Qura calendar, in both calendars.
pub(crate) fn hijri(year: u16, month: u8, day: u8) -> Result<DualDate, DateError> {
    HijriDate::try_new(year, month, day).map(DualDate::from_hijri)
}

/// A Gregorian day, in both calendars.
pub(crate) fn gregorian(year: u16, month: u8, day: u8) -> Result<DualDate, DateError> {
    let date = NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))
        .ok_or_else(|| {
            DateError::Invalid(
                format!("{year:04}-{month:02}-{day:02}"),
                Calendar::Gregorian,
            )
        })?;
    DualDate::from_gregorian(date)
}

/// A random day of a year in `years` (inclusive), kept in `calendar`. Days run 1–28 so
/// that every month of both calendars has them.
pub(crate) fn random_day(
    rng: &mut SandboxRng,
    calendar: Calendar,
    years: (u16, u16),
) -> Result<DualDate, DateError> {
    let year = random_year(rng, years);
    let month = u8::try_from(rng.between(1, 12)).unwrap_or(1);
    let day = u8::try_from(rng.between(1, 28)).unwrap_or(1);
    match calendar {
        Calendar::Hijri => hijri(year, month, day),
        Calendar::Gregorian => gregorian(year, month, day),
    }
}

/// A year in `lo..=hi`.
pub(crate) fn random_year(rng: &mut SandboxRng, (lo, hi): (u16, u16)) -> u16 {
    u16::try_from(rng.between(u32::from(lo), u32::from(hi))).unwrap_or(lo)
}

/// Whether `date` lies in the years of things still valid (2036 or later).
#[cfg(test)]
pub(crate) fn is_still_to_come(date: &DualDate) -> bool {
    use chrono::Datelike;
    date.gregorian.year() >= i32::from(FIRST_VALID_GREGORIAN_YEAR)
}

/// Whether `date` lies in the years of things already past (2024 or earlier).
#[cfg(test)]
pub(crate) fn has_passed(date: &DualDate) -> bool {
    use chrono::Datelike;
    date.gregorian.year() <= i32::from(LAST_PAST_GREGORIAN_YEAR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_year_bounds_are_what_the_comments_say() {
        let first_valid = hijri(FIRST_VALID_HIJRI_YEAR, 1, 1).unwrap();
        assert_eq!(first_valid.gregorian.to_string(), "2036-02-29");
        let last_past = hijri(LAST_PAST_HIJRI_YEAR, 12, 29).unwrap();
        assert!(has_passed(&last_past));
        assert!(is_still_to_come(
            &gregorian(FIRST_VALID_GREGORIAN_YEAR, 3, 1).unwrap()
        ));
        assert!(!has_passed(&gregorian(2025, 1, 1).unwrap()));
        assert!(has_passed(
            &gregorian(LAST_PAST_GREGORIAN_YEAR, 12, 31).unwrap()
        ));
    }

    #[test]
    fn impossible_days_are_errors_not_panics() {
        assert!(gregorian(2023, 2, 29).is_err());
        assert!(hijri(1445, 13, 1).is_err());
    }

    #[test]
    fn random_days_are_always_real_days() {
        let mut rng = SandboxRng::new(5);
        for _ in 0..2000 {
            assert!(random_day(&mut rng, Calendar::Hijri, (1350, 1465)).is_ok());
            assert!(random_day(&mut rng, Calendar::Gregorian, (1950, 2040)).is_ok());
        }
    }
}
