//! What a cooperative may write in more than one way, written one way before anything is
//! validated or stored: Arabic-Indic (`١٠٠٠٠٠٠٠٠٨`) and Persian (`۱۰۰۰۰۰۰۰۰۸`) digits in
//! identifiers become ASCII, a mobile number in E.164 (`+966512345678`, `00966…`, with
//! spaces or dashes) or local form (`0512345678`) becomes `9665…`, a short address is
//! upper-cased, a chamber code sent as a number becomes its string, and a whole number
//! written as a float (`7.0`) where the schema asks for an integer becomes the integer.
//! Only what is unambiguous is rewritten; anything else is left for validation to refuse.
//!
//! A schema asks for it with `"x-rabt-normalize"` on a node (`digits`, `mobile`,
//! `short-address`, `digit-string`): the rules live beside the identifiers in
//! schemas/common.json, not in code that names fields.

use serde_json::{Number, Value};

use crate::schema::Documents;

/// The annotation naming a node's normalisation.
const KEYWORD: &str = "x-rabt-normalize";

impl Documents {
    /// Normalises `instance` in place against the schema file at `path`.
    pub(crate) fn normalize(&self, path: &str, instance: &mut Value) {
        let uri = crate::schema::uri_of(path);
        if let Some(root) = self.node(&uri) {
            self.normalize_in(&uri, root, instance, 0);
        }
    }

    fn normalize_in(&self, base: &str, node: &Value, instance: &mut Value, depth: u8) {
        // Our schemas nest a handful of levels; a bound keeps a cyclic $ref finite.
        if depth > 32 {
            return;
        }
        if let Some(reference) = node.get("$ref").and_then(Value::as_str)
            && let Some((uri, target)) = self.resolve_ref(base, reference)
        {
            self.normalize_in(&uri, target, instance, depth + 1);
        }
        if let Some(rule) = node.get(KEYWORD).and_then(Value::as_str) {
            apply(rule, instance);
        }
        if node.get("type").and_then(Value::as_str) == Some("integer") {
            whole_float_to_integer(instance);
        }
        match instance {
            Value::Object(fields) => {
                if let Some(properties) = node.get("properties").and_then(Value::as_object) {
                    for (name, value) in fields.iter_mut() {
                        if let Some(child) = properties.get(name) {
                            self.normalize_in(base, child, value, depth + 1);
                        }
                    }
                }
            }
            Value::Array(items) => {
                if let Some(child) = node.get("items") {
                    for item in items {
                        self.normalize_in(base, child, item, depth + 1);
                    }
                }
            }
            _ => {}
        }
        for branch in crate::schema::branches(node) {
            self.normalize_in(base, branch, instance, depth + 1);
        }
    }
}

/// Applies one rule; every rule is idempotent, so a node reached twice (through two
/// branches) is harmless.
fn apply(rule: &str, instance: &mut Value) {
    match (rule, &*instance) {
        ("digit-string", Value::Number(n)) => {
            if let Some(n) = n.as_u64() {
                *instance = Value::String(n.to_string());
            }
        }
        (_, Value::String(text)) => {
            let normalized = match rule {
                "digits" => ascii_digits(text),
                "digit-string" => ascii_digits(text),
                "short-address" => ascii_digits(text).to_ascii_uppercase(),
                "mobile" => mobile(text),
                _ => return,
            };
            *instance = Value::String(normalized);
        }
        _ => {}
    }
}

/// Arabic-Indic (U+0660–U+0669) and Extended Arabic-Indic, the Persian and Urdu forms
/// (U+06F0–U+06F9), digits as ASCII; everything else as it is.
fn ascii_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            other => other,
        })
        .collect()
}

/// A Saudi mobile number as `9665XXXXXXXX` when it is unambiguously one: ASCII digits,
/// spaces, dashes and dots dropped, `+966`/`00966` read as the country code and the
/// local `05…` form given its country code. Anything else is returned with only its
/// digits made ASCII, for validation to refuse.
fn mobile(text: &str) -> String {
    let digits = ascii_digits(text.trim());
    let compact: String = digits
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '\u{00A0}'))
        .collect();
    let national = compact
        .strip_prefix("+966")
        .or_else(|| compact.strip_prefix("00966"))
        .or_else(|| compact.strip_prefix("966"))
        .map(|rest| rest.strip_prefix('0').unwrap_or(rest))
        .or_else(|| compact.strip_prefix('0'));
    match national {
        Some(rest)
            if rest.len() == 9
                && rest.starts_with('5')
                && rest.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("966{rest}")
        }
        _ => digits,
    }
}

/// `7.0` where an integer is asked for is the integer 7 (JSON Schema already counts it
/// as one, so without this it would pass validation and reach an agency as `7.0`).
fn whole_float_to_integer(instance: &mut Value) {
    if let Value::Number(n) = instance
        && n.is_f64()
        && let Some(f) = n.as_f64()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        // Exact: |f| < 2^53, and its fraction is zero.
        #[allow(clippy::cast_possible_truncation)]
        let whole = f as i64;
        *instance = Value::Number(Number::from(whole));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_indic_and_persian_digits_become_ascii() {
        assert_eq!(ascii_digits("١٠٠٠٠٠٠٠٠٨"), "1000000008");
        assert_eq!(ascii_digits("۱۰۰۰۰۰۰۰۰۸"), "1000000008");
        assert_eq!(ascii_digits("RRRD٢٩٢٩"), "RRRD2929");
    }

    #[test]
    fn saudi_mobiles_in_every_unambiguous_spelling_become_9665() {
        for spelling in [
            "+966512345678",
            "+966 51 234 5678",
            "00966512345678",
            "966512345678",
            "0512345678",
            "051-234-5678",
            "+9660512345678",
            "٠٥١٢٣٤٥٦٧٨",
        ] {
            assert_eq!(mobile(spelling), "966512345678", "{spelling}");
        }
    }

    #[test]
    fn what_is_not_a_saudi_mobile_is_left_for_validation() {
        assert_eq!(mobile("+971512345678"), "+971512345678");
        assert_eq!(mobile("0412345678"), "0412345678");
        assert_eq!(mobile("+96651234567"), "+96651234567");
    }

    #[test]
    fn rules_apply_to_strings_and_chamber_codes_to_numbers() {
        let mut code = Value::from(1);
        apply("digit-string", &mut code);
        assert_eq!(code, Value::from("1"));
        let mut address = Value::from("rrrd٢٩٢٩");
        apply("short-address", &mut address);
        assert_eq!(address, Value::from("RRRD2929"));
        let mut untouched = Value::from(true);
        apply("digits", &mut untouched);
        assert_eq!(untouched, Value::from(true));
    }

    #[test]
    fn whole_floats_become_integers_and_others_stay() {
        let mut year = serde_json::json!(1400.0);
        whole_float_to_integer(&mut year);
        assert_eq!(year, serde_json::json!(1400));
        assert!(year.is_i64());
        let mut half = serde_json::json!(7.5);
        whole_float_to_integer(&mut half);
        assert_eq!(half, serde_json::json!(7.5));
    }
}
