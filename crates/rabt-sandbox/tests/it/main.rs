//! The sandbox as its users meet it: the conformance kit against a deliberately broken
//! adapter, and docs/sandbox.md against the world.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod conformance_kit;
mod sandbox_doc;
