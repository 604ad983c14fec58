//! Integration tests of the catalogue: the bundled schemas/ folder, validation of
//! inputs and outputs with exact pointers, and composite declarations.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod bundled;
mod composite;
mod deadlines;
mod examples;
mod inputs;
mod outputs;

use std::sync::OnceLock;

use rabt_catalogue::{Catalogue, Service, Violation};
use serde_json::Value;

/// The bundled catalogue, loaded once for all tests.
pub(crate) fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| match Catalogue::bundled() {
        Ok(catalogue) => catalogue,
        Err(e) => panic!("the bundled catalogue does not load: {e}"),
    })
}

pub(crate) fn service(name: &str) -> &'static Service {
    catalogue()
        .service(name)
        .unwrap_or_else(|| panic!("no service `{name}`"))
}

/// The input as the API validates it: written in its canonical spelling first.
pub(crate) fn normalized(service_name: &str, input: &Value) -> Value {
    let mut input = input.clone();
    service(service_name).normalize_input(&mut input);
    input
}

/// The violations of an input that must be invalid (normalized first, as by the API).
pub(crate) fn violations(service_name: &str, input: &Value) -> Vec<Violation> {
    match service(service_name).validate_input(&normalized(service_name, input)) {
        Ok(()) => panic!("{service_name}: {input} should be invalid"),
        Err(violations) => violations,
    }
}

/// `(pointer, keyword)` of each violation.
pub(crate) fn pointers(violations: &[Violation]) -> Vec<(&str, &str)> {
    violations
        .iter()
        .map(|v| (v.pointer.as_str(), v.keyword.as_str()))
        .collect()
}

pub(crate) fn assert_valid_input(service_name: &str, input: &Value) {
    if let Err(violations) = service(service_name).validate_input(&normalized(service_name, input))
    {
        panic!("{service_name}: {input} should be valid: {violations:#?}");
    }
}
