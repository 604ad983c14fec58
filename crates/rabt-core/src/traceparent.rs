//! The W3C Trace Context `traceparent` header (<https://www.w3.org/TR/trace-context/>),
//! checked before Rabt stores it and forwards it to agencies: anything else a caller
//! puts there (a 55-character string of their choosing) is dropped, never passed on.

/// Checks a `traceparent` value: `00-<32 hex trace id>-<16 hex parent id>-<2 hex
/// flags>`, lowercase, neither id all zeros. A later version (not `ff`) is read by its
/// version-00 fields, as the specification asks, and forwarded as version 00. Returns
/// the value to forward, or `None` for anything else.
pub fn parse(value: &str) -> Option<String> {
    let value = value.trim_matches([' ', '\t']);
    let bytes = value.as_bytes();
    // ASCII only, so the slices below fall on character boundaries.
    if bytes.len() < 55 || !value.is_ascii() {
        return None;
    }
    let version = &value[..2];
    if !is_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 is exactly 55 characters; a later one may add fields after a dash.
    if (version == "00" && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
        return None;
    }
    let (trace_id, parent_id, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    let dashes = bytes[2] == b'-' && bytes[35] == b'-' && bytes[52] == b'-';
    let valid = dashes
        && is_hex(trace_id)
        && is_hex(parent_id)
        && is_hex(flags)
        && !is_zero(trace_id)
        && !is_zero(parent_id);
    valid.then(|| format!("00-{trace_id}-{parent_id}-{flags}"))
}

fn is_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_zero(text: &str) -> bool {
    text.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::parse;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specifications_examples_are_kept() {
        assert_eq!(parse(GOOD).as_deref(), Some(GOOD));
        assert_eq!(
            parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").as_deref(),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")
        );
        // A later version is read as version 00 and forwarded as such.
        assert_eq!(
            parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
                .as_deref(),
            Some(GOOD)
        );
    }

    #[test]
    fn anything_else_is_dropped() {
        for bad in [
            "",
            "hello",
            // 55 characters, none of them a trace context.
            "<script>alert(1)</script>xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\u{0661}",
            // 55 bytes with a two-byte character across the version's end.
            "0\u{e9}4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
