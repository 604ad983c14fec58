//! The agencies as Rabt meets them outside production: one fictional world, the
//! framework every agency simulator is built on, and the kit that checks an adapter
//! against its simulator.
//!
//! Production code never depends on this crate: the worker sees agencies only through
//! `rabt-adapter`'s contract. The adapter crates depend on it for their simulators and
//! their tests, and the binary for `rabt demo` and `rabt simulate` (its `agencies`
//! module is the one place that serves simulators). Like the adapters, it never sees
//! the queue, the store or the API.
//!
//! Layout:
//! - [`world`]: the deterministic fictional world every simulator serves (addresses,
//!   people, cooperatives and their records at every agency), with the golden fixtures.
//! - [`simulator`]: what every agency simulator shares: fault knobs and their rendering,
//!   credential and request-id checks, serving on a port.
//! - [`callback`]: how a simulator of such an agency calls Rabt back (signed with
//!   Standard Webhooks, see [`rabt_webhook`]).
//! - [`tls`]: mutual TLS for the simulators of agencies that require it: a server that
//!   requires client certificates, and the throwaway sandbox PKI.
//! - [`registry`]: how an adapter crate tells the binary to build its simulator.
//! - [`conformance`]: the test kit every adapter runs against its simulator, and the
//!   helpers adapters' own tests share (one call, a fake of Rabt's callback endpoint,
//!   assertions on errors).

#![forbid(unsafe_code)]

pub use rabt_webhook as webhook;
pub use registry::{Simulated, SimulatorParts};

pub mod callback;
pub mod conformance;
pub mod registry;
pub mod simulator;
pub mod tls;
pub mod world;
