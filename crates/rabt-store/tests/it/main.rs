//! The store's one test suite. Every test runs twice, on SQLite and on PostgreSQL
//! (`<test>::sqlite`, `<test>::postgres`), each time on a database of its own.
//! PostgreSQL comes from `RABT_TEST_DATABASE_URL`; without it those tests fail, naming
//! the variable.

// A panic is how a test reports a failure.
#![allow(clippy::unwrap_used)]

mod fixtures;
mod harness;

mod accept;
mod accept_batch;
mod admin;
mod audit_concurrency;
mod audit_seal;
mod audit_tamper;
mod callbacks;
mod compose;
mod concurrency;
mod connections;
mod console;
mod cooperatives;
mod dead_letter_replay;
mod dead_letters;
mod decide;
mod expire;
mod key_cache;
mod lifecycle;
mod limits;
mod notifications;
mod outbox;
mod reads;
mod retention;
mod schema;
