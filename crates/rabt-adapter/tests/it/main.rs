//! The HTTP client over real sockets: TLS, client certificates, limits and errors.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod http_client;
