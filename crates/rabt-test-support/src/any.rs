//! A database of its own on either backend sqlx's Any driver serves here: a SQLite file
//! or a PostgreSQL database, for suites that run every test on both.

use crate::{Error, TempDatabase, TempSqlite};

/// Which database server a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A [`TempSqlite`] file.
    Sqlite,
    /// A [`TempDatabase`] on the server of `RABT_TEST_DATABASE_URL`.
    Postgres,
}

/// A [`TempSqlite`] file or a [`TempDatabase`]; dropping it removes the database.
#[derive(Debug)]
pub enum TempAnyDatabase {
    /// A SQLite file in a folder of its own.
    Sqlite(TempSqlite),
    /// A database created on the PostgreSQL server.
    Postgres(TempDatabase),
}

impl TempAnyDatabase {
    /// A new, empty database on `backend`, named `<prefix><32 hex digits>` (the
    /// SQLite file's folder, or the PostgreSQL database).
    ///
    /// # Panics
    ///
    /// On PostgreSQL, when `RABT_TEST_DATABASE_URL` is not set.
    pub async fn create(backend: Backend, prefix: &str) -> Result<TempAnyDatabase, Error> {
        Ok(match backend {
            Backend::Sqlite => TempAnyDatabase::Sqlite(TempSqlite::create(prefix)?),
            Backend::Postgres => TempAnyDatabase::Postgres(TempDatabase::create(prefix).await?),
        })
    }

    /// The database's URL (`sqlite://…` or `postgres://…`).
    pub fn url(&self) -> &str {
        match self {
            TempAnyDatabase::Sqlite(file) => &file.url,
            TempAnyDatabase::Postgres(database) => &database.url,
        }
    }

    /// The backend it is on.
    pub fn backend(&self) -> Backend {
        match self {
            TempAnyDatabase::Sqlite(_) => Backend::Sqlite,
            TempAnyDatabase::Postgres(_) => Backend::Postgres,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_database_says_what_it_is() {
        let database = TempAnyDatabase::create(Backend::Sqlite, "rabt_support_")
            .await
            .unwrap();
        assert_eq!(database.backend(), Backend::Sqlite);
        assert!(
            database.url().starts_with("sqlite://"),
            "{}",
            database.url()
        );
    }
}
