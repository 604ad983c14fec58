//! RFC 8785 JSON Canonicalization Scheme: one byte string per JSON value, so an entry
//! hashed today hashes the same when anyone re-encodes it tomorrow.
//!
//! Object members are sorted by the UTF-16 code units of their names; no whitespace;
//! strings escape only `"`, `\` and control characters (the short forms `\b \t \n \f
//! \r`, else `\u00xx` in lower case) and keep everything else as UTF-8; numbers are
//! written as ECMAScript writes an IEEE double. An integer an IEEE double cannot hold
//! exactly (beyond ±2^53) is refused rather than silently rounded.

use std::fmt::Write;

use serde_json::{Map, Number, Value};

use crate::error::AuditError;

/// The canonical bytes of `value`.
pub fn canonical(value: &Value) -> Result<Vec<u8>, AuditError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out.into_bytes())
}

fn write_value(value: &Value, out: &mut String) -> Result<(), AuditError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(number, out)?,
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(members) => write_object(members, out)?,
    }
    Ok(())
}

fn write_object(members: &Map<String, Value>, out: &mut String) -> Result<(), AuditError> {
    let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
    sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    out.push('{');
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(name, out);
        out.push(':');
        write_value(value, out)?;
    }
    out.push('}');
    Ok(())
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The largest integer an IEEE double holds exactly, with every smaller one.
const EXACT: u64 = 1 << 53;

fn write_number(number: &Number, out: &mut String) -> Result<(), AuditError> {
    if let Some(n) = number.as_u64() {
        if n > EXACT {
            return Err(AuditError::NotCanonical(format!(
                "{n} is beyond the integers an IEEE double holds exactly"
            )));
        }
        let _ = write!(out, "{n}");
        return Ok(());
    }
    if let Some(n) = number.as_i64() {
        if n.unsigned_abs() > EXACT {
            return Err(AuditError::NotCanonical(format!(
                "{n} is beyond the integers an IEEE double holds exactly"
            )));
        }
        let _ = write!(out, "{n}");
        return Ok(());
    }
    let Some(double) = number.as_f64().filter(|d| d.is_finite()) else {
        return Err(AuditError::NotCanonical(format!(
            "{number} is not a finite number"
        )));
    };
    out.push_str(&ecmascript(double));
    Ok(())
}

/// ECMAScript's Number.prototype.toString for a finite double (ECMA-262 §6.1.6.1.20):
/// the shortest digits that read back as the same double, placed by the exponent.
fn ecmascript(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    // `{:e}` prints the shortest digits that round-trip ("-1.2345e-7"); of the numbers
    // with that many digits, ECMAScript takes the closest to the double's exact value
    // (ties to even), which `{:.*e}` computes from the exact value.
    let shortest = format!("{value:e}");
    let precision = shortest
        .split_once('e')
        .map_or(shortest.as_str(), |(mantissa, _)| mantissa)
        .chars()
        .filter(char::is_ascii_digit)
        .count()
        .saturating_sub(1);
    let scientific = format!("{value:.precision$e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let k = digits.len() as i64;
    // The decimal point sits after `n` digits: value = 0.digits × 10^n.
    let n = exponent.parse::<i64>().unwrap_or(0) + 1;
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    if k <= n && n <= 21 {
        text.push_str(digits);
        text.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        text.push_str(&digits[..n as usize]);
        text.push('.');
        text.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        text.push_str("0.");
        text.extend(std::iter::repeat_n('0', (-n) as usize));
        text.push_str(digits);
    } else {
        text.push_str(&digits[..1]);
        if k > 1 {
            text.push('.');
            text.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(text, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use serde_json::json;

    use super::*;

    fn text(value: &Value) -> String {
        String::from_utf8(canonical(value).unwrap()).unwrap()
    }

    #[test]
    fn members_sort_by_utf16_and_whitespace_goes() {
        // RFC 8785 §3.2.3's sorting example: UTF-16 order puts U+1D11E (a surrogate
        // pair starting 0xD834) before U+FB33, unlike code point order.
        let value = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{80}": "Control",
            "\u{f6}": "Latin Small Letter O With Diaeresis"
        });
        assert_eq!(
            text(&value),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\
             \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        let value = json!({"s": "\u{20ac}$\u{f}\nA'B\"\\\\\"/", "ar": "هوية"});
        assert_eq!(
            text(&value),
            "{\"ar\":\"هوية\",\"s\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn numbers_are_written_as_ecmascript_does() {
        // RFC 8785 Appendix B.
        for (bits, expected) in [
            (0x0000000000000000u64, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ] {
            assert_eq!(ecmascript(f64::from_bits(bits)), expected, "{bits:#x}");
        }
        assert_eq!(text(&json!([1, -7, 0.5, 250.0])), "[1,-7,0.5,250]");
        assert!(canonical(&json!(9_007_199_254_740_993u64)).is_err());
        assert!(canonical(&json!(-9_007_199_254_740_993i64)).is_err());
    }

    #[test]
    fn nesting_and_literals() {
        let value = json!({"b": [true, false, null, {"z": 1, "a": []}], "a": {}});
        assert_eq!(
            text(&value),
            r#"{"a":{},"b":[true,false,null,{"a":[],"z":1}]}"#
        );
    }
}
