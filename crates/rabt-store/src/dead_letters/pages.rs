//! The walk of the bulk replay and purge over the open dead letters.

use rabt_core::{Agency, DeadLetterId};

use crate::codec::get_parsed;
use crate::connect::Store;
use crate::error::StoreError;

/// Open dead letters handled per page by the bulk operations.
const BULK_PAGE: i64 = 200;

/// The open dead letters' ids (of one agency, or of all), a page at a time, oldest
/// first: the walk of the bulk replay and purge. Each page starts after the last id of
/// the one before, so no letter is visited twice.
pub(super) struct OpenPages {
    agency: Option<Agency>,
    after: Option<DeadLetterId>,
}

impl OpenPages {
    pub(super) fn new(agency: Option<Agency>) -> Self {
        Self {
            agency,
            after: None,
        }
    }

    /// The next page; `None` once no open dead letter is left after the last page.
    pub(super) async fn next(
        &mut self,
        store: &Store,
    ) -> Result<Option<Vec<DeadLetterId>>, StoreError> {
        // '' sorts before every id, and '*' after every agency name: both filters stay
        // bound values, with one statement.
        let rows = sqlx::query(
            "SELECT id FROM dead_letters WHERE replayed_at IS NULL AND purged_at IS NULL \
             AND ($1 = '*' OR agency = $1) AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(self.agency.map_or("*", Agency::as_str))
        // No `after` is the first page: '' sorts before every id.
        .bind(self.after.map(|id| id.to_string()).unwrap_or_default())
        .bind(BULK_PAGE)
        .fetch_all(&store.pool)
        .await?;
        let page = rows
            .iter()
            .map(|row| get_parsed(row, "id"))
            .collect::<Result<Vec<DeadLetterId>, _>>()?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        self.after = Some(*last);
        Ok(Some(page))
    }
}
