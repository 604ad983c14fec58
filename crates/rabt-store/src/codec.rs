//! How domain values are written to and read from columns: timestamps as BIGINT unix
//! milliseconds, ids and enums as TEXT, JSON as TEXT, booleans as INTEGER 0/1. The same
//! encoding on both backends keeps every query portable.

use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;

/// The current time at the precision it is stored with, so what a write returns
/// equals what a later read returns.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// A timestamp as stored: unix milliseconds.
pub(crate) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Reads a non-null timestamp column.
pub(crate) fn get_time(row: &AnyRow, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    let ms: i64 = row.try_get(column)?;
    from_millis(column, ms)
}

/// Reads a nullable timestamp column.
pub(crate) fn get_opt_time(
    row: &AnyRow,
    column: &'static str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let ms: Option<i64> = row.try_get(column)?;
    ms.map(|ms| from_millis(column, ms)).transpose()
}

fn from_millis(column: &'static str, ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        column,
        value: ms.to_string(),
    })
}

/// Reads a TEXT column that holds something parsed with `FromStr` (ids, agencies,
/// service names).
pub(crate) fn get_parsed<T: FromStr>(row: &AnyRow, column: &'static str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    parse_text(column, text)
}

/// Reads a nullable TEXT column that holds something parsed with `FromStr`.
pub(crate) fn get_opt_parsed<T: FromStr>(
    row: &AnyRow,
    column: &'static str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| parse_text(column, t)).transpose()
}

fn parse_text<T: FromStr>(column: &'static str, text: String) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt {
        column,
        value: text,
    })
}

/// Reads a TEXT column through a `parse(&str) -> Option<T>` function (the storage names
/// of rabt-core's enums).
pub(crate) fn get_enum<T>(
    row: &AnyRow,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or(StoreError::Corrupt {
        column,
        value: text,
    })
}

/// Reads a nullable TEXT column through a `parse(&str) -> Option<T>` function.
pub(crate) fn get_opt_enum<T>(
    row: &AnyRow,
    column: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| parse(&t).ok_or(StoreError::Corrupt { column, value: t }))
        .transpose()
}

/// Reads a TEXT column holding JSON.
pub(crate) fn get_json(
    row: &AnyRow,
    column: &'static str,
) -> Result<serde_json::Value, StoreError> {
    let text: String = row.try_get(column)?;
    Ok(serde_json::from_str(&text)?)
}

/// Reads a nullable TEXT column holding JSON.
pub(crate) fn get_opt_json(
    row: &AnyRow,
    column: &'static str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

/// Reads an INTEGER 0/1 column.
pub(crate) fn get_bool(row: &AnyRow, column: &'static str) -> Result<bool, StoreError> {
    let value: i64 = row.try_get(column)?;
    Ok(value != 0)
}

/// Reads a non-negative counter column.
pub(crate) fn get_count(row: &AnyRow, column: &'static str) -> Result<u32, StoreError> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt {
        column,
        value: value.to_string(),
    })
}

/// A page size as bound into `LIMIT`: at least 1, at most `max`.
pub(crate) fn page_limit(limit: u32, max: u32) -> i64 {
    i64::from(limit.clamp(1, max))
}

/// A query over the `Any` driver whose values are all owned.
pub(crate) type OwnedQuery = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// The most values one statement binds: under SQLite's limit (32,766) and
/// PostgreSQL's (65,535), so that a multi-row insert is split into statements of as
/// many rows as fit.
const MAX_BINDS: usize = 30_000;

/// Writes `rows` with as few statements as the bind limit allows:
/// `{head} ($1, …), (…) {tail}`, each row binding `columns` values with `bind`: a
/// multi-row `INSERT … VALUES`, or an `UPDATE … FROM (VALUES …) AS v` (whose columns
/// are `v.column1`… in both databases). Returns the rows that `tail`'s `RETURNING`
/// gave (none without one), in no promised order.
pub(crate) async fn write_rows<T>(
    conn: &mut sqlx::AnyConnection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(OwnedQuery, &T) -> Result<OwnedQuery, StoreError>,
) -> Result<Vec<AnyRow>, StoreError> {
    let mut returned = Vec::new();
    for chunk in rows.chunks((MAX_BINDS / columns.max(1)).max(1)) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|row| {
                let first = row * columns + 1;
                let marks: Vec<String> =
                    (first..first + columns).map(|n| format!("${n}")).collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let sql = format!("{head} {} {tail}", tuples.join(", "));
        // Assembled from the caller's constant text and placeholders only; every value
        // is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            query = bind(query, row)?;
        }
        returned.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(returned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip_at_millisecond_precision() {
        let at = DateTime::from_timestamp_millis(1_764_000_000_123).unwrap();
        assert_eq!(from_millis("at", millis(at)).unwrap(), at);
    }

    #[test]
    fn page_limits_are_clamped() {
        assert_eq!(page_limit(0, 100), 1);
        assert_eq!(page_limit(50, 100), 50);
        assert_eq!(page_limit(5000, 100), 100);
    }
}
