//! The translation of Yakeen's results into [`IdentityRecord`], checking each field
//! against Yakeen's own formats, and Yakeen's `dd-MM-yyyy` dates.

use chrono::NaiveDate;
use rabt_core::{Calendar, DualDate, HijriDate, IdKind};

use super::{AlienInfoByIqamaResult, CitizenInfoResult};
use crate::InteriorError;
use crate::output::{Gender, IdentityRecord, Names};

impl TryFrom<&CitizenInfoResult> for IdentityRecord {
    type Error = InteriorError;

    fn try_from(r: &CitizenInfoResult) -> Result<Self, Self::Error> {
        let part = |field_ar, ar: &Option<String>, field_en, en: &Option<String>| {
            Ok::<_, InteriorError>(Names {
                ar: required(field_ar, ar)?.to_owned(),
                en: required(field_en, en)?.to_owned(),
            })
        };
        Ok(IdentityRecord {
            id_kind: IdKind::Citizen,
            parts: [
                part(
                    "firstName",
                    &r.first_name,
                    "englishFirstName",
                    &r.english_first_name,
                )?,
                part(
                    "fatherName",
                    &r.father_name,
                    "englishSecondName",
                    &r.english_second_name,
                )?,
                part(
                    "grandFatherName",
                    &r.grand_father_name,
                    "englishThirdName",
                    &r.english_third_name,
                )?,
                part(
                    "familyName",
                    &r.family_name,
                    "englishLastName",
                    &r.english_last_name,
                )?,
            ],
            gender: gender(&r.gender)?,
            birth_date: dual(
                Calendar::Hijri,
                ("dateOfBirthH", &r.date_of_birth_h),
                ("dateOfBirthG", &r.date_of_birth_g),
            )?,
            id_expiry: optional_date(Calendar::Hijri, "idExpiryDate", &r.id_expiry_date)?,
            nationality_code: code("nationalityCode", &r.nationality_code)?,
            occupation_code: code("occupationCode", &r.occupation_code)?,
            log_id: r.log_id.clone().filter(|id| !id.trim().is_empty()),
        })
    }
}

impl TryFrom<&AlienInfoByIqamaResult> for IdentityRecord {
    type Error = InteriorError;

    fn try_from(r: &AlienInfoByIqamaResult) -> Result<Self, Self::Error> {
        let part = |field_ar, ar: &Option<String>, field_en, en: &Option<String>| {
            Ok::<_, InteriorError>(Names {
                ar: required(field_ar, ar)?.to_owned(),
                en: required(field_en, en)?.to_owned(),
            })
        };
        let expiry = match (&r.iqama_expiry_date_g, &r.iqama_expiry_date_h) {
            (None, None) => None,
            _ => Some(dual(
                Calendar::Gregorian,
                ("iqamaExpiryDateG", &r.iqama_expiry_date_g),
                ("iqamaExpiryDateH", &r.iqama_expiry_date_h),
            )?),
        };
        Ok(IdentityRecord {
            id_kind: IdKind::Resident,
            parts: [
                part(
                    "firstName",
                    &r.first_name,
                    "englishFirstName",
                    &r.english_first_name,
                )?,
                part(
                    "secondName",
                    &r.second_name,
                    "englishSecondName",
                    &r.english_second_name,
                )?,
                part(
                    "thirdName",
                    &r.third_name,
                    "englishThirdName",
                    &r.english_third_name,
                )?,
                part(
                    "lastName",
                    &r.last_name,
                    "englishLastName",
                    &r.english_last_name,
                )?,
            ],
            gender: gender(&r.gender)?,
            birth_date: dual(
                Calendar::Gregorian,
                ("dateOfBirthG", &r.date_of_birth_g),
                ("dateOfBirthH", &r.date_of_birth_h),
            )?,
            id_expiry: expiry,
            nationality_code: code("nationalityCode", &r.nationality_code)?,
            occupation_code: code("occupationCode", &r.occupation_code)?,
            log_id: r.log_id.clone().filter(|id| !id.trim().is_empty()),
        })
    }
}

fn field(field: &'static str, expected: &'static str, value: &str) -> InteriorError {
    InteriorError::Field {
        field,
        expected,
        value: value.chars().take(32).collect(),
    }
}

fn required<'a>(name: &'static str, value: &'a Option<String>) -> Result<&'a str, InteriorError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(field(name, "present", "")),
    }
}

fn gender(value: &Option<String>) -> Result<Gender, InteriorError> {
    match required("gender", value)? {
        "M" => Ok(Gender::M),
        "F" => Ok(Gender::F),
        "U" => Ok(Gender::U),
        other => Err(field("gender", "M, F or U", other)),
    }
}

/// An optional code of digits and capital letters (the output schema's rule).
fn code(name: &'static str, value: &Option<String>) -> Result<Option<String>, InteriorError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v)
            if v.len() <= 10
                && v.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) =>
        {
            Ok(Some(v.to_owned()))
        }
        Some(v) => Err(field(name, "digits or capitals", v)),
    }
}

/// A date given in its calendar of record and, optionally, in the other: both must
/// name the same day.
fn dual(
    calendar: Calendar,
    (name, of_record): (&'static str, &Option<String>),
    (other_name, other): (&'static str, &Option<String>),
) -> Result<DualDate, InteriorError> {
    let date = parse_date(calendar, name, required(name, of_record)?)?;
    if let Some(text) = other.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let other_calendar = match calendar {
            Calendar::Hijri => Calendar::Gregorian,
            Calendar::Gregorian => Calendar::Hijri,
        };
        if parse_date(other_calendar, other_name, text)? != date {
            return Err(field(
                other_name,
                "the same day as its other calendar",
                text,
            ));
        }
    }
    Ok(date)
}

fn optional_date(
    calendar: Calendar,
    name: &'static str,
    value: &Option<String>,
) -> Result<Option<DualDate>, InteriorError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_date(calendar, name, text).map(Some),
    }
}

/// Parses Yakeen's `dd-MM-yyyy` in one calendar.
pub fn parse_date(
    calendar: Calendar,
    name: &'static str,
    text: &str,
) -> Result<DualDate, InteriorError> {
    let bad = || field(name, "a dd-MM-yyyy date", text);
    let mut pieces = text.split('-');
    let (Some(d), Some(m), Some(y), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(bad());
    };
    if d.len() != 2 || m.len() != 2 || y.len() != 4 {
        return Err(bad());
    }
    let (Ok(day), Ok(month), Ok(year)) = (d.parse::<u8>(), m.parse::<u8>(), y.parse::<u16>())
    else {
        return Err(bad());
    };
    match calendar {
        Calendar::Hijri => HijriDate::try_new(year, month, day)
            .map(DualDate::from_hijri)
            .map_err(|_| bad()),
        Calendar::Gregorian => NaiveDate::from_ymd_opt(year.into(), month.into(), day.into())
            .ok_or_else(bad)
            .and_then(|g| DualDate::from_gregorian(g).map_err(|_| bad())),
    }
}

/// Writes a date as Yakeen does, `dd-MM-yyyy`, in one calendar.
pub fn format_date(calendar: Calendar, date: &DualDate) -> String {
    match calendar {
        Calendar::Hijri => format!(
            "{:02}-{:02}-{:04}",
            date.hijri.day(),
            date.hijri.month(),
            date.hijri.year()
        ),
        Calendar::Gregorian => date.gregorian.format("%d-%m-%Y").to_string(),
    }
}
