#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test with its line

//! End-to-end tests: the `rabt` binary as a cooperative and an operator would run it.
//! `demo` needs nothing; `serve` and `kill_worker` need the PostgreSQL and RabbitMQ that
//! tests/run.sh starts.

mod abuse;
mod audit;
mod broker_outage;
mod composite;
mod conformance;
mod console;
mod demo;
mod deploy;
mod dlq;
mod drill;
mod keys;
mod kill_worker;
mod limits;
mod metrics;
mod notify;
mod sandbox;
mod serve;
mod shutdown;
mod traces;
