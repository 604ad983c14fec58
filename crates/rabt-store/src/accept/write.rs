//! The statements of the accept path, each written once for any number of requests:
//! a batch of group commit costs the statements one request costs.

use std::collections::HashSet;

use rabt_core::{RequestId, RequestStatus, TaskStatus};
use sqlx::{AnyConnection, Row};

use super::{Accepted, NewRequest, NewTask, key_lock};
use crate::codec::{get_parsed, millis, write_rows};
use crate::error::StoreError;

/// Takes each request's idempotency-key lock for this transaction (PostgreSQL); false
/// where another transaction holds it.
pub(super) async fn try_key_locks(
    conn: &mut AnyConnection,
    batch: &[&NewRequest],
) -> Result<Vec<bool>, StoreError> {
    let calls: Vec<String> = (1..=batch.len())
        .map(|n| format!("pg_try_advisory_xact_lock(${n})"))
        .collect();
    // Placeholders only; every key is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {}", calls.join(", "))));
    for new in batch {
        query = query.bind(key_lock(new.cooperative, &new.idempotency.key));
    }
    let row = query.fetch_one(conn).await?;
    (0..batch.len())
        .map(|column| row.try_get::<bool, _>(column).map_err(StoreError::from))
        .collect()
}

/// Inserts the idempotency records whose keys are free; true for each request that
/// claimed its key. A key that exists is left as it is (the request replays it). A
/// cooperative that does not exist fails the statement: [`StoreError::NotFound`].
pub(super) async fn claim_keys(
    conn: &mut AnyConnection,
    batch: &[&NewRequest],
) -> Result<Vec<bool>, StoreError> {
    let inserted = write_rows(
        conn,
        "INSERT INTO idempotency_keys (cooperative_id, idem_key, request_id, body_hash, \
         response_status, response_body, created_at) VALUES",
        "ON CONFLICT (cooperative_id, idem_key) DO NOTHING RETURNING request_id",
        7,
        batch,
        |query, new| {
            let idem = &new.idempotency;
            Ok(query
                .bind(new.cooperative.to_string())
                .bind(idem.key.clone())
                .bind(new.id.to_string())
                .bind(idem.body_hash.clone())
                .bind(i64::from(idem.response_status))
                .bind(idem.response_body.clone())
                .bind(millis(new.created_at)))
        },
    )
    .await;
    let rows = match inserted {
        Ok(rows) => rows,
        Err(StoreError::Database(sqlx::Error::Database(db))) if db.is_foreign_key_violation() => {
            return Err(StoreError::NotFound {
                what: "cooperative",
            });
        }
        Err(err) => return Err(err),
    };
    let claimed = rows
        .iter()
        .map(|row| get_parsed::<RequestId>(row, "request_id"))
        .collect::<Result<HashSet<_>, _>>()?;
    Ok(batch.iter().map(|new| claimed.contains(&new.id)).collect())
}

/// Gives back a key claimed by a request that is refused after all (its quota): the
/// transaction goes on with the others.
pub(super) async fn release_key(
    conn: &mut AnyConnection,
    new: &NewRequest,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE cooperative_id = $1 AND idem_key = $2")
        .bind(new.cooperative.to_string())
        .bind(new.idempotency.key.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts `new` in its cooperative's usage of the day; false if `quota` is used up.
pub(super) async fn count_against_quota(
    conn: &mut AnyConnection,
    new: &NewRequest,
    quota: u64,
) -> Result<bool, StoreError> {
    let counted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO cooperative_usage (cooperative_id, day, accepted) VALUES ($1, $2, 1) \
         ON CONFLICT (cooperative_id, day) DO UPDATE SET accepted = cooperative_usage.accepted + 1 \
         WHERE cooperative_usage.accepted < $3 RETURNING accepted",
    )
    .bind(new.cooperative.to_string())
    .bind(crate::limits::quota_day(new.created_at))
    .bind(i64::try_from(quota).unwrap_or(i64::MAX))
    .fetch_optional(conn)
    .await?;
    // A quota of 0 refuses even the first request of the day.
    Ok(counted.is_some_and(|n| u64::try_from(n).is_ok_and(|n| n <= quota)))
}

/// What the key of `new` was used for before: the request it created and its answer.
pub(super) async fn existing_key(
    conn: &mut AnyConnection,
    new: &NewRequest,
) -> Result<Accepted, StoreError> {
    let row = sqlx::query(
        "SELECT request_id, body_hash, response_status, response_body FROM idempotency_keys \
         WHERE cooperative_id = $1 AND idem_key = $2",
    )
    .bind(new.cooperative.to_string())
    .bind(new.idempotency.key.as_str())
    .fetch_optional(conn)
    .await?
    // The key conflicted a moment ago; if it is gone now, it was pruned in between.
    .ok_or(StoreError::Conflict(sqlx::Error::RowNotFound))?;
    let status: i64 = row.try_get("response_status")?;
    Ok(Accepted::Existing {
        request: get_parsed(&row, "request_id")?,
        body_hash: row.try_get("body_hash")?,
        response_status: u16::try_from(status).map_err(|_| StoreError::Corrupt {
            column: "response_status",
            value: status.to_string(),
        })?,
        response_body: row.try_get("response_body")?,
    })
}

pub(super) async fn insert_requests(
    conn: &mut AnyConnection,
    batch: &[&NewRequest],
) -> Result<(), StoreError> {
    write_rows(
        conn,
        "INSERT INTO requests (id, cooperative_id, service, status, input, reference, \
         notify_url, traceparent, pending_tasks, created_at, updated_at, deadline_at) VALUES",
        "",
        12,
        batch,
        |query, new| {
            Ok(query
                .bind(new.id.to_string())
                .bind(new.cooperative.to_string())
                .bind(new.service.as_str().to_owned())
                .bind(RequestStatus::Accepted.as_str())
                .bind(serde_json::to_string(&new.input)?)
                .bind(new.reference.clone())
                .bind(new.notify_url.clone())
                .bind(new.traceparent.clone())
                .bind(i64::try_from(new.tasks.len()).unwrap_or(i64::MAX))
                .bind(millis(new.created_at))
                .bind(millis(new.created_at))
                .bind(millis(new.deadline_at)))
        },
    )
    .await
    .map_err(duplicate_as("request"))?;
    Ok(())
}

/// Indexes each request under each digest of the people it concerns.
pub(super) async fn insert_subjects(
    conn: &mut AnyConnection,
    batch: &[&NewRequest],
) -> Result<(), StoreError> {
    let mut rows: Vec<(&str, RequestId)> = Vec::new();
    for new in batch {
        let mut digests: Vec<&str> = new.subjects.iter().map(String::as_str).collect();
        digests.sort_unstable();
        digests.dedup();
        rows.extend(digests.into_iter().map(|digest| (digest, new.id)));
    }
    write_rows(
        conn,
        "INSERT INTO request_subjects (digest, request_id) VALUES",
        "",
        2,
        &rows,
        |query, (digest, request)| Ok(query.bind((*digest).to_owned()).bind(request.to_string())),
    )
    .await?;
    Ok(())
}

pub(super) async fn insert_tasks(
    conn: &mut AnyConnection,
    batch: &[&NewRequest],
) -> Result<(), StoreError> {
    let rows: Vec<(&NewRequest, usize, &NewTask)> = batch
        .iter()
        .flat_map(|new| {
            new.tasks
                .iter()
                .enumerate()
                .map(move |(ordinal, task)| (*new, ordinal, task))
        })
        .collect();
    write_rows(
        conn,
        "INSERT INTO tasks (id, request_id, ordinal, agency, service, input, required, \
         status, attempts, created_at, deadline_at, child, item_index) VALUES",
        "",
        13,
        &rows,
        |query, (request, ordinal, task)| {
            let status = if task.blocked {
                TaskStatus::Blocked
            } else {
                TaskStatus::Queued
            };
            Ok(query
                .bind(task.id.to_string())
                .bind(request.id.to_string())
                .bind(i64::try_from(*ordinal).unwrap_or(i64::MAX))
                .bind(task.agency.as_str())
                .bind(task.service.as_str().to_owned())
                .bind(serde_json::to_string(&task.input)?)
                .bind(i64::from(task.required))
                .bind(status.as_str())
                .bind(0_i64)
                .bind(millis(request.created_at))
                .bind(millis(task.deadline_at))
                .bind(task.child.as_ref().map(|(child, _)| child.clone()))
                .bind(
                    task.child
                        .as_ref()
                        .and_then(|(_, index)| index.map(i64::from)),
                ))
        },
    )
    .await
    .map_err(duplicate_as("task"))?;
    Ok(())
}

/// [`StoreError::duplicate_as`] for an error [`write_rows`] already converted.
fn duplicate_as(what: &'static str) -> impl FnOnce(StoreError) -> StoreError {
    move |err| match err {
        StoreError::Database(err) => StoreError::duplicate_as(what)(err),
        other => other,
    }
}
