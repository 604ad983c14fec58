//! The `examples` written in every schema are documentation for cooperatives'
//! developers: they must validate, their dates must agree across calendars, and the
//! bundled (self-contained) form of each schema must accept them without our help.

use rabt_catalogue::{Schema, Service};
use rabt_core::{Agency, DualDate};
use serde_json::Value;

use crate::catalogue;

fn examples(schema: &Schema) -> Vec<&Value> {
    schema.document()["examples"]
        .as_array()
        .map(|e| e.iter().collect())
        .unwrap_or_default()
}

fn every_schema() -> Vec<&'static Schema> {
    let mut schemas: Vec<&Schema> = catalogue()
        .services()
        .flat_map(|s: &Service| [s.input(), s.output()])
        .collect();
    schemas.extend(
        Agency::ALL
            .iter()
            .filter_map(|a| catalogue().callback_schema(*a)),
    );
    schemas
}

#[test]
fn every_schema_has_examples_and_they_validate() {
    for schema in every_schema() {
        let examples = examples(schema);
        assert!(!examples.is_empty(), "{} has no examples", schema.file());
        for example in examples {
            if let Err(v) = schema.validate(example) {
                panic!("{}: example {example} is invalid: {v:#?}", schema.file());
            }
        }
    }
}

/// Every `{"gregorian", "hijri"}` pair (or `…Gregorian`/`…Hijri` siblings) in a value.
fn date_pairs(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, gregorian) in map {
                let Some(stem) = key
                    .strip_suffix("Gregorian")
                    .or((key == "gregorian").then_some(""))
                else {
                    continue;
                };
                let hijri_key = if stem.is_empty() {
                    "hijri".to_owned()
                } else {
                    format!("{stem}Hijri")
                };
                if let (Some(g), Some(h)) = (
                    gregorian.as_str(),
                    map.get(&hijri_key).and_then(Value::as_str),
                ) {
                    out.push((g.to_owned(), h.to_owned()));
                }
            }
            map.values().for_each(|v| date_pairs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| date_pairs(v, out)),
        _ => {}
    }
}

#[test]
fn example_dates_name_the_same_day_in_both_calendars() {
    let mut pairs = Vec::new();
    for schema in every_schema() {
        for example in examples(schema) {
            date_pairs(example, &mut pairs);
        }
    }
    assert!(pairs.len() > 10, "only {} date pairs found", pairs.len());
    for (gregorian, hijri) in pairs {
        let pair = serde_json::json!({"gregorian": gregorian, "hijri": hijri});
        if let Err(e) = serde_json::from_value::<DualDate>(pair) {
            panic!("{gregorian} / {hijri}: {e}");
        }
    }
}

#[test]
fn bundled_schemas_stand_alone() {
    for schema in every_schema() {
        // No retriever: every $ref must resolve inside the bundled document. Our own
        // formats are unknown to a plain validator and so only annotate.
        let validator = match jsonschema::options().build(schema.bundled()) {
            Ok(v) => v,
            Err(e) => panic!(
                "{}: the bundled schema does not compile alone: {e}",
                schema.file()
            ),
        };
        for example in examples(schema) {
            assert!(validator.is_valid(example), "{}: {example}", schema.file());
        }
    }
}

#[test]
fn bundled_schemas_reject_what_ours_reject_by_pattern() {
    let post = catalogue().service("post.address.verify").unwrap();
    let validator = jsonschema::options().build(post.input().bundled()).unwrap();
    assert!(validator.is_valid(&serde_json::json!({"shortAddress": "RRRD2929"})));
    assert!(!validator.is_valid(&serde_json::json!({"shortAddress": "RRR2929"})));
    assert!(
        !validator
            .is_valid(&serde_json::json!({"shortAddress": "RRRD2929", "postalCode": "12211"}))
    );
}
