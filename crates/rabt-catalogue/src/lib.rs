//! The service catalogue of Rabt: which services exist, which agency serves each (or
//! which children a composite runs), how long they may take, how they are retried, and
//! the JSON Schemas of their inputs, outputs and of the agencies' callbacks.
//!
//! The workspace's `schemas/` folder is embedded in the library at compile time
//! ([`Catalogue::bundled`]), every schema is compiled once when the catalogue loads,
//! and validation reports every offending field as a [`Violation`]: an RFC 6901 JSON
//! Pointer to the field itself and a message in English and Arabic written here, never
//! echoing the value (which may be a national ID). Identifier formats (`rabt-national-id`,
//! …) are checked by rabt-core's parsers, so the Luhn check digit is enforced by schema
//! validation.
//!
//! This crate reads no file and opens no socket at run time; `$ref`s resolve only
//! against the embedded files. It depends on rabt-core only, never on the queue, the
//! store, the API or an adapter. It declares composites as data; running them is the
//! worker's job.
//!
//! Layout:
//! - [`catalogue`]: [`Catalogue`], loading and checking `catalogue.json`.
//! - [`service`]: [`Service`], [`ServiceKind`], [`Mode`], [`Localized`].
//! - [`composite`]: the typed composite declaration ([`CompositeSpec`], [`Child`],
//!   [`Binding`], [`Source`], [`JsonPointer`]) and its checks.
//! - [`schema`]: [`Schema`], a compiled schema, and the offline resolution of `$ref`s.
//! - [`violation`]: [`Violation`] and the bilingual messages.
//! - [`openapi`]: the schemas as flat OpenAPI 3.1 components (`$ref`s rewritten).
//! - `formats`: the `rabt-…` formats, backed by rabt-core's parsers; `normalize`: the
//!   one spelling of what may be written several ways (digits, mobiles), by schema
//!   annotation.
//! - `file`: the serde shape of `catalogue.json`.
//! - [`error`]: the [`CatalogueError`] of a catalogue that does not load.

#![forbid(unsafe_code)]

pub mod catalogue;
pub mod composite;
pub mod error;
mod file;
mod formats;
mod normalize;
pub mod openapi;
pub mod schema;
pub mod service;
pub mod violation;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_schemas.rs"));
}

pub use catalogue::Catalogue;
pub use composite::{Binding, Child, CompositeSpec, JsonPointer, MissingValue, Source, SourceRoot};
pub use error::CatalogueError;
pub use schema::Schema;
pub use service::{Localized, Mode, Service, ServiceKind};
pub use violation::Violation;

/// The base URI of every schema's `$id`: a file at `services/x.json` under `schemas/`
/// has the `$id` `{SCHEMA_BASE_URI}services/x.json`, so relative `$ref`s between files
/// resolve to the embedded files.
pub const SCHEMA_BASE_URI: &str = "https://rabt-gateway.github.io/rabt/schemas/";

/// The path of the catalogue file under `schemas/`.
pub const CATALOGUE_FILE: &str = "catalogue.json";

/// The path of the catalogue file's own schema under `schemas/`.
pub const CATALOGUE_SCHEMA_FILE: &str = "catalogue.schema.json";

/// Every embedded file, as `(path under schemas/, contents)`, sorted by path. Useful to
/// serve the schema files to clients so that the `$ref`s in them resolve.
pub fn bundled_files() -> &'static [(&'static str, &'static str)] {
    embedded::FILES
}
