//! Turns a composite's declaration into a checked [`CompositeSpec`], or says what is
//! wrong with it, naming the child and the field.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rabt_core::ServiceName;
use serde_json::Value;

use super::{Binding, Child, CompositeSpec, JsonPointer, Source, SourceRoot};
use crate::file::{BindingEntry, ChildEntry, CompositeEntry, SourceEntry};
use crate::schema::Documents;

/// What a composite may know of another service of the catalogue.
#[derive(Debug)]
pub(crate) struct Known {
    pub(crate) input: String,
    pub(crate) output: String,
    pub(crate) composite: bool,
}

/// Everything a composite's declaration is checked against.
pub(crate) struct Context<'a> {
    /// The composite's own input schema file.
    pub(crate) input: &'a str,
    pub(crate) deadline: Duration,
    pub(crate) services: &'a BTreeMap<String, Known>,
    pub(crate) documents: &'a Documents,
}

type Problem = String;

/// The service each child calls, by child id.
type Siblings<'a> = BTreeMap<&'a str, &'a ServiceName>;

/// Checks a declaration; the error says what is wrong, naming the child.
pub(crate) fn build(entry: CompositeEntry, cx: &Context<'_>) -> Result<CompositeSpec, Problem> {
    let mut children: Vec<Child> = Vec::new();
    for entry in entry.children {
        if children.iter().any(|c| c.id == entry.id) {
            return Err(format!("two children have the id `{}`", entry.id));
        }
        children.push(parse_child(entry)?);
    }
    let siblings: Siblings<'_> = children
        .iter()
        .map(|c| (c.id.as_str(), &c.service))
        .collect();
    for child in &children {
        check_child(child, &siblings, cx)?;
    }
    let children = in_order(children)?;
    check_deadlines(&children, cx.deadline)?;
    Ok(CompositeSpec { children })
}

fn parse_child(entry: ChildEntry) -> Result<Child, Problem> {
    let id = entry.id;
    let service = ServiceName::parse(&entry.service).map_err(|e| format!("child `{id}`: {e}"))?;
    let for_each = entry
        .for_each
        .map(|s| parse_source(&s, &id, "forEach"))
        .transpose()?;
    let mut input = BTreeMap::new();
    for (field, binding) in entry.input {
        let binding = match binding {
            BindingEntry::Value(v) => Binding::Value(v.value),
            BindingEntry::Read(read) => {
                let source = SourceEntry {
                    from: read.from,
                    pointer: read.pointer,
                };
                Binding::Read {
                    source: parse_source(&source, &id, &field)?,
                    optional: read.optional,
                }
            }
        };
        input.insert(field, binding);
    }
    Ok(Child {
        service,
        title: entry.title,
        required: entry.required,
        deadline: Duration::from_millis(entry.deadline_ms),
        after: entry.after,
        for_each,
        input,
        id,
    })
}

fn parse_source(entry: &SourceEntry, child: &str, field: &str) -> Result<Source, Problem> {
    let pointer = JsonPointer::parse(&entry.pointer).map_err(|reason| {
        format!(
            "child `{child}`: `{field}`: bad pointer `{}`: {reason}",
            entry.pointer
        )
    })?;
    let root = match entry.from.as_str() {
        "input" => SourceRoot::Input,
        "item" => SourceRoot::Item,
        other => SourceRoot::Child(other.to_owned()),
    };
    Ok(Source { root, pointer })
}

fn check_child(child: &Child, siblings: &Siblings<'_>, cx: &Context<'_>) -> Result<(), Problem> {
    let id = &child.id;
    let known = cx.services.get(child.service.as_str()).ok_or_else(|| {
        format!(
            "child `{id}` calls `{}`, which is not a service of the catalogue",
            child.service
        )
    })?;
    if known.composite {
        return Err(format!(
            "child `{id}` calls `{}`, which is itself a composite (children must be agency services)",
            child.service
        ));
    }
    for waited in &child.after {
        if waited == id {
            return Err(format!("child `{id}` waits for itself"));
        }
        if !siblings.contains_key(waited.as_str()) {
            return Err(format!(
                "child `{id}` waits for `{waited}`, which is not a child of this composite"
            ));
        }
    }
    if let Some(source) = &child.for_each {
        if source.root == SourceRoot::Item {
            return Err(format!("child `{id}`: `forEach` cannot read `item`"));
        }
        check_source(child, "forEach", source, siblings, cx)?;
    }
    check_fields(child, known, cx)?;
    for (field, binding) in &child.input {
        if let Binding::Read { source, .. } = binding {
            check_source(child, field, source, siblings, cx)?;
        }
    }
    Ok(())
}

/// Every field exists in the child service's input schema; every required one is given.
fn check_fields(child: &Child, known: &Known, cx: &Context<'_>) -> Result<(), Problem> {
    let schema = cx.documents.file(&known.input);
    let declared = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    if let Some(declared) = declared
        && let Some(field) = child.input.keys().find(|f| !declared.contains_key(*f))
    {
        return Err(format!(
            "child `{}`: `{field}` is not a field of `{}`'s input",
            child.id, child.service
        ));
    }
    let required = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for field in required {
        if !child.input.contains_key(field) {
            return Err(format!(
                "child `{}`: `{}` requires `{field}`, which the declaration does not give",
                child.id, child.service
            ));
        }
    }
    Ok(())
}

/// The source's document is one the child may read, and its schema declares the
/// pointed-at value.
fn check_source(
    child: &Child,
    field: &str,
    source: &Source,
    siblings: &Siblings<'_>,
    cx: &Context<'_>,
) -> Result<(), Problem> {
    let id = &child.id;
    let (file, mut tokens) = match &source.root {
        SourceRoot::Input => (cx.input, Vec::new()),
        SourceRoot::Item => {
            let Some(array) = &child.for_each else {
                return Err(format!(
                    "child `{id}`: `{field}` reads `item` but the child has no `forEach`"
                ));
            };
            let (file, mut tokens) = document_of(child, array, siblings, cx)?;
            tokens.extend(array.pointer.tokens());
            tokens.push("0".to_owned());
            (file, tokens)
        }
        SourceRoot::Child(_) => document_of(child, source, siblings, cx)?,
    };
    tokens.extend(source.pointer.tokens());
    if cx.documents.declares(file, &tokens) {
        Ok(())
    } else {
        Err(format!(
            "child `{id}`: `{field}` reads {source}, which `{file}` does not declare"
        ))
    }
}

/// The schema file of the document a source (not `item`) reads, and the tokens that
/// lead to the document inside that file (none: a source reads a whole document).
fn document_of<'a>(
    child: &Child,
    source: &Source,
    siblings: &Siblings<'_>,
    cx: &Context<'a>,
) -> Result<(&'a str, Vec<String>), Problem> {
    let id = &child.id;
    let SourceRoot::Child(from) = &source.root else {
        return Ok((cx.input, Vec::new()));
    };
    let Some(service) = siblings.get(from.as_str()) else {
        return Err(format!(
            "child `{id}` reads `{from}`, which is neither `input`, `item` nor a child"
        ));
    };
    if !child.after.contains(from) {
        return Err(format!(
            "child `{id}` reads the output of `{from}` but does not wait for it: add it to `after`"
        ));
    }
    // Every sibling's service was found in the catalogue before sources are checked.
    let known = cx.services.get(service.as_str()).ok_or_else(|| {
        format!("child `{from}` calls `{service}`, which is not a service of the catalogue")
    })?;
    Ok((known.output.as_str(), Vec::new()))
}

/// Orders the children so that each comes after those it waits for, keeping the
/// declaration order otherwise; a cycle is named child by child.
fn in_order(children: Vec<Child>) -> Result<Vec<Child>, Problem> {
    let mut pending: Vec<Child> = children;
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|c| c.after.iter().all(|a| done.contains(a)));
        match ready {
            Some(index) => {
                let child = pending.remove(index);
                done.insert(child.id.clone());
                ordered.push(child);
            }
            None => return Err(describe_cycle(&pending)),
        }
    }
    Ok(ordered)
}

/// Follows waits among children none of which can start; they must loop.
fn describe_cycle(stuck: &[Child]) -> Problem {
    let waits: BTreeMap<&str, &str> = stuck
        .iter()
        .filter_map(|c| {
            let blocker = c.after.iter().find(|a| stuck.iter().any(|s| &s.id == *a))?;
            Some((c.id.as_str(), blocker.as_str()))
        })
        .collect();
    let mut path: Vec<&str> = Vec::new();
    // `in_order` calls this only with children left over, so `stuck` has a first one.
    let mut current = stuck.first().map(|c| c.id.as_str()).unwrap_or_default();
    while !path.contains(&current) {
        path.push(current);
        match waits.get(current) {
            Some(next) => current = next,
            None => break,
        }
    }
    let start = path.iter().position(|p| *p == current).unwrap_or(0);
    let mut cycle: Vec<&str> = path[start..].to_vec();
    cycle.push(current);
    format!(
        "the children wait for each other in a cycle: {}",
        cycle.join(" → ")
    )
}

/// The longest chain of waits, deadline after deadline, fits in the composite's.
fn check_deadlines(ordered: &[Child], deadline: Duration) -> Result<(), Problem> {
    // Children are in order, so each one's predecessors are already measured.
    let mut finish: BTreeMap<&str, (Duration, Vec<&str>)> = BTreeMap::new();
    for child in ordered {
        let (start, mut chain) = child
            .after
            .iter()
            .filter_map(|a| finish.get(a.as_str()))
            .max_by_key(|(end, _)| *end)
            .cloned()
            // A check waiting for nothing starts at zero, at the head of its own chain.
            .unwrap_or_default();
        chain.push(child.id.as_str());
        finish.insert(child.id.as_str(), (start + child.deadline, chain));
    }
    match finish.into_values().max_by_key(|(end, _)| *end) {
        Some((end, chain)) if end > deadline => Err(format!(
            "the chain {} needs {} ms, more than the composite's deadline of {} ms",
            chain.join(" → "),
            end.as_millis(),
            deadline.as_millis()
        )),
        _ => Ok(()),
    }
}
