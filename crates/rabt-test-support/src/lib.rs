//! Helpers for Rabt's tests against the real services, and nothing else: each test gets
//! a PostgreSQL database, a RabbitMQ vhost or a SQLite file of its own, with a random
//! name, removed again when its guard is dropped (pass or fail), and waits for things
//! with a deadline instead of a fixed sleep.
//!
//! It exists only for tests (every user lists it under `[dev-dependencies]`, except the
//! end-to-end harness whose library is itself test support) and is never published. It
//! starts nothing itself: `tests/services.sh` starts PostgreSQL and RabbitMQ and exports
//! `RABT_TEST_DATABASE_URL`, `RABT_TEST_AMQP_URL` and `RABT_TEST_RABBITMQ_API`; a test
//! run without them fails, naming the variable, and never skips. It never mocks a
//! service either. It knows nothing of Rabt's own crates, so every crate's tests may
//! use it without a cycle; what is specific to one crate (a migrated store, a transport,
//! a deployment) stays in that crate's harness.
//!
//! Layout:
//! - [`env`](mod@env): the variables naming the services ([`required_env`]), the
//!   suite's Python ([`python`]) and [`unique`] names.
//! - [`poll`]: [`eventually`] and [`within`], bounded by a timeout.
//! - [`must`]: the same bounded by [`DEADLINE`], failing the test when it passes.
//! - [`postgres`]: [`TempDatabase`], a database created on the test server.
//! - [`rabbitmq`]: [`TempVhost`], a vhost created through the management API.
//! - [`files`]: [`TempDir`] and [`TempSqlite`].
//! - [`any`]: [`TempAnyDatabase`], either of the two databases, by [`Backend`].
//! - [`verifiers`]: independent checks in Python ([`audit_check`]: the sealed audit
//!   log with pymerkle and cryptography).
//! - `cleanup`: how a guard's `Drop` runs async cleanup; `error`: [`Error`].

#![forbid(unsafe_code)]

pub mod any;
mod cleanup;
pub mod env;
mod error;
pub mod files;
pub mod must;
pub mod poll;
pub mod postgres;
pub mod rabbitmq;
pub mod verifiers;

pub use any::{Backend, TempAnyDatabase};
pub use env::{AMQP_URL, DATABASE_URL, PYTHON, RABBITMQ_API, python, required_env, unique};
pub use error::Error;
pub use files::{TempDir, TempSqlite};
pub use must::DEADLINE;
pub use poll::{eventually, within};
pub use postgres::TempDatabase;
pub use rabbitmq::TempVhost;
pub use verifiers::audit_check;
