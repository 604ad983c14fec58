//! The people a request concerns, as keyed digests: every identity or iqama number and
//! every mobile in the input, digested under the deployment's personal-data key
//! (`RABT_PII_KEY`). The digests go into the sealed `request.accepted` audit entry and
//! the index `rabt audit search` reads; the numbers themselves never enter the log.

use rabt_audit::{PiiKey, Subject};
use rabt_core::{Mobile, NationalId};
use serde_json::Value;

/// The digests of every identifier in `input`, sorted, each once. A value counts as an
/// identity number or a mobile when it parses as one, wherever it sits (a board
/// member's `idNumber` is as much a person as the top-level one).
pub(crate) fn digests(key: &PiiKey, input: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(key, input, &mut found);
    found.sort_unstable();
    found.dedup();
    found
}

fn collect(key: &PiiKey, value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            if let Ok(id) = NationalId::parse(text) {
                found.push(key.digest(Subject::IdNumber, id.as_str()));
            } else if let Ok(mobile) = Mobile::parse(text) {
                found.push(key.digest(Subject::Mobile, mobile.as_str()));
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(key, v, found)),
        Value::Object(members) => members.values().for_each(|v| collect(key, v, found)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_identity_number_and_mobile_is_digested_once() {
        let key = PiiKey::new("a personal-data key that is long enough").unwrap();
        let input = json!({
            "unifiedNumber": "7000000001",
            "board": [
                {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
                {"idNumber": "2000000006"},
                {"idNumber": "1000000008"}
            ],
            "mobile": "0512345678",
            "expectedNameAr": "محمد"
        });
        let digests = digests(&key, &input);
        let mut expected = vec![
            key.digest(Subject::IdNumber, "1000000008"),
            key.digest(Subject::IdNumber, "2000000006"),
            key.digest(
                Subject::Mobile,
                Mobile::parse("0512345678").unwrap().as_str(),
            ),
        ];
        expected.sort();
        assert_eq!(digests, expected);
        // Both spellings of a mobile are one person.
        assert_eq!(
            super::digests(&key, &json!({"m": "966512345678"})),
            super::digests(&key, &json!({"m": "0512345678"}))
        );
        assert!(super::digests(&key, &json!({"shortAddress": "RRRD2929"})).is_empty());
    }
}
