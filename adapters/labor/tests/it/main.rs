//! The labor adapter against its simulator over real sockets: the conformance kit, the
//! golden cases and the OAuth2 tokens.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod conformance;
mod golden;
mod tokens;
