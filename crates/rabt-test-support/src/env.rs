//! The environment variables that name the real services, and names no other test
//! run will pick.

/// A PostgreSQL superuser URL; [`TempDatabase`](crate::TempDatabase) creates its
/// databases on that server.
pub const DATABASE_URL: &str = "RABT_TEST_DATABASE_URL";

/// A RabbitMQ AMQP URL; [`TempVhost`](crate::TempVhost) keeps its host, port and
/// credentials and replaces the vhost.
pub const AMQP_URL: &str = "RABT_TEST_AMQP_URL";

/// The RabbitMQ management API (`http://user:password@host:port/api`), through which
/// vhosts are created and deleted.
pub const RABBITMQ_API: &str = "RABT_TEST_RABBITMQ_API";

/// The Python interpreter of the suite's virtual environment (tests/requirements.txt),
/// which tests/run.sh creates and names here; the tests that use a Python package
/// (the Standard Webhooks reference library, independent verifiers) run it.
pub const PYTHON: &str = "RABT_TEST_PYTHON";

/// The suite's Python interpreter: `RABT_TEST_PYTHON`, or `python3` when it is unset
/// (a test then fails naming the package it misses, and how tests/run.sh installs it).
pub fn python() -> String {
    std::env::var(PYTHON).unwrap_or_else(|_| "python3".to_owned())
}

/// The value of the environment variable `name`.
///
/// # Panics
///
/// When `name` is not set (or not UTF-8). A test that needs a real service fails,
/// naming the variable and how to get it, rather than skip and pass unseen.
pub fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) => value,
        Err(_) => panic!(
            "{name} is not set: this test needs the real PostgreSQL and RabbitMQ. Run the \
             suite with tests/run.sh, or start them with `eval \"$(tests/services.sh start)\"` \
             (in development: `source /tmp/rabt-dev-services/env.sh`)."
        ),
    }
}

/// `prefix` followed by 32 random lower-case hex digits.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_keep_their_prefix_and_differ() {
        let (a, b) = (unique("rabt_x_"), unique("rabt_x_"));
        assert_ne!(a, b);
        let suffix = a.strip_prefix("rabt_x_").unwrap();
        assert_eq!(suffix.len(), 32);
        assert!(
            suffix
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    #[should_panic(expected = "RABT_TEST_SURELY_UNSET_VARIABLE is not set")]
    fn a_missing_variable_fails_naming_it() {
        required_env("RABT_TEST_SURELY_UNSET_VARIABLE");
    }
}
