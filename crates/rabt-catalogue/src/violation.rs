//! What is wrong with a validated document, field by field, in English and Arabic.
//!
//! jsonschema reports errors by keyword at the location of the object that holds the
//! keyword; a cooperative wants the field itself. So a missing required property or an
//! unexpected one is reported at the property's own pointer, a `oneOf` of alternative
//! forms is one violation instead of a cascade from each branch, and each field gets
//! one violation (the most telling one: a failed `format` beats the `pattern` beside
//! it). Messages are ours, written from the error kind; a schema can override the
//! message of the keywords of one of its nodes with `"x-rabt-message": {"en", "ar"}`
//! (all but `type`, `required` and unexpected properties, which speak for themselves).
//! No message repeats the offending value, which may be a national ID.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::formats;
use crate::schema::Documents;
use crate::service::Localized;

/// One offending field of a validated document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// RFC 6901 JSON Pointer of the field, relative to the validated document (`""` is
    /// the document itself). For a missing field, where it should be.
    pub pointer: String,
    /// The JSON Schema keyword that failed (`required`, `format`, `oneOf`, …).
    pub keyword: String,
    /// What is wrong, for people.
    pub message: Localized,
}

/// Turns jsonschema's errors into violations: one per field, sorted by pointer.
pub(crate) fn collect<'a>(
    errors: impl Iterator<Item = ValidationError<'a>>,
    documents: &Documents,
) -> Vec<Violation> {
    let mut all = Vec::new();
    for error in errors {
        expand(&error, documents, &mut all);
    }
    one_per_field(all)
}

fn expand(error: &ValidationError<'_>, documents: &Documents, out: &mut Vec<Violation>) {
    let at = error.instance_path().as_str();
    let keyword = error.kind().keyword().to_owned();
    // An `x-rabt-message` explains the rule of its node (a form, a range, a
    // pattern); a field that is missing, unexpected or of the wrong type is better
    // told as such.
    let structural = rank(&keyword) <= 1;
    let custom = error
        .absolute_keyword_location()
        .filter(|_| !structural)
        .and_then(|location| documents.custom_message(location.as_str()));
    let mut push = |pointer: String, message: Localized| {
        out.push(Violation {
            pointer,
            keyword: keyword.clone(),
            message: custom.clone().unwrap_or(message),
        });
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            // `required` lists strings (the meta-schema checked the catalogue's schemas).
            let name = property.as_str().unwrap_or_default();
            push(join(at, name), missing(name));
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for name in unexpected {
                push(join(at, name), unexpected_field(name));
            }
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            // `propertyNames` validates an object's keys, and a key is a string.
            let name = inner.instance().as_str().unwrap_or_default().to_owned();
            push(join(at, &name), bad_field_name(&name));
        }
        ValidationErrorKind::Format { format } => {
            let subject = Subject::of(at);
            // `format` only ever fails a string: other types pass it.
            let text = error.instance().as_str().unwrap_or_default();
            let message = formats::explain(format, text, &subject)
                .unwrap_or_else(|| builtin_format(format, &subject));
            push(at.to_owned(), message);
        }
        kind => push(at.to_owned(), describe(kind, &Subject::of(at))),
    }
}

/// Keeps the most telling violation of each field, in pointer order.
fn one_per_field(mut all: Vec<Violation>) -> Vec<Violation> {
    // A stable sort keeps jsonschema's order among equals, so the choice is deterministic.
    all.sort_by(|a, b| {
        a.pointer
            .cmp(&b.pointer)
            .then_with(|| rank(&a.keyword).cmp(&rank(&b.keyword)))
    });
    all.dedup_by(|later, first| later.pointer == first.pointer);
    all
}

/// Lower is more telling. A field that is absent, unexpected or of the wrong type has
/// nothing more useful to say; our formats explain more than the pattern beside them.
fn rank(keyword: &str) -> u8 {
    match keyword {
        "required" | "additionalProperties" | "unevaluatedProperties" | "propertyNames" => 0,
        "type" => 1,
        "format" => 2,
        "enum" => 3,
        "const" => 4,
        "pattern" => 6,
        _ => 5,
    }
}

/// Appends one reference token to a pointer, escaped per RFC 6901.
fn join(pointer: &str, token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    format!("{pointer}/{escaped}")
}

/// How a message names the field: `` `year` ``, `` `idNumbers[1]` ``, or the document.
pub(crate) struct Subject {
    en: String,
    ar: String,
}

impl Subject {
    pub(crate) fn of(pointer: &str) -> Subject {
        let tokens: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let named = match tokens.as_slice() {
            [] => None,
            [.., parent, last] if last.bytes().all(|b| b.is_ascii_digit()) => {
                Some(format!("`{parent}[{last}]`"))
            }
            [.., last] => Some(format!("`{last}`")),
        };
        match named {
            Some(name) => Subject {
                en: name.clone(),
                ar: name,
            },
            None => Subject {
                en: "the document".to_owned(),
                ar: "المستند".to_owned(),
            },
        }
    }

    /// `{s}` in `en` and `ar` replaced by the subject.
    pub(crate) fn says(&self, en: &str, ar: &str) -> Localized {
        Localized {
            en: en.replace("{s}", &self.en),
            ar: ar.replace("{s}", &self.ar),
        }
    }
}

fn missing(name: &str) -> Localized {
    Localized {
        en: format!("missing required field `{name}`"),
        ar: format!("الحقل المطلوب `{name}` مفقود"),
    }
}

fn unexpected_field(name: &str) -> Localized {
    Localized {
        en: format!("unexpected field `{name}`"),
        ar: format!("الحقل `{name}` غير متوقع"),
    }
}

fn bad_field_name(name: &str) -> Localized {
    Localized {
        en: format!("field name `{name}` is not allowed here"),
        ar: format!("اسم الحقل `{name}` غير مسموح به هنا"),
    }
}

fn builtin_format(format: &str, s: &Subject) -> Localized {
    match format {
        "date" => s.says(
            "{s} must be a date of the form YYYY-MM-DD",
            "{s} يجب أن يكون تاريخًا بالصيغة YYYY-MM-DD",
        ),
        "date-time" => s.says(
            "{s} must be a date and time (RFC 3339, e.g. 2024-03-11T09:30:00Z)",
            "{s} يجب أن يكون تاريخًا ووقتًا بصيغة RFC 3339 (مثل 2024-03-11T09:30:00Z)",
        ),
        other => s.says(
            &format!("{{s}} must be a valid `{other}`"),
            &format!("{{s}} يجب أن يكون `{other}` صالحًا"),
        ),
    }
}

/// The message of every other kind of error.
fn describe(kind: &ValidationErrorKind, s: &Subject) -> Localized {
    use ValidationErrorKind as K;
    match kind {
        K::Type { kind } => {
            let (en, ar) = type_names(kind);
            s.says(
                &format!("{{s}} must be {en}"),
                &format!("{{s}} يجب أن يكون {ar}"),
            )
        }
        K::Enum { options } => {
            let list = list_values(options);
            s.says(
                &format!("{{s}} must be one of {list}"),
                &format!("{{s}} يجب أن يكون إحدى القيم {list}"),
            )
        }
        K::Constant { expected_value } => {
            let v = show(expected_value);
            s.says(
                &format!("{{s}} must be {v}"),
                &format!("{{s}} يجب أن يكون {v}"),
            )
        }
        K::Minimum { limit } => s.says(
            &format!("{{s}} must be at least {limit}"),
            &format!("{{s}} يجب ألا يقل عن {limit}"),
        ),
        K::Maximum { limit } => s.says(
            &format!("{{s}} must be at most {limit}"),
            &format!("{{s}} يجب ألا يزيد على {limit}"),
        ),
        K::ExclusiveMinimum { limit } => s.says(
            &format!("{{s}} must be greater than {limit}"),
            &format!("{{s}} يجب أن يكون أكبر من {limit}"),
        ),
        K::ExclusiveMaximum { limit } => s.says(
            &format!("{{s}} must be less than {limit}"),
            &format!("{{s}} يجب أن يكون أصغر من {limit}"),
        ),
        _ => describe_sizes_and_forms(kind, s),
    }
}

fn describe_sizes_and_forms(kind: &ValidationErrorKind, s: &Subject) -> Localized {
    use ValidationErrorKind as K;
    match kind {
        K::MinLength { limit } => s.says(
            &format!("{{s}} must be at least {} long", count(*limit, "character")),
            &format!("{{s}} يجب ألا يقل عدد أحرفه عن {limit}"),
        ),
        K::MaxLength { limit } => s.says(
            &format!("{{s}} must be at most {} long", count(*limit, "character")),
            &format!("{{s}} يجب ألا يزيد عدد أحرفه على {limit}"),
        ),
        K::MinItems { limit } => s.says(
            &format!("{{s}} must have at least {}", count(*limit, "item")),
            &format!("{{s}} يجب ألا يقل عدد عناصره عن {limit}"),
        ),
        K::MaxItems { limit } => s.says(
            &format!("{{s}} must have at most {}", count(*limit, "item")),
            &format!("{{s}} يجب ألا يزيد عدد عناصره على {limit}"),
        ),
        K::MinProperties { limit } => s.says(
            &format!("{{s}} must have at least {}", count(*limit, "field")),
            &format!("{{s}} يجب ألا يقل عدد حقوله عن {limit}"),
        ),
        K::MaxProperties { limit } => s.says(
            &format!("{{s}} must have at most {}", count(*limit, "field")),
            &format!("{{s}} يجب ألا يزيد عدد حقوله على {limit}"),
        ),
        K::UniqueItems => s.says("{s} must not repeat an item", "{s} يجب ألا تتكرر عناصره"),
        // A regular expression means nothing to most people: a schema that wants to
        // say what the form is gives its node an `x-rabt-message`.
        K::Pattern { .. } => s.says(
            "{s} is not in the expected form",
            "{s} ليس بالصيغة المطلوبة",
        ),
        K::OneOfNotValid { .. } | K::OneOfMultipleValid { .. } => s.says(
            "{s} must match exactly one of its accepted forms",
            "{s} يجب أن يطابق صيغة واحدة فقط من صيغه المقبولة",
        ),
        K::AnyOf { .. } => s.says(
            "{s} matches none of its accepted forms",
            "{s} لا يطابق أيًّا من صيغه المقبولة",
        ),
        K::Not { .. } | K::FalseSchema => s.says("{s} is not allowed here", "{s} غير مسموح به هنا"),
        other => {
            let keyword = other.keyword();
            s.says(
                &format!("{{s}} is not valid (`{keyword}`)"),
                &format!("{{s}} غير صالح (`{keyword}`)"),
            )
        }
    }
}

/// `1 item`, `2 items`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn type_names(kind: &TypeKind) -> (String, String) {
    let types: Vec<JsonType> = match kind {
        TypeKind::Single(t) => vec![*t],
        TypeKind::Multiple(set) => set.iter().collect(),
    };
    let (en, ar): (Vec<&str>, Vec<&str>) = types.into_iter().map(type_name).unzip();
    (en.join(" or "), ar.join(" أو "))
}

fn type_name(t: JsonType) -> (&'static str, &'static str) {
    match t {
        JsonType::String => ("a string", "نصًا (string)"),
        JsonType::Number => ("a number", "رقمًا (number)"),
        JsonType::Integer => ("an integer", "عددًا صحيحًا (integer)"),
        JsonType::Object => ("an object", "كائنًا (object)"),
        JsonType::Array => ("an array", "مصفوفة (array)"),
        JsonType::Boolean => ("true or false", "قيمة منطقية (true أو false)"),
        JsonType::Null => ("null", "null"),
    }
}

/// A schema value for a message: strings in backticks, anything else as JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn list_values(options: &Value) -> String {
    match options {
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        other => show(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_their_tokens() {
        assert_eq!(join("", "idNumber"), "/idNumber");
        assert_eq!(join("/board/0", "a/b~c"), "/board/0/a~1b~0c");
    }

    #[test]
    fn subjects_name_the_field_or_the_element() {
        assert_eq!(Subject::of("/birthDate/year").en, "`year`");
        assert_eq!(Subject::of("/idNumbers/1").en, "`idNumbers[1]`");
        assert_eq!(Subject::of("/a~1b").en, "`a/b`");
        assert_eq!(Subject::of("").en, "the document");
    }

    #[test]
    fn one_violation_per_field_prefers_the_most_telling() {
        let v = |pointer: &str, keyword: &str| Violation {
            pointer: pointer.into(),
            keyword: keyword.into(),
            message: Localized {
                en: keyword.into(),
                ar: keyword.into(),
            },
        };
        let kept = one_per_field(vec![
            v("/shortAddress", "pattern"),
            v("/b", "minimum"),
            v("/shortAddress", "format"),
            v("/a", "type"),
            v("/a", "enum"),
        ]);
        let kept: Vec<(&str, &str)> = kept
            .iter()
            .map(|v| (v.pointer.as_str(), v.keyword.as_str()))
            .collect();
        assert_eq!(
            kept,
            vec![
                ("/a", "type"),
                ("/b", "minimum"),
                ("/shortAddress", "format")
            ]
        );
    }
}
