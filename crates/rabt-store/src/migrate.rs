//! Schema migrations: one SQL file per dialect and version, embedded in the binary and
//! applied by this small runner (sqlx's `migrate!` needs its macros, which we leave
//! off). Applied versions are recorded in `rabt_schema_migrations` with a checksum, so
//! an edited migration is caught instead of silently diverging.

use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::connect::{Dialect, Store};
use crate::error::StoreError;

/// One schema change, spelled once per dialect.
struct Migration {
    version: i64,
    name: &'static str,
    postgres: &'static str,
    sqlite: &'static str,
}

impl Migration {
    fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Postgres => self.postgres,
            Dialect::Sqlite => self.sqlite,
        }
    }
}

/// Every migration, in order. Never edit one that has shipped: add the next.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "composites_and_callbacks",
        postgres: include_str!("../migrations/postgres/0002_composites_and_callbacks.sql"),
        sqlite: include_str!("../migrations/sqlite/0002_composites_and_callbacks.sql"),
    },
    Migration {
        version: 3,
        name: "reliability",
        postgres: include_str!("../migrations/postgres/0003_reliability.sql"),
        sqlite: include_str!("../migrations/sqlite/0003_reliability.sql"),
    },
    Migration {
        version: 4,
        name: "console",
        postgres: include_str!("../migrations/postgres/0004_console.sql"),
        sqlite: include_str!("../migrations/sqlite/0004_console.sql"),
    },
    Migration {
        version: 5,
        name: "audit_seal",
        postgres: include_str!("../migrations/postgres/0005_audit_seal.sql"),
        sqlite: include_str!("../migrations/sqlite/0005_audit_seal.sql"),
    },
    Migration {
        version: 6,
        name: "limits",
        postgres: include_str!("../migrations/postgres/0006_limits.sql"),
        sqlite: include_str!("../migrations/sqlite/0006_limits.sql"),
    },
    Migration {
        version: 7,
        name: "key_generation",
        postgres: include_str!("../migrations/postgres/0007_key_generation.sql"),
        sqlite: include_str!("../migrations/sqlite/0007_key_generation.sql"),
    },
];

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// Migrations applied now (0: the schema was up to date).
    pub applied: usize,
    /// The schema's version afterwards: the newest migration of this build.
    pub version: i64,
}

/// How many migrations this build knows (a fully migrated database has this many rows
/// in `rabt_schema_migrations`).
pub fn known_migrations() -> usize {
    MIGRATIONS.len()
}

/// The key of the PostgreSQL advisory lock that serialises `rabt serve` processes
/// migrating at the same start-up ("rabtmigr" in ASCII).
const MIGRATION_LOCK: i64 = 0x7261_6274_6d69_6772;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS rabt_schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

impl Store {
    /// Brings the schema up to date. Idempotent, and safe to call from several
    /// processes at once: all of it runs in one transaction (DDL is transactional on
    /// both backends), behind an advisory lock on PostgreSQL and the write lock on
    /// SQLite. Says how many migrations it applied.
    pub async fn migrate(&self) -> Result<Migrated, StoreError> {
        let dialect = self.dialect();
        let mut tx = self.begin_write().await?;
        if dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(tx.conn())
                .await?;
        }
        sqlx::raw_sql(CREATE_TABLE).execute(tx.conn()).await?;
        let done = applied(tx.conn()).await?;
        if let Some((version, _)) = done
            .iter()
            .find(|(v, _)| !MIGRATIONS.iter().any(|m| m.version == *v))
        {
            return Err(StoreError::UnknownMigration { version: *version });
        }
        let mut applied = 0;
        for migration in MIGRATIONS {
            let checksum = sha256_hex(migration.sql(dialect));
            match done.iter().find(|(v, _)| *v == migration.version) {
                Some((_, stored)) if *stored == checksum => {}
                Some(_) => {
                    return Err(StoreError::MigrationChanged {
                        version: migration.version,
                        name: migration.name,
                    });
                }
                None => {
                    apply(tx.conn(), migration, dialect, checksum).await?;
                    applied += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(Migrated {
            applied,
            version: MIGRATIONS.last().map_or(0, |m| m.version),
        })
    }
}

/// The versions already applied, with their checksums.
async fn applied(conn: &mut AnyConnection) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = sqlx::query("SELECT version, checksum FROM rabt_schema_migrations")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("version")?, row.try_get("checksum")?)))
        .collect()
}

async fn apply(
    conn: &mut AnyConnection,
    migration: &Migration,
    dialect: Dialect,
    checksum: String,
) -> Result<(), StoreError> {
    sqlx::raw_sql(migration.sql(dialect))
        .execute(&mut *conn)
        .await
        .map_err(|source| StoreError::Migration {
            version: migration.version,
            name: migration.name,
            source,
        })?;
    sqlx::query(
        "INSERT INTO rabt_schema_migrations (version, name, checksum, applied_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(migration.version)
    .bind(migration.name)
    .bind(checksum)
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(conn)
    .await?;
    tracing::info!(
        version = migration.version,
        name = migration.name,
        "applied migration"
    );
    Ok(())
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_both_dialects_exist() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "{}", m.name);
            last = m.version;
            assert!(!m.postgres.trim().is_empty() && !m.sqlite.trim().is_empty());
        }
    }

    #[test]
    fn checksums_are_hex_sha256() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
