//! A page read with optional filters: the lists of requests, dead letters and audit
//! entries each add an `AND` condition a filter given, number its placeholder, bind
//! its value, and end with an order and a limit. Written once here so that the SQL is
//! always assembled from fixed fragments and every value is bound in the order of its
//! placeholder.

use sqlx::AnyPool;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::error::StoreError;

/// A value bound to one placeholder.
enum Bound {
    Text(String),
    Number(i64),
}

/// A `SELECT … WHERE …` extended by one `AND` a filter given.
pub(crate) struct Filtered {
    sql: String,
    values: Vec<Bound>,
}

impl Filtered {
    /// Starts from `select`, whose `WHERE` clause the filters extend with `AND`
    /// (`WHERE 1 = 1` where nothing is always filtered on).
    pub(crate) fn new(select: impl Into<String>) -> Self {
        Self {
            sql: select.into(),
            values: Vec::new(),
        }
    }

    /// The placeholder number the next bound value takes.
    fn next(&self) -> usize {
        self.values.len() + 1
    }

    /// Adds ` AND {condition} $n`, `$n` bound to `value` as text.
    pub(crate) fn text(&mut self, condition: &str, value: String) {
        self.text_with(value, |n| format!("{condition} ${n}"));
    }

    /// Adds ` AND ` and the condition that `condition(n)` writes around the placeholder
    /// `$n` (for one that names it more than once), `$n` bound to `value` as text.
    pub(crate) fn text_with(&mut self, value: String, condition: impl FnOnce(usize) -> String) {
        let condition = condition(self.next());
        self.sql.push_str(&format!(" AND {condition}"));
        self.values.push(Bound::Text(value));
    }

    /// Adds ` AND {condition} $n`, `$n` bound to `value` as a number.
    pub(crate) fn number(&mut self, condition: &str, value: i64) {
        self.sql
            .push_str(&format!(" AND {condition} ${}", self.next()));
        self.values.push(Bound::Number(value));
    }

    /// Adds ` AND {condition}`, a fixed condition that binds nothing.
    pub(crate) fn fixed(&mut self, condition: &str) {
        self.sql.push_str(&format!(" AND {condition}"));
    }

    /// Ends with ` ORDER BY {order} LIMIT $n` (`limit` bound last) and reads the page.
    pub(crate) async fn fetch_page(
        mut self,
        order: &str,
        limit: i64,
        pool: &AnyPool,
    ) -> Result<Vec<AnyRow>, StoreError> {
        self.sql
            .push_str(&format!(" ORDER BY {order} LIMIT ${}", self.next()));
        // Assembled from the callers' fixed fragments and placeholders only; every
        // value is bound.
        let mut query = sqlx::query(AssertSqlSafe(self.sql));
        for value in self.values {
            query = match value {
                Bound::Text(text) => query.bind(text),
                Bound::Number(number) => query.bind(number),
            };
        }
        Ok(query.bind(limit).fetch_all(pool).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_order_values_are_given() {
        let mut filtered = Filtered::new("SELECT id FROM t WHERE 1 = 1");
        filtered.text("a =", "x".to_owned());
        filtered.fixed("b IS NULL");
        filtered.text_with("y".to_owned(), |n| format!("(c = ${n} OR d = ${n})"));
        filtered.number("e <", 5);
        assert_eq!(
            filtered.sql,
            "SELECT id FROM t WHERE 1 = 1 AND a = $1 AND b IS NULL \
             AND (c = $2 OR d = $2) AND e < $3"
        );
        assert!(matches!(
            filtered.values.as_slice(),
            [Bound::Text(a), Bound::Text(c), Bound::Number(5)] if a == "x" && c == "y"
        ));
    }
}
