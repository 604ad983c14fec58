//! The REST API through `tower::ServiceExt::oneshot`: no socket, a real SQLite store,
//! the embedded transport and the bundled catalogue. Workers are not running here; a
//! test that needs a completed request completes its task through the store, as a
//! worker would.

#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test with its line

mod agencies;
mod audit;
mod callbacks;
mod composite;
mod console;
mod contract;
mod cooperatives;
mod edge;
mod harness;
mod hostile;
mod limits;
mod metrics;
mod notify_url;
mod openapi;
mod ops;
mod requests;
mod services;
mod validation;
