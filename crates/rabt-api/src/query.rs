//! The query strings of lists: `GET /v1/requests` ([`ListParams`]), and what every
//! list's parser shares ([`read_query`]: parameters read once, each bad one named;
//! page sizes, cursors and `next` links).

use std::borrow::Cow;
use std::fmt::Display;

use rabt_core::{RequestId, RequestStatus, ServiceName};

use crate::problem::{ApiError, FieldError, ProblemKind};

/// The default page size.
pub(crate) const DEFAULT_LIMIT: u32 = 20;
/// The largest page size.
pub(crate) const MAX_LIMIT: u32 = 100;

/// The parsed parameters of a list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListParams {
    /// Only this service.
    pub service: Option<ServiceName>,
    /// Only this status.
    pub status: Option<RequestStatus>,
    /// Only this cooperative reference.
    pub reference: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Requests older than this one (the `next` link carries it).
    pub cursor: Option<RequestId>,
}

impl ListParams {
    /// Parses the query; an unknown parameter or a bad value is a 400 naming it.
    pub(crate) fn parse(query: &str) -> Result<Self, ApiError> {
        let params = ListParams {
            service: None,
            status: None,
            reference: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        };
        let allowed = ["service", "status", "reference", "limit", "cursor"];
        read_query(query, params, &allowed, |params, param| {
            match param.name() {
                "service" => {
                    let service = |v: &str| ServiceName::parse(v).ok();
                    params.service =
                        Some(param.parse(service, "not a service name", "ليس اسم خدمة")?);
                }
                "status" => {
                    params.status = Some(param.parse(
                        RequestStatus::parse,
                        "must be ACCEPTED, RUNNING or COMPLETED",
                        "يجب أن تكون ACCEPTED أو RUNNING أو COMPLETED",
                    )?);
                }
                "reference" => {
                    let reference =
                        |v: &str| (!v.is_empty() && v.chars().count() <= 128).then(|| v.to_owned());
                    params.reference = Some(param.parse(
                        reference,
                        "must be 1 to 128 characters",
                        "يجب أن يكون من 1 إلى 128 حرفًا",
                    )?);
                }
                "limit" => params.limit = param.limit()?,
                "cursor" => params.cursor = Some(param.cursor(|v| RequestId::parse(v).ok())?),
                _ => return Ok(Read::Unknown),
            }
            Ok(Read::Taken)
        })
    }

    /// The link to the page after the one ending with `last`.
    pub(crate) fn next_link(&self, last: RequestId) -> String {
        let mut filters = url::form_urlencoded::Serializer::new(String::new());
        if let Some(service) = &self.service {
            filters.append_pair("service", service.as_str());
        }
        if let Some(status) = self.status {
            filters.append_pair("status", status.as_str());
        }
        if let Some(reference) = &self.reference {
            filters.append_pair("reference", reference);
        }
        next_link("/v1/requests", filters, self.limit, last)
    }
}

/// What a list's parser made of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// It is one of the list's, and its value was good.
    Taken,
    /// The list has no such parameter.
    Unknown,
}

/// One parameter of a query string.
#[derive(Debug)]
pub(crate) struct Param<'q> {
    name: Cow<'q, str>,
    value: Cow<'q, str>,
}

impl Param<'_> {
    /// Its name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Its value, decoded.
    pub(crate) fn value(&self) -> &str {
        &self.value
    }

    /// The error naming this parameter.
    pub(crate) fn bad(&self, en: &str, ar: &str) -> FieldError {
        FieldError::parameter(self.name(), en, ar)
    }

    /// Its value read by `parse`; when `parse` refuses it, the error naming this
    /// parameter with `en` and `ar`.
    pub(crate) fn parse<V>(
        &self,
        parse: impl FnOnce(&str) -> Option<V>,
        en: &str,
        ar: &str,
    ) -> Result<V, FieldError> {
        parse(self.value()).ok_or_else(|| self.bad(en, ar))
    }

    /// A page size: an integer from 1 to [`MAX_LIMIT`].
    pub(crate) fn limit(&self) -> Result<u32, FieldError> {
        page_limit(self.value(), self.name())
    }

    /// A cursor, which only a `next` link gives: `parse` reads it.
    pub(crate) fn cursor<C>(&self, parse: impl FnOnce(&str) -> Option<C>) -> Result<C, FieldError> {
        parse(self.value()).ok_or_else(|| bad_cursor(self.name()))
    }
}

/// Reads a list's query string into `params`: `read` takes each parameter in turn
/// (refusing a bad value with the error naming it) or answers that the list has no such
/// parameter, which is refused listing the `allowed` ones. Every bad parameter is named
/// in one `400 invalid-query`, so a client fixes them all at once.
pub(crate) fn read_query<T>(
    query: &str,
    mut params: T,
    allowed: &[&str],
    mut read: impl FnMut(&mut T, &Param<'_>) -> Result<Read, FieldError>,
) -> Result<T, ApiError> {
    let mut errors = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        // PostgreSQL cannot compare text holding NUL: refused here, not a 500 there.
        if let Some(refused) = refused_text(&name, &value) {
            errors.push(refused);
            continue;
        }
        // A filter sent empty (`?service=`, as forms and generated clients do) filters
        // nothing; an empty page size is still not a number.
        if value.is_empty() && name != "limit" && allowed.contains(&name.as_ref()) {
            continue;
        }
        let param = Param { name, value };
        match read(&mut params, &param) {
            Ok(Read::Taken) => {}
            Ok(Read::Unknown) => errors.push(unknown_parameter(param.name(), allowed)),
            Err(error) => errors.push(error),
        }
    }
    finish(params, errors)
}

/// The error for a parameter the list does not have, listing the ones it has.
fn unknown_parameter(name: &str, allowed: &[&str]) -> FieldError {
    FieldError::parameter(
        name,
        format!("unknown parameter (allowed: {})", allowed.join(", ")),
        format!("معامل غير معروف (المسموح: {})", allowed.join(" و")),
    )
}

/// A page read with one item more than its size, to tell whether another follows.
pub(crate) struct Paged<T> {
    /// The page's items, at most its size.
    pub(crate) items: Vec<T>,
    /// Whether items follow the last of them.
    more: bool,
}

impl<T> Paged<T> {
    /// The first `limit` of `read` (read with a limit of `limit + 1`).
    pub(crate) fn of(mut read: Vec<T>, limit: u32) -> Paged<T> {
        let more = read.len() > limit as usize;
        read.truncate(limit as usize);
        Paged { items: read, more }
    }

    /// The cursor `of` the last item gives, when more items follow.
    pub(crate) fn next<C>(&self, of: impl FnOnce(&T) -> C) -> Option<C> {
        self.items.last().filter(|_| self.more).map(of)
    }
}

/// The link to a list's next page: its `path`, the `filters` of this page, the page
/// size and the cursor (the last item of this page).
pub(crate) fn next_link(
    path: &str,
    mut filters: url::form_urlencoded::Serializer<'_, String>,
    limit: u32,
    cursor: impl Display,
) -> String {
    filters.append_pair("limit", &limit.to_string());
    filters.append_pair("cursor", &cursor.to_string());
    format!("{path}?{}", filters.finish())
}

/// A page size from a query: an integer from 1 to [`MAX_LIMIT`].
pub(crate) fn page_limit(value: &str, name: &str) -> Result<u32, FieldError> {
    match value.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(FieldError::parameter(
            name,
            "must be an integer from 1 to 100",
            "يجب أن يكون عددًا صحيحًا من 1 إلى 100",
        )),
    }
}

/// A parameter (name or value) holding a NUL character, which no filter can match and
/// PostgreSQL cannot even compare: refused, naming the parameter.
pub(crate) fn refused_text(name: &str, value: &str) -> Option<FieldError> {
    (name.contains('\0') || value.contains('\0')).then(|| {
        FieldError::parameter(
            name.replace('\0', "\\u0000"),
            "contains a NUL character (U+0000), which is not allowed",
            "يحتوي على المحرف NUL (U+0000) وهو غير مسموح",
        )
    })
}

/// The error for a cursor that did not come from a `next` link.
pub(crate) fn bad_cursor(name: &str) -> FieldError {
    FieldError::parameter(
        name,
        "must be the cursor of a `next` link",
        "يجب أن يكون المؤشر المأخوذ من رابط `next`",
    )
}

/// The parsed parameters, or a 400 listing every bad one.
pub(crate) fn finish<T>(params: T, errors: Vec<FieldError>) -> Result<T, ApiError> {
    if errors.is_empty() {
        Ok(params)
    } else {
        Err(ApiError::new(ProblemKind::InvalidQuery).errors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_read_one_long_has_a_next_cursor_and_a_short_one_none() {
        let full = Paged::of(vec![1, 2, 3], 2);
        assert_eq!(full.items, [1, 2]);
        assert_eq!(full.next(|last| last * 10), Some(20));
        let last = Paged::of(vec![1, 2], 2);
        assert_eq!(last.items, [1, 2]);
        assert_eq!(last.next(|last| last * 10), None);
        let empty = Paged::<u32>::of(Vec::new(), 2);
        assert_eq!(empty.next(|last| *last), None);
    }

    #[test]
    fn parses_and_round_trips_through_the_next_link() {
        let params =
            ListParams::parse("service=post.address.verify&status=COMPLETED&limit=5").unwrap();
        assert_eq!(params.limit, 5);
        assert_eq!(params.status, Some(RequestStatus::Completed));
        let last = RequestId::new();
        let link = params.next_link(last);
        let again = ListParams::parse(link.trim_start_matches("/v1/requests?")).unwrap();
        assert_eq!(again.cursor, Some(last));
        assert_eq!(again.service, params.service);
    }

    #[test]
    fn bad_parameters_are_named() {
        for query in [
            "limit=0",
            "limit=101",
            "limit=x",
            "status=DONE",
            "cursor=abc",
            "sort=asc",
            "service=Bad",
        ] {
            let err = ListParams::parse(query).unwrap_err();
            let problem = err.problem();
            assert_eq!(problem.kind, ProblemKind::InvalidQuery, "{query}");
            assert!(problem.errors[0].parameter.is_some(), "{query}");
        }
        assert_eq!(ListParams::parse("").unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn empty_filters_filter_nothing_and_nul_is_refused() {
        let params = ListParams::parse("service=&status=&reference=&cursor=").unwrap();
        assert_eq!(params, ListParams::parse("").unwrap());
        for query in ["reference=a%00b", "ref%00=1", "service=%00"] {
            let err = ListParams::parse(query).unwrap_err();
            assert_eq!(err.problem().kind, ProblemKind::InvalidQuery, "{query}");
            assert!(err.problem().errors[0].detail_en.contains("NUL"), "{query}");
        }
    }

    #[test]
    fn every_bad_parameter_is_named_once_in_order() {
        let err = ListParams::parse("limit=0&sort=asc&status=DONE&reference=%00").unwrap_err();
        assert_eq!(err.parameters(), ["limit", "sort", "status", "reference"]);
        let problem = err.problem();
        assert_eq!(
            problem.errors[1].detail_en,
            "unknown parameter (allowed: service, status, reference, limit, cursor)"
        );
        assert_eq!(
            problem.errors[1].detail_ar,
            "معامل غير معروف (المسموح: service وstatus وreference وlimit وcursor)"
        );
    }
}
