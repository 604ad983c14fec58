//! Limits shared by every process of a deployment: per-cooperative rate limits and
//! daily quotas, and per-agency rate and concurrency limits.
//!
//! - A **rate limit** is a GCRA row (`rate_limits`): the theoretical arrival time of
//!   the next call. A call goes if it is within the limit's tolerance of now, and then
//!   moves it one interval on, all in **one statement** (an upsert with a condition),
//!   so two api processes, or three workers, can never both take the last call: the
//!   row lock orders them. Times are the callers' clocks in microseconds (keep the
//!   machines' clocks synchronised, as the callback tolerance already asks).
//! - A **daily quota** counts a cooperative's accepted requests per UTC day
//!   (`cooperative_usage`), in the accept transaction itself (see [`Store::
//!   accept_request_within`]): a request refused by its quota writes nothing.
//! - An agency's **concurrency** is a set of slots (`agency_slots`), each held by one
//!   call of one worker with a lease, so a worker that dies gives its slots back.

use std::time::Duration;

use chrono::Utc;
use rabt_core::limit::Period;
use rabt_core::{Agency, CooperativeId, RateDecision, RateLimit};
use serde_json::json;
use sqlx::Row;

use crate::audit::{Actor, NewAuditEntry};
use crate::codec::{millis, now};
use crate::connect::Store;
use crate::error::StoreError;

/// A cooperative's own limits (without them, the configuration's default applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CooperativeLimit {
    /// Its rate limit; `None`: no rate limit at all.
    pub rate: Option<RateLimit>,
    /// Requests it may have accepted per UTC day; `None`: no quota.
    pub quota_per_day: Option<u64>,
}

impl Store {
    /// The limits an operator set for `cooperative`; `None` when it has none of its own.
    pub async fn cooperative_limit(
        &self,
        cooperative: CooperativeId,
    ) -> Result<Option<CooperativeLimit>, StoreError> {
        let row = sqlx::query(
            "SELECT rate_events, rate_period_s, burst, quota_per_day FROM cooperative_limits \
             WHERE cooperative_id = $1",
        )
        .bind(cooperative.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let events: Option<i64> = row.try_get("rate_events")?;
        let period: Option<i64> = row.try_get("rate_period_s")?;
        let burst: Option<i64> = row.try_get("burst")?;
        let quota: Option<i64> = row.try_get("quota_per_day")?;
        let corrupt = |column: &'static str, value: Option<i64>| StoreError::Corrupt {
            column,
            value: format!("{value:?}"),
        };
        let rate = match (events, period, burst) {
            (None, _, _) => None,
            (Some(events), period, burst) => {
                let period = match period {
                    Some(1) => Period::Second,
                    Some(60) => Period::Minute,
                    Some(3600) => Period::Hour,
                    other => return Err(corrupt("rate_period_s", other)),
                };
                let events =
                    u32::try_from(events).map_err(|_| corrupt("rate_events", Some(events)))?;
                let burst = burst
                    .and_then(|b| u32::try_from(b).ok())
                    .ok_or_else(|| corrupt("burst", burst))?;
                Some(
                    RateLimit::new(events, period, burst)
                        .map_err(|_| corrupt("rate_events", Some(i64::from(events))))?,
                )
            }
        };
        let quota_per_day = quota
            .map(|q| u64::try_from(q).map_err(|_| corrupt("quota_per_day", Some(q))))
            .transpose()?;
        Ok(Some(CooperativeLimit {
            rate,
            quota_per_day,
        }))
    }

    /// Sets `cooperative`'s own limits, or with `None` removes them (the default
    /// applies again); audited with `operator` as actor. [`StoreError::NotFound`] if
    /// there is no such cooperative.
    pub async fn set_cooperative_limit(
        &self,
        cooperative: CooperativeId,
        limit: Option<CooperativeLimit>,
        operator: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM cooperatives WHERE id = $1")
            .bind(cooperative.to_string())
            .fetch_optional(tx.conn())
            .await?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound {
                what: "cooperative",
            });
        }
        let mut audit = NewAuditEntry::new(
            Actor::Operator(operator.to_owned()),
            "cooperative.limit_set",
        );
        match limit {
            Some(limit) => {
                let rate = limit.rate;
                sqlx::query(
                    "INSERT INTO cooperative_limits (cooperative_id, rate_events, rate_period_s, \
                     burst, quota_per_day, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (cooperative_id) DO UPDATE SET rate_events = $2, rate_period_s = $3, \
                     burst = $4, quota_per_day = $5, updated_at = $6, updated_by = $7",
                )
                .bind(cooperative.to_string())
                .bind(rate.map(|r| i64::from(r.events())))
                .bind(rate.map(|r| r.period().duration().as_secs() as i64))
                .bind(rate.map(|r| i64::from(r.burst())))
                .bind(limit.quota_per_day.map(|q| i64::try_from(q).unwrap_or(i64::MAX)))
                .bind(millis(at))
                .bind(operator)
                .execute(tx.conn())
                .await?;
                audit.detail = json!({
                    "cooperative": cooperative.to_string(),
                    "rate": rate.map(|r| r.to_string()),
                    "quota_per_day": limit.quota_per_day,
                });
            }
            None => {
                sqlx::query("DELETE FROM cooperative_limits WHERE cooperative_id = $1")
                    .bind(cooperative.to_string())
                    .execute(tx.conn())
                    .await?;
                audit.action = "cooperative.limit_cleared".to_owned();
                audit.detail = json!({ "cooperative": cooperative.to_string() });
            }
        }
        tx.audit(audit, at);
        tx.commit().await
    }

    /// One call against the shared rate limit `key`, now: whether it goes, what is left
    /// and when to come back. One statement decides and, if the call goes, takes its
    /// share; a refused call changes nothing.
    ///
    /// "Now" is read once the statement has its connection: a call that waited for one
    /// (a database coming back after a restart, with hundreds of calls queued) would
    /// otherwise bring a time seconds old, find the limit's arrival time that far ahead
    /// of it, and be refused although the rate was nowhere near its limit.
    pub async fn take_rate(
        &self,
        key: &str,
        limit: &RateLimit,
    ) -> Result<RateDecision, StoreError> {
        self.take_rate_with(key, limit, || Utc::now().timestamp_micros())
            .await
    }

    /// [`Store::take_rate`] at `now_us` (microseconds since the epoch), for tests.
    pub async fn take_rate_at(
        &self,
        key: &str,
        limit: &RateLimit,
        now_us: i64,
    ) -> Result<RateDecision, StoreError> {
        self.take_rate_with(key, limit, || now_us).await
    }

    async fn take_rate_with(
        &self,
        key: &str,
        limit: &RateLimit,
        clock: impl Fn() -> i64,
    ) -> Result<RateDecision, StoreError> {
        let statement = self.by_dialect(
            "INSERT INTO rate_limits (key, tat_us) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET tat_us = GREATEST(rate_limits.tat_us, $2) + $3 \
             WHERE GREATEST(rate_limits.tat_us, $2) + $3 - $2 <= $4 RETURNING tat_us",
            "INSERT INTO rate_limits (key, tat_us) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET tat_us = MAX(rate_limits.tat_us, $2) + $3 \
             WHERE MAX(rate_limits.tat_us, $2) + $3 - $2 <= $4 RETURNING tat_us",
        );
        // A single statement: SQLite's writer lock is only needed to serialise it with
        // this process's other writers.
        let mut tx = self.begin_write().await?;
        let now_us = clock();
        let taken: Option<i64> = sqlx::query_scalar(statement)
            .bind(key)
            .bind(now_us)
            .bind(limit.interval_us())
            .bind(limit.tolerance_us())
            .fetch_optional(tx.conn())
            .await?;
        let decision = match taken {
            Some(tat) => RateDecision::from_tat(limit, true, tat, now_us),
            None => {
                let tat: i64 = sqlx::query_scalar("SELECT tat_us FROM rate_limits WHERE key = $1")
                    .bind(key)
                    .fetch_one(tx.conn())
                    .await?;
                RateDecision::from_tat(limit, false, tat, now_us)
            }
        };
        tx.commit().await?;
        Ok(decision)
    }

    /// Takes one of `agency`'s `slots` for `holder` (a worker process) for `lease`, if
    /// one is free (or its lease ran out); the slot's number, or `None` if all are held.
    pub async fn acquire_agency_slot(
        &self,
        agency: Agency,
        slots: u32,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let now = millis(Utc::now());
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let statement = self.by_dialect(
            "UPDATE agency_slots SET holder = $1, lease_until = $2 WHERE agency = $3 AND slot = \
             (SELECT slot FROM agency_slots WHERE agency = $3 AND slot < $4 \
              AND (holder IS NULL OR lease_until < $5) ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING slot",
            "UPDATE agency_slots SET holder = $1, lease_until = $2 WHERE agency = $3 AND slot = \
             (SELECT slot FROM agency_slots WHERE agency = $3 AND slot < $4 \
              AND (holder IS NULL OR lease_until < $5) ORDER BY slot LIMIT 1) \
             RETURNING slot",
        );
        let mut tx = self.begin_write().await?;
        for first_try in [true, false] {
            let slot: Option<i64> = sqlx::query_scalar(statement)
                .bind(holder)
                .bind(until)
                .bind(agency.as_str())
                .bind(i64::from(slots))
                .bind(now)
                .fetch_optional(tx.conn())
                .await?;
            if slot.is_some() || !first_try {
                tx.commit().await?;
                return Ok(slot);
            }
            // All held, or the slots do not exist yet (the first call under this
            // limit, or a raised limit): create the missing ones and try once more.
            let existing: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM agency_slots WHERE agency = $1 AND slot < $2",
            )
            .bind(agency.as_str())
            .bind(i64::from(slots))
            .fetch_one(tx.conn())
            .await?;
            if existing >= i64::from(slots) {
                break;
            }
            for slot in 0..i64::from(slots) {
                sqlx::query(
                    "INSERT INTO agency_slots (agency, slot, holder, lease_until) \
                     VALUES ($1, $2, NULL, 0) ON CONFLICT (agency, slot) DO NOTHING",
                )
                .bind(agency.as_str())
                .bind(slot)
                .execute(tx.conn())
                .await?;
            }
        }
        tx.commit().await?;
        Ok(None)
    }

    /// Gives back a slot [`Store::acquire_agency_slot`] gave `holder` (a slot whose lease
    /// ran out and that another took meanwhile is left to it).
    pub async fn release_agency_slot(
        &self,
        agency: Agency,
        slot: i64,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE agency_slots SET holder = NULL, lease_until = 0 \
             WHERE agency = $1 AND slot = $2 AND holder = $3",
        )
        .bind(agency.as_str())
        .bind(slot)
        .bind(holder)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }
}

/// Days since 1970-01-01 (UTC) at `at`: the day a quota counts in.
pub fn quota_day(at: chrono::DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(86_400)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    /// A call that waited for its connection (here: for this process's writer, held a
    /// second) is judged at the time it runs, not at the time it was made: a second
    /// later, a limit of ten a second has room again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_that_waited_for_the_database_is_judged_when_it_runs() {
        let store = Store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let limit = RateLimit::parse("10/s", 1).unwrap();
        let first = store.take_rate("k", &limit).await.unwrap();
        assert!(first.allowed);
        let writer = store.begin_write().await.unwrap();
        let waiting = tokio::spawn({
            let store = store.clone();
            async move { store.take_rate("k", &limit).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        writer.rollback().await.unwrap();
        let second = waiting.await.unwrap().unwrap();
        assert!(
            second.allowed,
            "judged with the time it was made: {second:?}"
        );
    }
}
