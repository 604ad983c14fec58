//! Integration tests of the worker and the outbox relay, against real services: every
//! behavioural test runs twice, on SQLite with the embedded transport
//! (`<test>::sqlite_embedded`) and on PostgreSQL with RabbitMQ
//! (`<test>::postgres_rabbitmq`), each time on a database and a broker of its own.
//!
//! Requests are accepted through the store as the API accepts them; a relay and a worker
//! run against them; a scripted Saudi Post adapter plays the agency; outcomes are read
//! back through the store. PostgreSQL and RabbitMQ come from `RABT_TEST_DATABASE_URL`,
//! `RABT_TEST_AMQP_URL` and `RABT_TEST_RABBITMQ_API`; without them those tests fail,
//! naming the variable.

// A panic is how a test reports a failure, helpers outside `#[test]` functions included.
#![allow(clippy::unwrap_used)]

mod agency;
mod rig;
mod services;

mod answers;
mod poison;
mod relay;
mod retries;
mod shutdown;
