//! The Saudi Post adapter against its simulator over real sockets: the conformance kit
//! and the golden cases.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod conformance;
mod golden;
