//! The `rabt-…` formats of our schemas, each checked by rabt-core's parser of that
//! identifier, so schema validation and the domain types never disagree (the Luhn
//! check digit of a national ID included).

use rabt_core::{
    AdditionalNumber, BuildingNumber, DateError, HijriDate, IdentifierError, Mobile, NationalId,
    PostalCode, ShortAddress, UnifiedNumber,
};

use crate::service::Localized;
use crate::violation::Subject;

/// Why a value fails one of our formats, before it is put into words.
enum Failure {
    Identifier(IdentifierError),
    Date(DateError),
}

type Check = fn(&str) -> Result<(), Failure>;

/// A format of ours: its name in schemas, its check, and what a valid value looks like
/// in words, in English and Arabic (never a regular expression: people read these).
struct Format {
    name: &'static str,
    check: Check,
    english: &'static str,
    arabic: &'static str,
}

fn id<T>(r: Result<T, IdentifierError>) -> Result<(), Failure> {
    r.map(|_| ()).map_err(Failure::Identifier)
}

const FORMATS: &[Format] = &[
    Format {
        name: "rabt-national-id",
        check: |s| id(NationalId::parse(s)),
        english: "a national ID or iqama number: 10 digits, the first 1 (citizen) or 2 (resident)",
        arabic: "رقم هوية وطنية أو إقامة: 10 أرقام أولها 1 (مواطن) أو 2 (مقيم)",
    },
    Format {
        name: "rabt-unified-number",
        check: |s| id(UnifiedNumber::parse(s)),
        english: "a unified number: 10 digits starting with 7",
        arabic: "رقمًا موحدًا للمنشأة: 10 أرقام أولها 7",
    },
    Format {
        // rabt-core accepts lower case and upper-cases it; the schema's pattern asks
        // for capitals, so the format is strict too and both give one answer.
        name: "rabt-short-address",
        check: |s| {
            if s.bytes().any(|b| b.is_ascii_lowercase()) {
                return Err(Failure::Identifier(IdentifierError::Format {
                    kind: "short address",
                    pattern: "^[A-Z]{4}\\d{4}$",
                }));
            }
            id(ShortAddress::parse(s))
        },
        english: "a short address: 4 capital Latin letters, then 4 digits (like RRRD2929)",
        arabic: "عنوانًا مختصرًا: 4 أحرف لاتينية كبيرة ثم 4 أرقام (مثل RRRD2929)",
    },
    Format {
        name: "rabt-building-number",
        check: |s| id(BuildingNumber::parse(s)),
        english: "a building number: 4 digits",
        arabic: "رقم مبنى من 4 أرقام",
    },
    Format {
        name: "rabt-additional-number",
        check: |s| id(AdditionalNumber::parse(s)),
        english: "an additional number: 4 digits",
        arabic: "رقمًا إضافيًا من 4 أرقام",
    },
    Format {
        name: "rabt-postal-code",
        check: |s| id(PostalCode::parse(s)),
        english: "a postal code: 5 digits",
        arabic: "رمزًا بريديًا من 5 أرقام",
    },
    Format {
        name: "rabt-mobile",
        check: |s| id(Mobile::parse(s)),
        english: "a Saudi mobile number: 05XXXXXXXX, 9665XXXXXXXX or +9665XXXXXXXX",
        arabic: "رقم جوال سعودي: 05XXXXXXXX أو 9665XXXXXXXX أو ‎+9665XXXXXXXX",
    },
    Format {
        name: "rabt-hijri-date",
        check: |s| s.parse::<HijriDate>().map(|_| ()).map_err(Failure::Date),
        english: "a Hijri date, YYYY-MM-DD",
        arabic: "تاريخًا هجريًا بالصيغة YYYY-MM-DD",
    },
];

/// Registers every format of ours with jsonschema.
pub(crate) fn register<'i>(
    mut options: jsonschema::ValidationOptions<'i>,
) -> jsonschema::ValidationOptions<'i> {
    for format in FORMATS {
        let check = format.check;
        options = options.with_format(format.name, move |s: &str| check(s).is_ok());
    }
    options
}

/// The message for a value that fails format `name`, or `None` if the format is not
/// one of ours.
pub(crate) fn explain(name: &str, value: &str, s: &Subject) -> Option<Localized> {
    let format = FORMATS.iter().find(|f| f.name == name)?;
    let failure = match (format.check)(value) {
        Ok(()) => return None,
        Err(failure) => failure,
    };
    Some(match failure {
        Failure::Identifier(IdentifierError::CheckDigit) => s.says(
            "{s} fails the national ID check digit (Luhn): a digit is mistyped",
            "{s} لا يجتاز خانة التحقق لرقم الهوية (خوارزمية Luhn): أحد الأرقام مكتوب خطأ",
        ),
        Failure::Identifier(IdentifierError::Format { .. }) => s.says(
            &format!("{{s}} must be {}", format.english),
            &format!("{{s}} يجب أن يكون {}", format.arabic),
        ),
        Failure::Date(DateError::Invalid(..)) => s.says(
            "{s} is not a day of the Umm al-Qura calendar",
            "{s} ليس يومًا في تقويم أم القرى",
        ),
        Failure::Date(DateError::OutOfRange(_)) => s.says(
            "{s} is outside the supported Hijri years (1300–1600 AH)",
            "{s} خارج السنوات الهجرية المدعومة (1300–1600 هـ)",
        ),
        Failure::Date(DateError::Syntax(_)) => s.says(
            "{s} must be a Hijri date of the form YYYY-MM-DD",
            "{s} يجب أن يكون تاريخًا هجريًا بالصيغة YYYY-MM-DD",
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn every_format_accepts_its_golden_value() {
        let golden = [
            ("rabt-national-id", "1000000008"),
            ("rabt-unified-number", "7000000001"),
            ("rabt-short-address", "RRRD2929"),
            ("rabt-building-number", "2929"),
            ("rabt-additional-number", "7788"),
            ("rabt-postal-code", "12211"),
            ("rabt-mobile", "0512345678"),
            ("rabt-hijri-date", "1445-09-01"),
        ];
        assert_eq!(golden.len(), FORMATS.len());
        for (name, value) in golden {
            let format = FORMATS.iter().find(|f| f.name == name).unwrap();
            assert!((format.check)(value).is_ok(), "{name} {value}");
        }
    }

    #[test]
    fn short_addresses_must_be_capitals_as_the_pattern_says() {
        let s = Subject::of("/shortAddress");
        let message = explain("rabt-short-address", "rrrd2929", &s).unwrap();
        assert!(
            message.en.contains("4 capital Latin letters"),
            "{}",
            message.en
        );
    }

    #[test]
    fn check_digit_failures_say_so_in_both_languages() {
        let s = Subject::of("/idNumber");
        let message = explain("rabt-national-id", "1000000009", &s).unwrap();
        assert!(
            message
                .en
                .starts_with("`idNumber` fails the national ID check digit")
        );
        assert!(message.ar.contains("خانة التحقق"));
    }

    #[test]
    fn messages_describe_the_form_in_words_never_a_regular_expression() {
        let s = Subject::of("/idNumber");
        for (format, bad) in [
            ("rabt-national-id", "3000000001"),
            ("rabt-unified-number", "8000000001"),
            ("rabt-short-address", "RRR2929"),
            ("rabt-mobile", "0412345678"),
            ("rabt-postal-code", "1221"),
        ] {
            let message = explain(format, bad, &s).unwrap();
            for text in [&message.en, &message.ar] {
                assert!(
                    !text.contains('^') && !text.contains('$') && !text.contains("\\d"),
                    "{format}: {text}"
                );
            }
        }
        let arabic = explain("rabt-national-id", "3000000001", &s).unwrap().ar;
        assert!(arabic.contains("10 أرقام"), "{arabic}");
    }

    #[test]
    fn messages_never_repeat_the_value() {
        let s = Subject::of("/idNumber");
        for (format, bad) in [
            ("rabt-national-id", "1000000009"),
            ("rabt-national-id", "3000000001"),
            ("rabt-mobile", "0412345678"),
            ("rabt-hijri-date", "1445-13-01"),
        ] {
            let message = explain(format, bad, &s).unwrap();
            assert!(!message.en.contains(bad) && !message.ar.contains(bad));
        }
    }

    #[test]
    fn unknown_or_passing_formats_have_no_message() {
        let s = Subject::of("/x");
        assert!(explain("date", "2024-01-01", &s).is_none());
        assert!(explain("rabt-national-id", "1000000008", &s).is_none());
    }
}
