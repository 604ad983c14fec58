//! A PostgreSQL database of a test's own, on the server of `RABT_TEST_DATABASE_URL`.

use std::fmt;

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::Error;
use crate::cleanup::run_to_completion;
use crate::env::{DATABASE_URL, required_env, unique};

/// A database created with `CREATE DATABASE` under a random name, dropped (`WITH
/// (FORCE)`, ending any connection a failed test left open) when this guard is dropped.
/// Dropping never panics; a failed drop is printed to standard error.
pub struct TempDatabase {
    /// The URL of this database: the server, credentials and options of
    /// `RABT_TEST_DATABASE_URL`, with this database's name.
    pub url: String,
    name: String,
    admin_url: String,
}

impl TempDatabase {
    /// Creates `<prefix><32 hex digits>` on the server of `RABT_TEST_DATABASE_URL`.
    /// The prefix says whose database it is (`rabt_store_test_`) should one ever be
    /// left behind.
    ///
    /// # Panics
    ///
    /// When `RABT_TEST_DATABASE_URL` is not set.
    pub async fn create(prefix: &str) -> Result<TempDatabase, Error> {
        check_prefix(prefix)?;
        let admin_url = required_env(DATABASE_URL);
        let name = unique(prefix);
        let mut admin = admin_connection(&admin_url).await?;
        // Safe to splice: a checked prefix and hex digits, an identifier needing no quotes.
        execute(&mut admin, format!("CREATE DATABASE {name}")).await?;
        let database = TempDatabase {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        };
        // From here on a failure drops the new database with the guard.
        admin.close().await.map_err(|source| Error::Postgres {
            action: format!("disconnecting from {DATABASE_URL}"),
            source,
        })?;
        Ok(database)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for TempDatabase {
    /// The name only: the URLs carry the server's credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = run_to_completion(async move {
            let mut admin = admin_connection(&admin_url).await?;
            execute(
                &mut admin,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await?;
            // The database is gone; a failed goodbye on the admin connection is no leak.
            let _ = admin.close().await;
            Ok(())
        });
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

async fn admin_connection(admin_url: &str) -> Result<PgConnection, Error> {
    PgConnection::connect(admin_url)
        .await
        .map_err(|source| Error::Postgres {
            action: format!("connecting to {DATABASE_URL}"),
            source,
        })
}

/// Runs one statement of ours (never input) on the admin connection.
async fn execute(admin: &mut PgConnection, sql: String) -> Result<(), Error> {
    match sqlx::raw_sql(AssertSqlSafe(sql.as_str()))
        .execute(admin)
        .await
    {
        Ok(_) => Ok(()),
        Err(source) => Err(Error::Postgres {
            action: sql,
            source,
        }),
    }
}

/// Refuses a prefix that would need quoting, or leave no room for the random part in
/// PostgreSQL's 63-byte identifiers.
fn check_prefix(prefix: &str) -> Result<(), Error> {
    let starts_with_letter = prefix.starts_with(|c: char| c.is_ascii_lowercase());
    let plain = prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_with_letter && plain && prefix.len() <= 31 {
        Ok(())
    } else {
        Err(Error::BadPrefix {
            prefix: prefix.to_owned(),
        })
    }
}

/// The server URL with its database replaced by `name`, keeping any query options.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }

    #[test]
    fn prefixes_that_need_quoting_are_refused() {
        for good in ["rabt_store_test_", "a", "x9_"] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(32);
        for bad in [
            "",
            "_x",
            "9x",
            "Rabt_",
            "rabt-x",
            "x; DROP",
            too_long.as_str(),
        ] {
            assert!(
                matches!(check_prefix(bad), Err(Error::BadPrefix { .. })),
                "{bad}"
            );
        }
    }
}
