//! Compiled schemas, and the set of schema documents their `$ref`s resolve against.
//!
//! Every schema file carries an `$id` under [`SCHEMA_BASE_URI`] that matches its path,
//! so a relative `$ref` such as `../common.json#/$defs/nationalId` names another
//! embedded file; the retriever given to jsonschema serves only those files and
//! never touches the network or the disk.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

use crate::error::CatalogueError;
use crate::service::Localized;
use crate::violation::{self, Violation};
use crate::{SCHEMA_BASE_URI, formats};

/// The schema documents of one catalogue, by absolute URI (their `$id`).
pub(crate) struct Documents {
    by_uri: HashMap<String, Value>,
}

impl fmt::Debug for Documents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut uris: Vec<&String> = self.by_uri.keys().collect();
        uris.sort();
        f.debug_struct("Documents").field("uris", &uris).finish()
    }
}

impl Documents {
    /// Takes every file but the catalogue itself as a schema document; each must carry
    /// the `$id` its path gives it.
    pub(crate) fn new<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Documents, CatalogueError> {
        let mut by_uri = HashMap::new();
        for (path, value) in files {
            let expected = uri_of(path);
            let found = value.get("$id").and_then(Value::as_str);
            if found != Some(expected.as_str()) {
                return Err(CatalogueError::SchemaId {
                    file: path.to_owned(),
                    expected,
                    found: found.map(str::to_owned),
                });
            }
            by_uri.insert(expected, value.clone());
        }
        Ok(Documents { by_uri })
    }

    /// The schema document of the file at `path` under schemas/.
    pub(crate) fn file(&self, path: &str) -> Option<&Value> {
        self.get(&uri_of(path))
    }

    fn get(&self, uri: &str) -> Option<&Value> {
        self.by_uri.get(uri.split('#').next().unwrap_or(uri))
    }

    /// The document with the absolute URI `uri`.
    pub(crate) fn node(&self, uri: &str) -> Option<&Value> {
        self.get(uri)
    }

    /// The document URI and node a `$ref` written in the document at `base` names.
    pub(crate) fn resolve_ref(&self, base: &str, reference: &str) -> Option<(String, &Value)> {
        self.resolve(base, reference)
    }

    /// The `x-rabt-message` of the schema node that holds the keyword at `location`
    /// (an absolute keyword location, `uri#/json/pointer/keyword`).
    pub(crate) fn custom_message(&self, location: &str) -> Option<Localized> {
        let (uri, fragment) = location.split_once('#')?;
        let pointer = percent_decode(fragment);
        let (node, _keyword) = pointer.rsplit_once('/')?;
        let message = self.get(uri)?.pointer(node)?.get("x-rabt-message")?;
        serde_json::from_value(message.clone()).ok()
    }

    /// Whether the schema at `path` (a file under schemas/) declares a value at the
    /// instance location given by `tokens`: each token a property of an object (looked
    /// for in `properties`, through `$ref`s and the branches of `allOf`, `oneOf`,
    /// `anyOf`, `then`, `else`), or an index of an array (its `items`).
    pub(crate) fn declares(&self, path: &str, tokens: &[String]) -> bool {
        let uri = uri_of(path);
        match self.get(&uri) {
            Some(root) => self.declares_in(&uri, root, tokens, 0),
            None => false,
        }
    }

    fn declares_in(&self, base: &str, node: &Value, tokens: &[String], depth: u8) -> bool {
        // Our schemas nest a handful of levels; a bound keeps a cyclic $ref finite.
        if depth > 32 {
            return false;
        }
        let Some((token, rest)) = tokens.split_first() else {
            return true;
        };
        if let Some(reference) = node.get("$ref").and_then(Value::as_str)
            && let Some((uri, target)) = self.resolve(base, reference)
            && self.declares_in(&uri, target, tokens, depth + 1)
        {
            return true;
        }
        let child = node
            .get("properties")
            .and_then(|p| p.get(token.as_str()))
            .or_else(|| {
                let is_index = token == "-" || token.bytes().all(|b| b.is_ascii_digit());
                node.get("items").filter(|_| is_index)
            });
        if let Some(child) = child
            && self.declares_in(base, child, rest, depth + 1)
        {
            return true;
        }
        branches(node).any(|branch| self.declares_in(base, branch, tokens, depth + 1))
    }

    /// The document at `path` with every other document it refers to, transitively,
    /// embedded whole under `$defs` by its `$id` (a Compound Schema Document of
    /// 2020-12), so its `$ref`s resolve without fetching anything.
    ///
    /// jsonschema 0.61's own `bundle` embeds the node a `$ref` points at under its
    /// document's URI, so two references into `common.json` overwrite each other.
    pub(crate) fn bundle(&self, path: &str, document: &Value) -> Value {
        let root = uri_of(path);
        let mut embedded: BTreeMap<String, Value> = BTreeMap::new();
        let mut pending = vec![(root.clone(), document)];
        while let Some((base, node)) = pending.pop() {
            let mut references = Vec::new();
            collect_references(node, &mut references);
            for reference in references {
                let target = reference
                    .split_once('#')
                    .map_or(reference, |(document, _)| document);
                if target.is_empty() {
                    continue;
                }
                let Some(uri) = join_uri(&base, target) else {
                    continue;
                };
                if uri == root || embedded.contains_key(&uri) {
                    continue;
                }
                if let Some(doc) = self.get(&uri) {
                    embedded.insert(uri.clone(), doc.clone());
                    pending.push((uri, doc));
                }
            }
        }
        let mut bundled = document.clone();
        if let Some(object) = bundled.as_object_mut() {
            let defs = object
                .entry("$defs")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Some(defs) = defs.as_object_mut() {
                defs.extend(embedded);
            }
        }
        bundled
    }

    /// The document and node a `$ref` written in the document at `base` names.
    fn resolve(&self, base: &str, reference: &str) -> Option<(String, &Value)> {
        let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let uri = if target.is_empty() {
            base.split('#').next().unwrap_or(base).to_owned()
        } else {
            join_uri(base, target)?
        };
        let node = self.get(&uri)?.pointer(&percent_decode(fragment))?;
        Some((uri, node))
    }
}

/// Every `$ref` string in a schema document.
fn collect_references<'v>(node: &'v Value, out: &mut Vec<&'v str>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => out.push(reference),
                    _ => collect_references(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

/// The subschemas that apply to an instance beside the node itself: `allOf`, `oneOf`,
/// `anyOf`, `then` and `else` (what normalizing and finding a declared property both
/// walk into).
pub(crate) fn branches(node: &Value) -> impl Iterator<Item = &Value> {
    ["allOf", "oneOf", "anyOf"]
        .into_iter()
        .filter_map(|k| node.get(k).and_then(Value::as_array))
        .flatten()
        .chain(node.get("then"))
        .chain(node.get("else"))
}

/// The `$id` of the file at `path` under schemas/.
pub(crate) fn uri_of(path: &str) -> String {
    format!("{SCHEMA_BASE_URI}{path}")
}

/// Resolves a relative reference (`../common.json`, `x.json`) against `base`.
pub(crate) fn join_uri(base: &str, reference: &str) -> Option<String> {
    if reference.contains("://") {
        return Some(reference.to_owned());
    }
    let (origin, path) = base.split_once("://")?;
    let mut segments: Vec<&str> = path.split('/').collect();
    segments.pop(); // the base document's own file name
    for part in reference.split('/') {
        match part {
            "." | "" => {}
            ".." => {
                // Never climb above the host.
                if segments.len() > 1 {
                    segments.pop();
                }
            }
            other => segments.push(other),
        }
    }
    Some(format!("{origin}://{}", segments.join("/")))
}

/// Decodes `%XX` escapes (jsonschema writes `$defs` as `%24defs` in a URI fragment).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves `$ref`s from the embedded documents only.
struct Embedded(Arc<Documents>);

impl Retrieve for Embedded {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .get(uri.as_str())
            .cloned()
            .ok_or_else(|| format!("`{uri}` is not one of the embedded schema files").into())
    }
}

/// A schema compiled once, ready to validate many documents.
pub struct Schema {
    file: String,
    document: Value,
    bundled: Value,
    validator: Validator,
    documents: Arc<Documents>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema").field("file", &self.file).finish()
    }
}

impl Schema {
    /// Compiles the schema file at `path` under schemas/.
    pub(crate) fn compile(
        documents: &Arc<Documents>,
        path: &str,
    ) -> Result<Schema, CatalogueError> {
        let document = documents
            .get(&uri_of(path))
            .ok_or_else(|| CatalogueError::MissingFile {
                file: path.to_owned(),
            })?
            .clone();
        let options = formats::register(jsonschema::options())
            // Draft 2020-12 only annotates `format` by default; ours must assert, and a
            // misspelt format name must fail here rather than check nothing.
            .should_validate_formats(true)
            .should_ignore_unknown_formats(false)
            .with_retriever(Embedded(Arc::clone(documents)));
        let validator =
            options
                .build(&document)
                .map_err(|source| CatalogueError::SchemaCompile {
                    file: path.to_owned(),
                    source: Box::new(source),
                })?;
        let bundled = documents.bundle(path, &document);
        Ok(Schema {
            file: path.to_owned(),
            document,
            bundled,
            validator,
            documents: Arc::clone(documents),
        })
    }

    /// Rewrites in `value` what the schema marks as written several ways
    /// (`x-rabt-normalize`: Arabic-Indic digits, mobile spellings, …) into its one
    /// canonical spelling, and whole-number floats where an integer is asked for.
    /// Call it before [`Schema::validate`], and store what it leaves.
    pub fn normalize(&self, value: &mut Value) {
        self.documents.normalize(&self.file, value);
    }

    /// Validates a document; on failure, every offending field.
    pub fn validate(&self, value: &Value) -> Result<(), Vec<Violation>> {
        // The fast path allocates nothing; errors are gathered only for invalid input.
        if self.validator.is_valid(value) {
            return Ok(());
        }
        Err(violation::collect(
            self.validator.iter_errors(value),
            &self.documents,
        ))
    }

    /// The file's path under schemas/, e.g. `services/post.address.verify.input.json`.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The schema as written, with `$ref`s to other files (e.g. `../common.json`).
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The schema with every file it refers to embedded under `$defs`: one
    /// self-contained document a client can validate with, offline.
    pub fn bundled(&self) -> &Value {
        &self.bundled
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn relative_references_resolve_against_the_base() {
        let base = "https://h/rabt/schemas/services/x.json";
        assert_eq!(
            join_uri(base, "../common.json").unwrap(),
            "https://h/rabt/schemas/common.json"
        );
        assert_eq!(
            join_uri(base, "y.json").unwrap(),
            "https://h/rabt/schemas/services/y.json"
        );
        assert_eq!(
            join_uri(base, "https://other/z.json").unwrap(),
            "https://other/z.json"
        );
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("/%24defs/a%2"), "/$defs/a%2");
    }
}
