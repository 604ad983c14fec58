//! The query string of `GET /ops/v1/dead-letters`.

use rabt_core::{Agency, DeadLetterId};
use rabt_store::DeadLetterState;

use crate::problem::{ApiError, FieldError};
use crate::query::{DEFAULT_LIMIT, bad_cursor, finish, page_limit, refused_text};

/// The parsed parameters of a list of dead letters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeadLetterParams {
    /// Only this agency's.
    pub(crate) agency: Option<Agency>,
    /// Only this state; `None` for `state=all`. Open ones by default.
    pub(crate) state: Option<DeadLetterState>,
    /// Page size.
    pub(crate) limit: u32,
    /// Dead letters older than this one (the `next` link carries it).
    pub(crate) cursor: Option<DeadLetterId>,
}

impl DeadLetterParams {
    /// Parses the query; an unknown parameter or a bad value is a 400 naming it.
    pub(crate) fn parse(query: &str) -> Result<Self, ApiError> {
        let mut params = DeadLetterParams {
            agency: None,
            state: Some(DeadLetterState::Open),
            limit: DEFAULT_LIMIT,
            cursor: None,
        };
        let mut errors = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let bad = |en: &str, ar: &str| FieldError::parameter(name.as_ref(), en, ar);
            if let Some(error) = refused_text(&name, &value) {
                errors.push(error);
                continue;
            }
            match name.as_ref() {
                // An empty filter filters nothing (see crate::query).
                "agency" | "state" | "cursor" if value.is_empty() => {}
                "agency" => match value.parse::<Agency>() {
                    Ok(agency) => params.agency = Some(agency),
                    Err(_) => errors.push(bad(
                        "must be interior, health, labor, municipal, chambers or saudi-post",
                        "يجب أن تكون interior أو health أو labor أو municipal أو chambers أو saudi-post",
                    )),
                },
                "state" if value == "all" => params.state = None,
                "state" => match DeadLetterState::parse(&value) {
                    Some(state) => params.state = Some(state),
                    None => errors.push(bad(
                        "must be open, replayed, purged or all",
                        "يجب أن تكون open أو replayed أو purged أو all",
                    )),
                },
                "limit" => match page_limit(&value, &name) {
                    Ok(n) => params.limit = n,
                    Err(e) => errors.push(e),
                },
                "cursor" => match DeadLetterId::parse(&value) {
                    Ok(id) => params.cursor = Some(id),
                    Err(_) => errors.push(bad_cursor(&name)),
                },
                other => errors.push(FieldError::parameter(
                    other,
                    "unknown parameter (allowed: agency, state, limit, cursor)",
                    "معامل غير معروف (المسموح: agency وstate وlimit وcursor)",
                )),
            }
        }
        finish(params, errors)
    }

    /// The link to the page after the one ending with `last`.
    pub(crate) fn next_link(&self, last: DeadLetterId) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(agency) = self.agency {
            query.append_pair("agency", agency.as_str());
        }
        query.append_pair("state", self.state.map_or("all", DeadLetterState::as_str));
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair("cursor", &last.to_string());
        format!("/ops/v1/dead-letters?{}", query.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_open_dead_letters_and_round_trips_through_the_next_link() {
        let params = DeadLetterParams::parse("").unwrap();
        assert_eq!(params.state, Some(DeadLetterState::Open));
        assert_eq!(params.limit, DEFAULT_LIMIT);
        let params = DeadLetterParams::parse("agency=saudi-post&state=all&limit=5").unwrap();
        let last = DeadLetterId::new();
        let link = params.next_link(last);
        let again =
            DeadLetterParams::parse(link.trim_start_matches("/ops/v1/dead-letters?")).unwrap();
        assert_eq!(
            again,
            DeadLetterParams {
                cursor: Some(last),
                ..params
            }
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let err =
            DeadLetterParams::parse("agency=mars&state=gone&limit=0&cursor=x&page=2").unwrap_err();
        let named: Vec<_> = err
            .problem()
            .errors
            .iter()
            .filter_map(|e| e.parameter.clone())
            .collect();
        assert_eq!(named, ["agency", "state", "limit", "cursor", "page"]);
    }
}
