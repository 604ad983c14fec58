//! The one error type of the store.

use rabt_core::IllegalTransition;

/// Why a store operation failed.
///
/// No variant carries a connection URL, a credential or a request's input, so an error
/// can be logged as it is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database this store can use. Only the scheme is kept: the rest
    /// of the URL may hold a password.
    #[error("unsupported database URL scheme `{scheme}` (expected sqlite: or postgres:)")]
    UnsupportedUrl {
        /// The scheme that was given.
        scheme: String,
    },
    /// A record with the same unique key already exists.
    #[error("{what} already exists")]
    Duplicate {
        /// What kind of record collided (`cooperative`, `operator`, `api key`…).
        what: &'static str,
        /// The database's own report.
        #[source]
        source: sqlx::Error,
    },
    /// A record this operation refers to does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was missing.
        what: &'static str,
    },
    /// A concurrent transaction got in the way (PostgreSQL serialization failure or
    /// deadlock, SQLite busy or locked). Retrying the whole operation is safe; the API
    /// answers `503 busy` when retrying did not help.
    #[error("the operation collided with a concurrent one; retry it")]
    Conflict(#[source] sqlx::Error),
    /// Another call with the same cooperative and idempotency key is being stored right
    /// now (its transaction holds the key). The API answers `409 idempotency-conflict`.
    #[error("a request with this idempotency key is still being stored")]
    KeyInFlight,
    /// The cooperative's daily quota of accepted requests is used up; nothing was
    /// written.
    #[error("the cooperative's daily quota is used up")]
    QuotaExceeded,
    /// The request has no task, so it could never complete.
    #[error("a request needs at least one task")]
    EmptyRequest,
    /// The caller asked for a transition that the task state machine refuses.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// Applying a migration failed.
    #[error("migration {version} ({name}) failed")]
    Migration {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: &'static str,
        /// The database's report.
        #[source]
        source: sqlx::Error,
    },
    /// An applied migration differs from the one this build carries: someone edited a
    /// migration after it shipped, or the database belongs to another build.
    #[error("migration {version} ({name}) was applied with different contents")]
    MigrationChanged {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: &'static str,
    },
    /// The database holds a migration this build does not know (a newer build ran).
    #[error("the database has migration {version}, which this build does not know")]
    UnknownMigration {
        /// The unknown version.
        version: i64,
    },
    /// A stored value does not decode (an unknown status, a malformed id). Only
    /// identifiers and enum names are quoted, never personal data.
    #[error("stored {column} `{value}` is not valid")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// The offending value (identifiers and enum names only).
        value: String,
    },
    /// JSON stored or about to be stored does not (de)serialise.
    #[error("JSON (de)serialisation failed")]
    Json(#[from] serde_json::Error),
    /// Any other database failure.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A group commit's writer stopped (a bug it logged) before it answered: whether
    /// the request was stored is not known; a retry with its idempotency key tells.
    #[error("the write stopped before it answered")]
    Interrupted,
    /// The failure of a write that several requests shared (a group commit's batch
    /// whose transaction could not be written: a lost race, an unreachable database);
    /// each request of the batch is answered with it.
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// Whether retrying the same operation can succeed (a conflict with a concurrent
    /// transaction).
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Shared(shared) => shared.is_conflict(),
            _ => false,
        }
    }

    /// Whether the database is unreachable, overloaded or out of room (connection
    /// refused or lost, no free connection in time, a full disk, a server starting or
    /// shutting down): the caller may answer 503 and retry later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                // A connection cut in its start-up: what a proxy with no server behind
                // it does (HAProxy during a PostgreSQL failover answers the SSLRequest
                // by closing: "unexpected response from SSLRequest").
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            StoreError::Database(sqlx::Error::Database(db)) => is_out_of_resources(db.as_ref()),
            StoreError::Shared(shared) => shared.is_unavailable(),
            _ => false,
        }
    }

    /// Maps a unique violation to [`StoreError::Duplicate`], anything else as usual.
    pub(crate) fn duplicate_as(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Duplicate { what, source: err }
            }
            _ => StoreError::from(err),
        }
    }
}

/// SQLSTATE codes of PostgreSQL failures that a retry can fix.
const PG_SERIALIZATION_FAILURE: &str = "40001";
const PG_DEADLOCK_DETECTED: &str = "40P01";
/// SQLite primary result codes (the low byte of an extended code) that a retry can fix.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;

/// SQLSTATE classes and codes of PostgreSQL failures that say the server cannot take
/// the work now: 53 insufficient resources (disk full, out of memory, too many
/// connections), 08 connection exceptions, 57P01..57P03 shutting down or starting up,
/// and 25006 a read-only transaction: a standby reached during a failover or
/// switchover, before the proxy routes to the new primary.
const PG_UNAVAILABLE_CLASSES: [&str; 2] = ["53", "08"];
const PG_UNAVAILABLE_CODES: [&str; 4] = ["57P01", "57P02", "57P03", "25006"];
/// SQLite primary result codes of a database that cannot take the write now.
const SQLITE_FULL: i64 = 13;
const SQLITE_IOERR: i64 = 10;

/// Whether a database error says the server is out of room or not serving, rather than
/// that the statement was wrong.
fn is_out_of_resources(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return PG_UNAVAILABLE_CLASSES.iter().any(|c| code.starts_with(c))
            || PG_UNAVAILABLE_CODES.contains(&code);
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, SQLITE_FULL | SQLITE_IOERR));
    }
    false
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_transient(&err) {
            StoreError::Conflict(err)
        } else {
            StoreError::Database(err)
        }
    }
}

fn is_transient(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return matches!(pg.code(), PG_SERIALIZATION_FAILURE | PG_DEADLOCK_DETECTED);
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLite reports extended result codes (e.g. 517 = SQLITE_BUSY_SNAPSHOT); the
        // primary code is the low byte.
        return db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, SQLITE_BUSY | SQLITE_LOCKED));
    }
    false
}
