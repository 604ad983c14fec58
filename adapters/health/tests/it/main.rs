//! The health ministry's adapter against its simulator over real sockets: the conformance
//! kit, the golden cases with their signed callbacks, and how submissions fail.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod conformance;
mod errors;
mod golden;
mod support;
