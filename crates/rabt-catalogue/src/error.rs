//! Why a catalogue cannot be loaded. Every variant names the file, and for
//! `catalogue.json` the service (and child) at fault, so a wrong edit to schemas/ is
//! found by the first test run rather than by a cooperative.

use rabt_core::{Agency, ServiceName};

use crate::violation::Violation;

/// A catalogue that cannot be loaded, and why.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A deadline override names no service and no check of a composite.
    #[error(
        "no service or composite check `{key}` to set a deadline for (use `<service>` or `<composite>/<check>`)"
    )]
    UnknownDeadline {
        /// The key given.
        key: String,
    },
    /// A file is not JSON.
    #[error("{file}: not valid JSON: {source}")]
    Json {
        /// The file, under schemas/.
        file: String,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A file the catalogue names is not there.
    #[error("{file}: no such file under schemas/")]
    MissingFile {
        /// The missing path, under schemas/.
        file: String,
    },
    /// A schema file's `$id` does not match its path, so `$ref`s to it would not resolve.
    #[error("{file}: `$id` must be `{expected}`, found {found:?}")]
    SchemaId {
        /// The file, under schemas/.
        file: String,
        /// The `$id` its path gives it.
        expected: String,
        /// The `$id` it has, if any.
        found: Option<String>,
    },
    /// A schema is not a valid JSON Schema (or names an unknown format).
    #[error("{file}: the schema does not compile: {source}")]
    SchemaCompile {
        /// The file, under schemas/.
        file: String,
        /// jsonschema's error.
        #[source]
        source: Box<jsonschema::ValidationError<'static>>,
    },
    /// `catalogue.json` does not match `catalogue.schema.json`.
    #[error(
        "catalogue.json does not match catalogue.schema.json: {}",
        list(violations)
    )]
    Shape {
        /// Every offending field.
        violations: Vec<Violation>,
    },
    /// `catalogue.json` matches its schema but a value is still refused (e.g. a retry
    /// policy whose maximum backoff is below its initial one).
    #[error("catalogue.json: at {path}: {source}")]
    Parse {
        /// Where, as serde_path_to_error names it (`services[2].retry`).
        path: String,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// Two services share a name.
    #[error("catalogue.json: service `{service}` is declared twice")]
    DuplicateService {
        /// The name.
        service: ServiceName,
    },
    /// A service completes by callback but no callback schema is declared for its agency.
    #[error(
        "catalogue.json: service `{service}` answers by callback but `callbacks` has no schema for agency `{agency}`"
    )]
    MissingCallbackSchema {
        /// The service.
        service: ServiceName,
        /// Its agency.
        agency: Agency,
    },
    /// A composite's declaration is wrong.
    #[error("catalogue.json: composite `{service}`: {problem}")]
    Composite {
        /// The composite service.
        service: ServiceName,
        /// What is wrong, naming the child.
        problem: String,
    },
}

fn list(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", display_pointer(&v.pointer), v.message.en))
        .collect::<Vec<_>>()
        .join("; ")
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(root)"
    } else {
        pointer
    }
}
