//! Integration tests of rabt-queue: the shared behaviour on both transports, what only
//! RabbitMQ has (topology, reconnects, prefetch on the broker) and what only the
//! embedded broker has. RabbitMQ tests need RABT_TEST_AMQP_URL and
//! RABT_TEST_RABBITMQ_API; each runs in a vhost of its own.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod amqp;
mod behaviour;
mod embedded;
mod proxy;
mod support;
