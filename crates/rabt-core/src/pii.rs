//! A last line of defence for personal data in free text: [`redact`] masks what looks
//! like an identity number, an iqama or a mobile, and quoted text that looks like a
//! name, in an error message before it is logged or stored.
//!
//! Errors are written not to carry such values in the first place (an
//! [`IdentifierError`](crate::IdentifierError) names the rule, never the value; the API
//! names fields by JSON Pointer). But error texts also quote what others said — an
//! agency's own message, a parser's complaint about an answer (`invalid type: string
//! "محمد…"`) — and those are not ours to word.

/// What replaces a masked value.
pub const MASK: &str = "[redacted]";

/// The shortest run of digits masked: a national ID or iqama has 10, a mobile 10 or
/// 12; shorter runs are codes, counts and durations.
const MIN_DIGITS: usize = 9;

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `text` with every standalone run of nine or more digits masked (one glued to
/// letters, as in a `req_…` id, is left), and every quoted (`"…"` or `` `…` ``) span
/// that holds a space or a non-ASCII letter masked inside its quotes.
pub fn redact(text: &str) -> String {
    mask_quoted(&mask_numbers(text))
}

fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let before = start.checked_sub(1).map(|b| chars[b]);
        let after = chars.get(i).copied();
        let standalone = !before.is_some_and(is_word) && !after.is_some_and(is_word);
        if i - start >= MIN_DIGITS && standalone {
            out.push_str(MASK);
        } else {
            out.extend(&chars[start..i]);
        }
    }
    out
}

fn mask_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            rest = after;
            continue;
        };
        let inner = &after[..close];
        let personal = inner
            .chars()
            .any(|c| c.is_whitespace() || (c.is_alphabetic() && !c.is_ascii()));
        out.push_str(if personal { MASK } else { inner });
        out.push(quote);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_numbers_and_mobiles_are_masked() {
        assert_eq!(
            redact("national ID 1000000008 not found"),
            "national ID [redacted] not found"
        );
        assert_eq!(redact("mobile +966512345678."), "mobile +[redacted].");
        assert_eq!(redact("0512345678,2000000006"), "[redacted],[redacted]");
    }

    #[test]
    fn codes_ids_and_figures_stay() {
        for kept in [
            "Yakeen fault 13 (TECHNICAL), retry in 3000 ms",
            "task task_0190f2a3123456789b2c7cc5 failed",
            "HTTP 503 after 10000ms",
            "code E0000949",
            "unknown field `shortAddress`, expected one of `a`, `b`",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }

    #[test]
    fn quoted_names_are_masked() {
        assert_eq!(
            redact(r#"invalid type: string "محمد عبدالله", expected u32 at line 1"#),
            r#"invalid type: string "[redacted]", expected u32 at line 1"#
        );
        assert_eq!(
            redact("expected `Mohammed Al Qahtani`"),
            "expected `[redacted]`"
        );
        assert_eq!(redact("an unclosed \"quote"), "an unclosed \"quote");
    }
}
