//! The query string of `GET /ops/v1/dead-letters`.

use rabt_core::{Agency, DeadLetterId};
use rabt_store::DeadLetterState;

use super::agency_expected;
use crate::problem::ApiError;
use crate::query::{DEFAULT_LIMIT, Read, next_link, read_query};

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
        let params = DeadLetterParams {
            agency: None,
            state: Some(DeadLetterState::Open),
            limit: DEFAULT_LIMIT,
            cursor: None,
        };
        let allowed = ["agency", "state", "limit", "cursor"];
        read_query(query, params, &allowed, |params, param| {
            match (param.name(), param.value()) {
                ("agency", value) => {
                    let agency = value.parse::<Agency>().map_err(|_| {
                        let (en, ar) = agency_expected();
                        param.bad(&en, &ar)
                    })?;
                    params.agency = Some(agency);
                }
                ("state", "all") => params.state = None,
                ("state", value) => {
                    let state = DeadLetterState::parse(value).ok_or_else(|| {
                        param.bad(
                            "must be open, replayed, purged or all",
                            "يجب أن تكون open أو replayed أو purged أو all",
                        )
                    })?;
                    params.state = Some(state);
                }
                ("limit", _) => params.limit = param.limit()?,
                ("cursor", _) => {
                    params.cursor = Some(param.cursor(|v| DeadLetterId::parse(v).ok())?);
                }
                _ => return Ok(Read::Unknown),
            }
            Ok(Read::Taken)
        })
    }

    /// The link to the page after the one ending with `last`.
    pub(crate) fn next_link(&self, last: DeadLetterId) -> String {
        let mut filters = url::form_urlencoded::Serializer::new(String::new());
        if let Some(agency) = self.agency {
            filters.append_pair("agency", agency.as_str());
        }
        filters.append_pair("state", self.state.map_or("all", DeadLetterState::as_str));
        next_link("/ops/v1/dead-letters", filters, self.limit, last)
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
        assert_eq!(
            err.parameters(),
            ["agency", "state", "limit", "cursor", "page"]
        );
    }
}
