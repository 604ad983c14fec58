//! Personal data as operators see it by default: identifiers and names masked, so a
//! screen shared or photographed leaks nothing. Only an admin may reveal a request's
//! values, with a reason, and the reveal is audited.

use serde_json::{Map, Value};

/// Keys whose text values are names (of people or places tied to a person).
fn is_name_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("name") || key == "ar" || key == "en"
}

/// `1000000008` → `1000****08`: the first four and last two digits of a long number
/// (national ids, iqamas, mobiles, unified numbers) stay, the rest is hidden.
pub(crate) fn digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

/// A name: its first letter, then `***`.
fn name(text: &str) -> String {
    match text.chars().next() {
        Some(first) => format!("{first}***"),
        None => String::new(),
    }
}

/// A value with every long number and every name masked; `under_name` says a parent
/// key was a name (`{"name": {"ar": …, "en": …}}`).
pub(crate) fn mask(value: &Value) -> Value {
    mask_in(value, false)
}

fn mask_in(value: &Value, under_name: bool) -> Value {
    match value {
        Value::String(text) if under_name => Value::String(name(text)),
        Value::String(text)
            if text.len() >= 6 && text.chars().all(|c| c.is_ascii_digit() || c == '+') =>
        {
            Value::String(digits(text))
        }
        Value::Object(map) => {
            let masked: Map<String, Value> = map
                .iter()
                .map(|(key, v)| (key.clone(), mask_in(v, under_name || is_name_key(key))))
                .collect();
            Value::Object(masked)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| mask_in(v, under_name)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn identifiers_and_names_are_masked_and_the_rest_kept() {
        assert_eq!(digits("1000000008"), "1000****08");
        let masked = mask(&json!({
            "idNumber": "1000000008",
            "mobile": "966512345678",
            "shortAddress": "RRRD2929",
            "buildingNumber": "2929",
            "nameAr": "محمد عبدالله",
            "name": {"ar": "محمد", "en": "Mohammed"},
            "board": [{"idNumber": "2000000006", "birthDate": {"calendar": "gregorian", "year": 1985, "month": 3}}],
            "found": true,
        }));
        assert_eq!(masked["idNumber"], "1000****08");
        assert_eq!(masked["mobile"], "9665******78");
        assert_eq!(masked["shortAddress"], "RRRD2929");
        assert_eq!(masked["buildingNumber"], "2929");
        assert_eq!(masked["nameAr"], "م***");
        assert_eq!(masked["name"]["en"], "M***");
        assert_eq!(masked["board"][0]["idNumber"], "2000****06");
        assert_eq!(masked["board"][0]["birthDate"]["year"], 1985);
        assert_eq!(masked["found"], true);
        assert!(!masked.to_string().contains("1000000008"));
    }
}
