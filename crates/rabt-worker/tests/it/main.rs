//! Integration tests of the worker and the outbox relay, against real services: every
//! behavioural test runs twice, on SQLite with the embedded transport
//! (`<test>::sqlite_embedded`) and on PostgreSQL with RabbitMQ
//! (`<test>::postgres_rabbitmq`), each time on a database and a broker of its own.
//!
//! Requests (composites fanned out as the API fans them out) and agency callbacks are
//! accepted through the store as the API accepts them; relays and workers run against
//! them; scripted adapters play the agencies; outcomes are read back through the store.
//! PostgreSQL and RabbitMQ come from `RABT_TEST_DATABASE_URL`, `RABT_TEST_AMQP_URL` and
//! `RABT_TEST_RABBITMQ_API`; without them those tests fail, naming the variable.

// A panic is how a test reports a failure, helpers outside `#[test]` functions included.
#![allow(clippy::unwrap_used)]

mod agency;
mod broker;
mod fanout;
mod fixtures;
mod notify;
mod rig;
mod services;

mod answers;
mod callbacks;
mod circuit;
mod composite;
mod dead_letters;
mod limits;
mod pause;
mod poison;
mod relay;
mod retries;
mod shutdown;
