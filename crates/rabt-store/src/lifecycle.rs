//! A cooperative's life after onboarding, as operators run it: its API keys (rotated
//! with an overlap, revoked at once), its services, deactivation and reactivation, and
//! its activity for the operators' lists. Every change writes its audit entry, with
//! the operator as actor, in the transaction that makes it.
//!
//! Keys are named by a key id, `key_` and the first 16 hex digits of the key's digest:
//! enough to tell a cooperative's keys apart in a list and in the audit log, and
//! nothing an attacker could use (the digest of a 238-bit key).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rabt_core::{CooperativeId, ServiceName};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{get_count, get_opt_time, get_parsed, get_time, millis, now};
use crate::connect::Store;
use crate::cooperatives::{Cooperative, NewCooperative, insert_cooperative};
use crate::error::StoreError;

/// How many hex digits of a key's digest make its id.
const KEY_ID_DIGITS: usize = 16;

/// The id of the key whose digest is `key_hash` (`key_` + 16 hex digits).
pub fn key_id(key_hash: &str) -> String {
    let digits: String = key_hash.chars().take(KEY_ID_DIGITS).collect();
    format!("key_{digits}")
}

/// One of a cooperative's API keys (never the key, never its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// `key_…`: what operators name it by.
    pub id: String,
    /// Why it was made (`created by rabt coop add`, `rotated by huda`…).
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working (a rotated key's overlap), if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyInfo {
    /// Whether it is accepted at `now`.
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|end| end > now)
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The new key's id.
    pub key: String,
    /// The keys that were valid and now expire at `until`.
    pub expiring: Vec<String>,
    /// When the old keys stop working.
    pub until: DateTime<Utc>,
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// The key stopped working now.
    Now,
    /// It was revoked already, at this time.
    Already(DateTime<Utc>),
    /// The cooperative has no key with this id.
    NoSuchKey,
}

/// A cooperative's requests over a recent window, for the operators' list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Requests accepted in the window.
    pub requests: u32,
    /// Of those, completed.
    pub completed: u32,
    /// Of those, completed `PARTIAL`: a check did not answer (timeout, upstream error).
    pub partial: u32,
    /// Of those, completed `FAIL`.
    pub failed: u32,
}

impl Store {
    /// Onboards a cooperative with its first API key (its digest) and webhook secret,
    /// audited as done by `by`, in one transaction. [`StoreError::Duplicate`] if the
    /// unified number is taken.
    pub async fn onboard_cooperative(
        &self,
        new: &NewCooperative,
        key_hash: &str,
        webhook_secret: &str,
        by: &Actor,
    ) -> Result<Cooperative, StoreError> {
        let mut tx = self.begin_write().await?;
        let created = insert_cooperative(tx.conn(), new, Some(webhook_secret)).await?;
        let created_at = created.created_at;
        sqlx::query(
            "INSERT INTO api_keys (key_hash, cooperative_id, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(key_hash)
        .bind(new.id.to_string())
        .bind(format!("onboarded by {}", actor_name(by)))
        .bind(millis(created_at))
        .execute(tx.conn())
        .await
        .map_err(StoreError::duplicate_as("api key"))?;
        let mut entry = NewAuditEntry::new(by.clone(), "cooperative.onboarded");
        entry.detail = json!({
            "cooperative": new.id.to_string(),
            "unifiedNumber": new.unified_number.as_str(),
            "services": created.services,
            "key": key_id(key_hash),
        });
        tx.audit(entry, created_at);
        tx.commit().await?;
        Ok(created)
    }

    /// A cooperative's keys, newest first.
    pub async fn api_keys(
        &self,
        cooperative: CooperativeId,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_hash, label, created_at, expires_at, revoked_at FROM api_keys \
             WHERE cooperative_id = $1 ORDER BY created_at DESC, key_hash",
        )
        .bind(cooperative.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let hash: String = row.try_get("key_hash")?;
                Ok(ApiKeyInfo {
                    id: key_id(&hash),
                    label: row.try_get("label")?,
                    created_at: get_time(row, "created_at")?,
                    expires_at: get_opt_time(row, "expires_at")?,
                    revoked_at: get_opt_time(row, "revoked_at")?,
                })
            })
            .collect()
    }

    /// Gives a cooperative a new key (its digest); every key of it still valid keeps
    /// working for `overlap`, then stops (a key already ending sooner keeps its end).
    /// `None` if there is no such cooperative.
    pub async fn rotate_api_key(
        &self,
        cooperative: CooperativeId,
        key_hash: &str,
        overlap: Duration,
        by: &Actor,
    ) -> Result<Option<Rotated>, StoreError> {
        let at = now();
        let overlap = chrono::Duration::from_std(overlap).map_err(|_| StoreError::Corrupt {
            column: "overlap",
            value: format!("{overlap:?}"),
        })?;
        let until = at + overlap;
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM cooperatives WHERE id = $1")
            .bind(cooperative.to_string())
            .fetch_optional(tx.conn())
            .await?;
        if exists.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        let expiring = expire_keys(tx.conn(), cooperative, until).await?;
        sqlx::query(
            "INSERT INTO api_keys (key_hash, cooperative_id, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(key_hash)
        .bind(cooperative.to_string())
        .bind(format!("rotated by {}", actor_name(by)))
        .bind(millis(at))
        .execute(tx.conn())
        .await
        .map_err(StoreError::duplicate_as("api key"))?;
        let rotated = Rotated {
            key: key_id(key_hash),
            expiring,
            until,
        };
        let mut entry = NewAuditEntry::new(by.clone(), "cooperative.key_rotated");
        entry.detail = json!({
            "cooperative": cooperative.to_string(),
            "key": rotated.key,
            "expiring": rotated.expiring,
            "until": until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        tx.audit(entry, at);
        bump_key_generation(tx.conn()).await?;
        tx.commit().await?;
        self.key_cache.invalidate();
        Ok(Some(rotated))
    }

    /// Revokes one of a cooperative's keys at once: the next request with it is a 401
    /// on this process, and on every other api process within
    /// [`crate::key_cache::GENERATION_CHECK`] (their key caches see the generation move).
    pub async fn revoke_api_key_id(
        &self,
        cooperative: CooperativeId,
        key: &str,
        reason: &str,
        by: &Actor,
    ) -> Result<Revoked, StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let rows =
            sqlx::query("SELECT key_hash, revoked_at FROM api_keys WHERE cooperative_id = $1")
                .bind(cooperative.to_string())
                .fetch_all(tx.conn())
                .await?;
        let mut found = None;
        for row in &rows {
            let hash: String = row.try_get("key_hash")?;
            if key_id(&hash) == key {
                found = Some((hash, get_opt_time(row, "revoked_at")?));
            }
        }
        let Some((hash, revoked_at)) = found else {
            tx.rollback().await?;
            return Ok(Revoked::NoSuchKey);
        };
        if let Some(earlier) = revoked_at {
            tx.rollback().await?;
            return Ok(Revoked::Already(earlier));
        }
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL",
        )
        .bind(millis(at))
        .bind(&hash)
        .execute(tx.conn())
        .await?;
        let mut entry = NewAuditEntry::new(by.clone(), "cooperative.key_revoked");
        entry.detail =
            json!({ "cooperative": cooperative.to_string(), "key": key, "reason": reason });
        tx.audit(entry, at);
        bump_key_generation(tx.conn()).await?;
        tx.commit().await?;
        self.key_cache.invalidate();
        Ok(Revoked::Now)
    }

    /// Replaces the services a cooperative may call; false if there is no such
    /// cooperative.
    pub async fn set_cooperative_services(
        &self,
        cooperative: CooperativeId,
        services: &[ServiceName],
        by: &Actor,
    ) -> Result<bool, StoreError> {
        let services: std::collections::BTreeSet<&ServiceName> = services.iter().collect();
        let mut tx = self.begin_write().await?;
        let before = sqlx::query("SELECT services FROM cooperatives WHERE id = $1")
            .bind(cooperative.to_string())
            .fetch_optional(tx.conn())
            .await?;
        let Some(before) = before else {
            tx.rollback().await?;
            return Ok(false);
        };
        let before: serde_json::Value =
            serde_json::from_str(&before.try_get::<String, _>("services")?)?;
        sqlx::query("UPDATE cooperatives SET services = $1 WHERE id = $2")
            .bind(serde_json::to_string(&services)?)
            .bind(cooperative.to_string())
            .execute(tx.conn())
            .await?;
        let mut entry = NewAuditEntry::new(by.clone(), "cooperative.services_changed");
        entry.detail =
            json!({ "cooperative": cooperative.to_string(), "before": before, "after": services });
        tx.audit(entry, now());
        bump_key_generation(tx.conn()).await?;
        tx.commit().await?;
        self.key_cache.invalidate();
        Ok(true)
    }

    /// Deactivates (its keys answer 403 until reactivated) or reactivates a
    /// cooperative. `None` if there is no such cooperative; `Some(false)` if it was in
    /// that state already (nothing is written).
    pub async fn set_cooperative_active(
        &self,
        cooperative: CooperativeId,
        active: bool,
        reason: &str,
        by: &Actor,
    ) -> Result<Option<bool>, StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT active FROM cooperatives WHERE id = $1")
            .bind(cooperative.to_string())
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        if crate::codec::get_bool(&row, "active")? == active {
            tx.rollback().await?;
            return Ok(Some(false));
        }
        sqlx::query("UPDATE cooperatives SET active = $1, deactivated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind((!active).then_some(millis(at)))
            .bind(cooperative.to_string())
            .execute(tx.conn())
            .await?;
        let action = if active {
            "cooperative.activated"
        } else {
            "cooperative.deactivated"
        };
        let mut entry = NewAuditEntry::new(by.clone(), action);
        entry.detail = json!({ "cooperative": cooperative.to_string(), "reason": reason });
        tx.audit(entry, at);
        bump_key_generation(tx.conn()).await?;
        tx.commit().await?;
        self.key_cache.invalidate();
        Ok(Some(true))
    }

    /// The holder of a valid key (not revoked, not past its overlap), active or not:
    /// the API answers 401 for no holder and 403 for an inactive one. Answered from
    /// memory when [`Store::cache_api_keys`] turned the cache on and the key is cached
    /// under the current key generation (see [`crate::key_cache`]).
    pub async fn api_key_holder(&self, key_hash: &str) -> Result<Option<Cooperative>, StoreError> {
        let cache = &self.key_cache;
        if !cache.enabled() {
            return Ok(self.look_up_key(key_hash).await?.map(|(holder, _)| holder));
        }
        let lookup = cache.begin();
        let generation = match cache.fresh_generation(Instant::now()) {
            Some(generation) => generation,
            None => {
                // Read before the key, so an entry can only be stored under a
                // generation no newer than what the key's lookup saw.
                let read_at = Instant::now();
                let generation = self.key_generation().await?;
                cache.set_generation(lookup, generation, read_at);
                generation
            }
        };
        if let Some(holder) = cache.get(key_hash, generation, Instant::now(), Utc::now()) {
            return Ok(Some(holder));
        }
        let found = self.look_up_key(key_hash).await?;
        if let Some((holder, key_ends_at)) = &found {
            let now = Instant::now();
            cache.put(
                lookup,
                key_hash,
                holder.clone(),
                generation,
                *key_ends_at,
                now,
            );
        }
        Ok(found.map(|(holder, _)| holder))
    }

    /// The holder of a valid key and when the key ends, from the database.
    async fn look_up_key(
        &self,
        key_hash: &str,
    ) -> Result<Option<(Cooperative, Option<DateTime<Utc>>)>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.name, c.unified_number, c.services, c.active, c.created_at, \
             k.expires_at FROM api_keys k JOIN cooperatives c ON c.id = k.cooperative_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)",
        )
        .bind(key_hash)
        .bind(millis(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let holder = crate::cooperatives::cooperative_from_row(&row)?;
        Ok(Some((holder, get_opt_time(&row, "expires_at")?)))
    }

    /// The current key generation (see [`crate::key_cache`]).
    pub async fn key_generation(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT generation FROM key_generation WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("generation")?)
    }

    /// Every cooperative's requests accepted since `since`, by cooperative (one
    /// aggregate over the requests index by time).
    pub async fn cooperative_activity(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(CooperativeId, Activity)>, StoreError> {
        let rows = sqlx::query(
            "SELECT cooperative_id, COUNT(*) AS requests, \
             SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS completed, \
             SUM(CASE WHEN verdict = 'PARTIAL' THEN 1 ELSE 0 END) AS partial, \
             SUM(CASE WHEN verdict = 'FAIL' THEN 1 ELSE 0 END) AS failed \
             FROM requests WHERE created_at >= $1 GROUP BY cooperative_id",
        )
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    get_parsed(row, "cooperative_id")?,
                    Activity {
                        requests: get_count(row, "requests")?,
                        completed: get_count(row, "completed")?,
                        partial: get_count(row, "partial")?,
                        failed: get_count(row, "failed")?,
                    },
                ))
            })
            .collect()
    }
}

/// Makes every key of the cooperative that is still valid at `until` stop then (a key
/// already ending sooner keeps its end); the ids of those keys.
async fn expire_keys(
    conn: &mut AnyConnection,
    cooperative: CooperativeId,
    until: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let expiring = sqlx::query(
        "SELECT key_hash FROM api_keys WHERE cooperative_id = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(cooperative.to_string())
    .bind(millis(until))
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| row.try_get::<String, _>("key_hash").map(|h| key_id(&h)))
    .collect::<Result<Vec<_>, _>>()?;
    sqlx::query(
        "UPDATE api_keys SET expires_at = $1 WHERE cooperative_id = $2 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(millis(until))
    .bind(cooperative.to_string())
    .execute(conn)
    .await?;
    Ok(expiring)
}

/// The name a key's label gives its maker.
fn actor_name(by: &Actor) -> String {
    match by {
        Actor::Operator(name) => name.clone(),
        Actor::Cooperative(id) => id.to_string(),
        Actor::Agency(agency) => agency.to_string(),
        Actor::System => "rabt".to_owned(),
    }
}

/// Moves the key generation on, in the transaction of a change to credentials: every
/// process's cached keys stop being trusted once it commits (see [`crate::key_cache`]).
pub(crate) async fn bump_key_generation(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("UPDATE key_generation SET generation = generation + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}
