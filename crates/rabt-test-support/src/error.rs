//! The one error type of this crate.

use std::time::Duration;

/// What went wrong setting up, waiting or cleaning up. A missing environment variable
/// is not here: [`required_env`](crate::required_env) panics, naming it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`eventually`](crate::eventually) or [`within`](crate::within) ran out of time.
    #[error("{what}: not done within {timeout:?}")]
    TimedOut {
        /// What was awaited, as the caller put it.
        what: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// An environment variable is not a URL (the message never repeats the value: it
    /// holds a password).
    #[error("{variable} is not a valid URL")]
    BadUrl {
        /// The variable.
        variable: &'static str,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// An environment variable is a URL without a path (such as `mailto:`).
    #[error("{variable} is not a URL with a path")]
    NoPath {
        /// The variable.
        variable: &'static str,
    },
    /// A database name prefix that would need quoting in SQL.
    #[error(
        "database name prefix {prefix:?}: use 1 to 31 lower-case ASCII letters, digits \
         and underscores, starting with a letter"
    )]
    BadPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// A PostgreSQL statement or connection failed.
    #[error("PostgreSQL: {action}")]
    Postgres {
        /// What was being done.
        action: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The RabbitMQ management API could not be reached.
    #[error("RabbitMQ management API: {action}")]
    Management {
        /// What was being done.
        action: String,
        /// The HTTP client's error (its URL carries no credentials).
        #[source]
        source: reqwest::Error,
    },
    /// The RabbitMQ management API refused a request.
    #[error("RabbitMQ management API: {action}: HTTP {status}")]
    ManagementStatus {
        /// What was being done.
        action: String,
        /// The status it answered.
        status: u16,
    },
    /// A file or folder operation failed.
    #[error("{action}")]
    Io {
        /// What was being done.
        action: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The thread running a cleanup panicked.
    #[error("the cleanup thread panicked")]
    CleanupPanicked,
}
