//! The municipal adapter against its simulator over real sockets: the conformance kit,
//! the golden cases with their signed callbacks, and what a submission sends.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod conformance;
mod golden;
mod submission;
mod support;
