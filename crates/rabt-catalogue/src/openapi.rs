//! The catalogue's schemas as OpenAPI 3.1 components. OpenAPI tools (validators, code
//! generators) resolve `$ref`s within the one document and do not follow the embedded
//! `$id`s of a JSON Schema compound document, so the bundled form of
//! [`Schema::bundled`](crate::Schema::bundled) is not for them. Here every schema file
//! becomes a component of its own, each of its `$defs` another (`common.nationalId`), and
//! every `$ref` is rewritten to `#/components/schemas/…`: a flat set that validates the
//! same instances and resolves with no base URI at all.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::SCHEMA_BASE_URI;
use crate::schema::{Documents, join_uri, percent_decode};

/// Where components live in an OpenAPI document.
const COMPONENTS: &str = "#/components/schemas/";

/// The component name of the schema file at `path` under schemas/:
/// `services/x.input.json` → `x.input`, `callbacks/municipal.json` → `callback.municipal`,
/// `common.json` → `common`.
pub fn component_name(path: &str) -> String {
    let stem = path.strip_suffix(".json").unwrap_or(path);
    match stem.split_once('/') {
        Some(("services", rest)) => rest.to_owned(),
        Some(("callbacks", rest)) => format!("callback.{rest}"),
        _ => stem.replace('/', "."),
    }
}

/// The components of the files at `roots` and of every file they refer to.
pub(crate) fn components(documents: &Documents, roots: &[&str]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut pending: Vec<String> = roots.iter().map(|p| (*p).to_owned()).collect();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(document) = documents.file(&path) else {
            continue;
        };
        let base = format!("{SCHEMA_BASE_URI}{path}");
        let mut referred = Vec::new();
        let mut rewritten = rewrite(document, &base, &mut referred);
        pending.extend(referred);
        let name = component_name(&path);
        let Some(object) = rewritten.as_object_mut() else {
            continue;
        };
        object.remove("$id");
        object.remove("$schema");
        if let Some(Value::Object(defs)) = object.remove("$defs") {
            for (def, schema) in defs {
                out.insert(format!("{name}.{def}"), schema);
            }
        }
        // A file of definitions only (common.json) has no schema of its own.
        if object
            .keys()
            .any(|k| !matches!(k.as_str(), "title" | "description" | "$comment"))
        {
            out.insert(name, rewritten);
        }
    }
    out
}

/// `node` with each `$ref` (written in the file at `base`) pointing at its component;
/// the paths of the files referred to are pushed to `referred`.
fn rewrite(node: &Value, base: &str, referred: &mut Vec<String>) -> Value {
    match node {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                let value = match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => {
                        Value::String(component_ref(base, reference, referred))
                    }
                    _ => rewrite(value, base, referred),
                };
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| rewrite(v, base, referred)).collect())
        }
        other => other.clone(),
    }
}

/// `#/components/schemas/<file>[.<def>][<rest of the pointer>]` for a `$ref`; a
/// reference outside the embedded files is kept as it is.
fn component_ref(base: &str, reference: &str, referred: &mut Vec<String>) -> String {
    let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    let uri = if target.is_empty() {
        base.to_owned()
    } else {
        match join_uri(base, target) {
            Some(uri) => uri,
            None => return reference.to_owned(),
        }
    };
    let Some(path) = uri.strip_prefix(SCHEMA_BASE_URI) else {
        return reference.to_owned();
    };
    referred.push(path.to_owned());
    let name = component_name(path);
    let pointer = percent_decode(fragment);
    match pointer.strip_prefix("/$defs/") {
        Some(rest) => {
            let (def, deeper) = rest.split_once('/').map_or((rest, ""), |(d, r)| (d, r));
            let deeper = if deeper.is_empty() {
                String::new()
            } else {
                format!("/{deeper}")
            };
            format!("{COMPONENTS}{name}.{def}{deeper}")
        }
        None => format!("{COMPONENTS}{name}{pointer}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn files_and_definitions_get_names_of_their_own() {
        assert_eq!(
            component_name("services/post.address.verify.input.json"),
            "post.address.verify.input"
        );
        assert_eq!(
            component_name("callbacks/municipal.json"),
            "callback.municipal"
        );
        assert_eq!(component_name("common.json"), "common");
    }

    #[test]
    fn references_point_at_components() {
        let base = format!("{SCHEMA_BASE_URI}services/x.input.json");
        let mut referred = Vec::new();
        let node = json!({
            "properties": {
                "id": { "$ref": "../common.json#/$defs/nationalId" },
                "deep": { "$ref": "../common.json#/$defs/dualDate/properties/hijri" },
                "self": { "$ref": "#/properties/id" },
                "other": { "$ref": "y.output.json" },
                "far": { "$ref": "https://example.com/s.json" },
            }
        });
        let out = rewrite(&node, &base, &mut referred);
        assert_eq!(
            out["properties"]["id"]["$ref"],
            "#/components/schemas/common.nationalId"
        );
        assert_eq!(
            out["properties"]["deep"]["$ref"],
            "#/components/schemas/common.dualDate/properties/hijri"
        );
        assert_eq!(
            out["properties"]["self"]["$ref"],
            "#/components/schemas/x.input/properties/id"
        );
        assert_eq!(
            out["properties"]["other"]["$ref"],
            "#/components/schemas/y.output"
        );
        assert_eq!(
            out["properties"]["far"]["$ref"],
            "https://example.com/s.json"
        );
        referred.sort();
        assert_eq!(
            referred,
            [
                "common.json",
                "common.json",
                "services/x.input.json",
                "services/y.output.json"
            ]
        );
    }
}
