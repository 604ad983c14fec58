//! The serde shape of `catalogue.json`, read only after the file has been checked
//! against `catalogue.schema.json`; [`crate::catalogue`] turns it into checked types.

use std::collections::BTreeMap;

use rabt_core::{Agency, RetryPolicy, ServiceName};
use serde::Deserialize;
use serde_json::Value;

use crate::service::{Localized, Mode};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CatalogueFile {
    /// For editors; not used.
    #[serde(rename = "$schema")]
    _schema: Option<String>,
    /// Always 1 (the schema says so); a new shape of the file is a new version.
    #[serde(rename = "version")]
    _version: u32,
    #[serde(default)]
    pub(crate) callbacks: BTreeMap<Agency, String>,
    pub(crate) services: Vec<ServiceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ServiceEntry {
    pub(crate) name: ServiceName,
    pub(crate) title: Localized,
    pub(crate) description: Localized,
    pub(crate) agency: Option<Agency>,
    pub(crate) mode: Option<Mode>,
    pub(crate) deadline_ms: u64,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) input: String,
    pub(crate) output: String,
    pub(crate) composite: Option<CompositeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CompositeEntry {
    pub(crate) children: Vec<ChildEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChildEntry {
    pub(crate) id: String,
    pub(crate) service: String,
    pub(crate) title: Localized,
    pub(crate) required: bool,
    pub(crate) deadline_ms: u64,
    #[serde(default)]
    pub(crate) after: Vec<String>,
    pub(crate) for_each: Option<SourceEntry>,
    pub(crate) input: BTreeMap<String, BindingEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceEntry {
    pub(crate) from: String,
    pub(crate) pointer: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum BindingEntry {
    Read(ReadEntry),
    Value(ValueEntry),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadEntry {
    pub(crate) from: String,
    pub(crate) pointer: String,
    #[serde(default)]
    pub(crate) optional: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValueEntry {
    pub(crate) value: Value,
}
