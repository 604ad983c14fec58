//! Who may call Rabt: cooperatives with their API keys and service rights, and
//! operators with their tokens and roles. Keys and tokens are stored as hex SHA-256
//! digests computed by the caller; the store never sees a secret.
//!
//! These administrative writes are audited by their callers (the operator API and the
//! CLI), which know which operator acted.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use rabt_core::{CooperativeId, ServiceName, UnifiedNumber};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{get_bool, get_enum, get_parsed, get_time, millis, now};
use crate::connect::Store;
use crate::error::StoreError;

/// A cooperative to onboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCooperative {
    /// Its id.
    pub id: CooperativeId,
    /// Its registered name.
    pub name: String,
    /// Its unified (establishment) number; unique.
    pub unified_number: UnifiedNumber,
    /// The services it may call.
    pub services: Vec<ServiceName>,
}

/// An onboarded cooperative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooperative {
    /// Its id.
    pub id: CooperativeId,
    /// Its registered name.
    pub name: String,
    /// Its unified number.
    pub unified_number: UnifiedNumber,
    /// The services it may call.
    pub services: BTreeSet<ServiceName>,
    /// Whether it may call Rabt at all.
    pub active: bool,
    /// When it was onboarded.
    pub created_at: DateTime<Utc>,
}

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperatorRole {
    /// Read the console, the operator API and the audit log.
    Viewer,
    /// Also act: replay dead letters, onboard cooperatives, rotate their keys, change
    /// their services, reactivate them, pause and resume agencies.
    Operator,
    /// Also what destroys or cuts off: purge dead letters, revoke keys, deactivate
    /// cooperatives, reveal masked personal data.
    Admin,
}

impl OperatorRole {
    /// The storage name (lower case).
    pub const fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Viewer => "viewer",
            OperatorRole::Operator => "operator",
            OperatorRole::Admin => "admin",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<OperatorRole> {
        [
            OperatorRole::Viewer,
            OperatorRole::Operator,
            OperatorRole::Admin,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for OperatorRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator, found by token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The operator's name (shown in the audit log).
    pub name: String,
    /// What the operator may do.
    pub role: OperatorRole,
}

/// `SELECT <every cooperative column> FROM <rest>`, as one literal.
macro_rules! select_cooperative {
    ($rest:literal) => {
        concat!(
            "SELECT c.id, c.name, c.unified_number, c.services, c.active, c.created_at FROM ",
            $rest
        )
    };
}

/// Inserts `new`, active, with its webhook secret when it has one, as the cooperative
/// it is now. [`StoreError::Duplicate`] if its id or unified number exists.
pub(crate) async fn insert_cooperative(
    conn: &mut sqlx::AnyConnection,
    new: &NewCooperative,
    webhook_secret: Option<&str>,
) -> Result<Cooperative, StoreError> {
    let created_at = now();
    let services: BTreeSet<ServiceName> = new.services.iter().cloned().collect();
    sqlx::query(
        "INSERT INTO cooperatives (id, name, unified_number, services, active, created_at, webhook_secret) \
         VALUES ($1, $2, $3, $4, 1, $5, $6)",
    )
    .bind(new.id.to_string())
    .bind(new.name.as_str())
    .bind(new.unified_number.as_str())
    .bind(serde_json::to_string(&services)?)
    .bind(millis(created_at))
    .bind(webhook_secret)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::duplicate_as("cooperative"))?;
    Ok(Cooperative {
        id: new.id,
        name: new.name.clone(),
        unified_number: new.unified_number.clone(),
        services,
        active: true,
        created_at,
    })
}

impl Store {
    /// Onboards a cooperative. [`StoreError::Duplicate`] if its id or unified number
    /// exists.
    pub async fn create_cooperative(
        &self,
        new: &NewCooperative,
    ) -> Result<Cooperative, StoreError> {
        let mut tx = self.begin_write().await?;
        let created = insert_cooperative(tx.conn(), new, None).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// A cooperative by id, active or not.
    pub async fn cooperative(&self, id: CooperativeId) -> Result<Option<Cooperative>, StoreError> {
        let row = sqlx::query(select_cooperative!("cooperatives c WHERE c.id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(cooperative_from_row).transpose()
    }

    /// Every cooperative, in onboarding order.
    pub async fn list_cooperatives(&self) -> Result<Vec<Cooperative>, StoreError> {
        let rows = sqlx::query(select_cooperative!("cooperatives c ORDER BY c.id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(cooperative_from_row).collect()
    }

    /// Adds an API key (its hex SHA-256) for a cooperative.
    /// [`StoreError::NotFound`] if the cooperative does not exist,
    /// [`StoreError::Duplicate`] if the key is already stored.
    pub async fn add_api_key(
        &self,
        cooperative: CooperativeId,
        key_hash: &str,
        label: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO api_keys (key_hash, cooperative_id, label, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key_hash)
        .bind(cooperative.to_string())
        .bind(label)
        .bind(millis(now()))
        .execute(tx.conn())
        .await;
        match result {
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NotFound {
                    what: "cooperative",
                })
            }
            other => {
                other.map_err(StoreError::duplicate_as("api key"))?;
                tx.commit().await
            }
        }
    }

    /// Revokes an API key; false if it was unknown or already revoked.
    pub async fn revoke_api_key(&self, key_hash: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL",
        )
        .bind(millis(now()))
        .bind(key_hash)
        .execute(tx.conn())
        .await?;
        crate::lifecycle::bump_key_generation(tx.conn()).await?;
        tx.commit().await?;
        self.key_cache.invalidate();
        Ok(done.rows_affected() == 1)
    }

    /// The cooperative an API key belongs to, if the key is valid (not revoked, not
    /// past a rotation's overlap) and the cooperative is active.
    pub async fn cooperative_by_api_key(
        &self,
        key_hash: &str,
    ) -> Result<Option<Cooperative>, StoreError> {
        Ok(self.api_key_holder(key_hash).await?.filter(|c| c.active))
    }

    /// Adds an operator with a token (its hex SHA-256). [`StoreError::Duplicate`] if
    /// the name or the token is taken.
    pub async fn create_operator(
        &self,
        name: &str,
        role: OperatorRole,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let sql =
            "INSERT INTO operators (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)";
        self.write_operator(sql, name, role, token_hash, "operator")
            .await
    }

    /// Creates the operator `name`, or gives the existing one `role` and a new token
    /// (the old token stops working at once). For `rabt demo`, which restarts on the
    /// same database and hands out a fresh token each time.
    pub async fn put_operator(
        &self,
        name: &str,
        role: OperatorRole,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO operators (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash";
        self.write_operator(sql, name, role, token_hash, "operator token")
            .await
    }

    /// Runs `sql` (an insert of the operator's row, binding name, role, token hash and
    /// now) in a transaction; a taken name or token is [`StoreError::Duplicate`] of
    /// `what`.
    async fn write_operator(
        &self,
        sql: &'static str,
        name: &str,
        role: OperatorRole,
        token_hash: &str,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql)
            .bind(name)
            .bind(role.as_str())
            .bind(token_hash)
            .bind(millis(now()))
            .execute(tx.conn())
            .await
            .map_err(StoreError::duplicate_as(what))?;
        tx.commit().await
    }

    /// The operator a token belongs to.
    pub async fn operator_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Operator>, StoreError> {
        let row = sqlx::query("SELECT name, role FROM operators WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Operator {
                name: row.try_get("name")?,
                role: get_enum(&row, "role", OperatorRole::parse)?,
            })
        })
        .transpose()
    }
}

pub(crate) fn cooperative_from_row(row: &AnyRow) -> Result<Cooperative, StoreError> {
    let services: String = row.try_get("services")?;
    Ok(Cooperative {
        id: get_parsed(row, "id")?,
        name: row.try_get("name")?,
        unified_number: get_parsed(row, "unified_number")?,
        services: serde_json::from_str(&services)?,
        active: get_bool(row, "active")?,
        created_at: get_time(row, "created_at")?,
    })
}
