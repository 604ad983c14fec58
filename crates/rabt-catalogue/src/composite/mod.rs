//! A composite service declared as data: which children it runs, in what order, and
//! how each child's input is built.
//!
//! In `catalogue.json`, a composite lists its children. Each child names a service of
//! the catalogue, whether its outcome decides the verdict (`required`), its own
//! deadline, the children it waits for (`after`), and optionally an array to run over
//! (`forEach`, once per element). Its input is written field by field, each field a
//! [`Binding`]: a value read with a JSON Pointer from the composite's input (`input`),
//! from the current element (`item`) or from an earlier child's output (that child's
//! id), or a fixed `value`. For example the HQ address check reads
//! `{"shortAddress": {"from": "registry", "pointer": "/headquarters/shortAddress"}}`.
//!
//! Loading checks what a typo would otherwise break at run time: children name agency
//! services of the catalogue, every input field exists in the child's input schema and
//! every required one is given, pointers are well formed and name a property the
//! source's schema declares, a child reads only children it waits for, the waits have
//! no cycle, and the longest chain of deadlines fits in the composite's own.
//!
//! Running a composite is the worker's job. The intended semantics: a child starts
//! once every child in its `after` has answered `OK`; if one of them did not, the child
//! is not run and takes that outcome (a registry `TIMEOUT` leaves the verdict
//! `PARTIAL`, a registry `NOT_FOUND` makes it `FAIL`). Its input is built with
//! [`Child::build_input`]; a required value that is absent from an `OK` answer makes
//! the child `INVALID_INPUT`. The verdict comes from the required children's outcomes
//! (`rabt_core::Verdict::from_checks`).

mod check;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rabt_core::ServiceName;
use serde_json::Value;

use crate::service::Localized;

pub(crate) use check::{Context, Known, build};

/// An RFC 6901 JSON Pointer, checked to be well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPointer(String);

impl JsonPointer {
    /// Parses a pointer: empty (the whole document) or `/`-separated reference tokens
    /// in which `~` is only ever followed by `0` or `1`.
    pub fn parse(s: &str) -> Result<JsonPointer, &'static str> {
        if !s.is_empty() && !s.starts_with('/') {
            return Err("a JSON Pointer is empty or starts with `/`");
        }
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                return Err("in a JSON Pointer `~` must be followed by `0` or `1`");
            }
        }
        Ok(JsonPointer(s.to_owned()))
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The reference tokens, unescaped.
    pub fn tokens(&self) -> Vec<String> {
        self.0
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    }

    /// The value the pointer names in `document`, if any.
    pub fn resolve<'v>(&self, document: &'v Value) -> Option<&'v Value> {
        document.pointer(&self.0)
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The document a [`Source`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRoot {
    /// The composite's own input.
    Input,
    /// The current element of the child's `forEach` array.
    Item,
    /// The output of the child with this id, which the reading child waits for.
    Child(String),
}

/// A value read from a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Which document.
    pub root: SourceRoot,
    /// Where in it.
    pub pointer: JsonPointer,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            SourceRoot::Input => write!(f, "input#{}", self.pointer),
            SourceRoot::Item => write!(f, "item#{}", self.pointer),
            SourceRoot::Child(id) => write!(f, "{id}#{}", self.pointer),
        }
    }
}

/// How one field of a child's input is filled.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// Read from a document.
    Read {
        /// Where from.
        source: Source,
        /// Leave the field out when nothing is there, instead of failing the child.
        optional: bool,
    },
    /// A fixed value.
    Value(Value),
}

/// One child of a composite.
#[derive(Debug, Clone)]
pub struct Child {
    /// Names the check in the composite's output and in other children's sources.
    pub id: String,
    /// The agency service it calls.
    pub service: ServiceName,
    /// A name for people.
    pub title: Localized,
    /// Whether its outcome decides the verdict.
    pub required: bool,
    /// Its own deadline, from its start.
    pub deadline: Duration,
    /// The children that must finish before it starts.
    pub after: Vec<String>,
    /// Run once per element of this array.
    pub for_each: Option<Source>,
    /// Its input, field by field.
    pub input: BTreeMap<String, Binding>,
}

/// A required value that is not in its document when a child's input is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("child `{child}`: `{field}` reads {reads}, which is absent or of the wrong type")]
pub struct MissingValue {
    /// The child.
    pub child: String,
    /// The input field (or `forEach`).
    pub field: String,
    /// What it reads, e.g. `registry#/municipalLicenseNumber`.
    pub reads: String,
}

impl Child {
    fn read<'v>(
        &self,
        source: &Source,
        input: &'v Value,
        item: Option<&'v Value>,
        output_of: &impl Fn(&str) -> Option<&'v Value>,
    ) -> Option<&'v Value> {
        let document = match &source.root {
            SourceRoot::Input => Some(input),
            SourceRoot::Item => item,
            SourceRoot::Child(id) => output_of(id),
        }?;
        source.pointer.resolve(document)
    }

    /// The elements to run over, for a `forEach` child; `None` for a child that runs
    /// once. `output_of` gives the output of a finished child by id.
    pub fn items<'v>(
        &self,
        input: &'v Value,
        output_of: impl Fn(&str) -> Option<&'v Value>,
    ) -> Result<Option<&'v [Value]>, MissingValue> {
        let Some(source) = &self.for_each else {
            return Ok(None);
        };
        self.read(source, input, None, &output_of)
            .and_then(Value::as_array)
            .map(|items| Some(items.as_slice()))
            .ok_or_else(|| MissingValue {
                child: self.id.clone(),
                field: "forEach".to_owned(),
                reads: source.to_string(),
            })
    }

    /// The child's input, from the composite's input, the current element (for a
    /// `forEach` child) and the outputs of finished children.
    pub fn build_input<'v>(
        &self,
        input: &'v Value,
        item: Option<&'v Value>,
        output_of: impl Fn(&str) -> Option<&'v Value>,
    ) -> Result<Value, MissingValue> {
        let mut built = serde_json::Map::new();
        for (field, binding) in &self.input {
            let (source, optional) = match binding {
                Binding::Value(value) => {
                    built.insert(field.clone(), value.clone());
                    continue;
                }
                Binding::Read { source, optional } => (source, *optional),
            };
            match self.read(source, input, item, &output_of) {
                Some(value) => {
                    built.insert(field.clone(), value.clone());
                }
                None if optional => {}
                None => {
                    return Err(MissingValue {
                        child: self.id.clone(),
                        field: field.clone(),
                        reads: source.to_string(),
                    });
                }
            }
        }
        Ok(Value::Object(built))
    }
}

/// A composite's children, checked.
#[derive(Debug, Clone)]
pub struct CompositeSpec {
    children: Vec<Child>,
}

impl CompositeSpec {
    /// The child with this id, to change (deadline overrides).
    pub(crate) fn child_mut(&mut self, id: &str) -> Option<&mut Child> {
        self.children.iter_mut().find(|c| c.id == id)
    }

    /// Every child, each after all those it waits for (otherwise in declaration order).
    pub fn children(&self) -> &[Child] {
        &self.children
    }

    /// The child with this id.
    pub fn child(&self, id: &str) -> Option<&Child> {
        self.children.iter().find(|c| c.id == id)
    }

    /// The children that wait for nothing: they start at once.
    pub fn roots(&self) -> impl Iterator<Item = &Child> {
        self.children.iter().filter(|c| c.after.is_empty())
    }

    /// The children that wait for `id`.
    pub fn dependents<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Child> + 'a {
        self.children
            .iter()
            .filter(move |c| c.after.iter().any(|a| a == id))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn pointers_are_checked_and_unescaped() {
        assert!(JsonPointer::parse("").is_ok());
        assert!(JsonPointer::parse("/a/0").is_ok());
        assert!(JsonPointer::parse("a/b").is_err());
        assert!(JsonPointer::parse("/a~2").is_err());
        assert!(JsonPointer::parse("/a~").is_err());
        let p = JsonPointer::parse("/a~1b/c~0d").unwrap();
        assert_eq!(p.tokens(), vec!["a/b", "c~d"]);
    }
}
