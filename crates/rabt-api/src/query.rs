//! The query string of `GET /v1/requests`.

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
        let mut params = ListParams {
            service: None,
            status: None,
            reference: None,
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
                // A filter sent empty (`?service=`, as forms and generated clients do)
                // filters nothing.
                "service" | "status" | "reference" | "cursor" if value.is_empty() => {}
                "service" => match ServiceName::parse(&value) {
                    Ok(s) => params.service = Some(s),
                    Err(_) => errors.push(bad("not a service name", "ليس اسم خدمة")),
                },
                "status" => match RequestStatus::parse(&value) {
                    Some(s) => params.status = Some(s),
                    None => errors.push(bad(
                        "must be ACCEPTED, RUNNING or COMPLETED",
                        "يجب أن تكون ACCEPTED أو RUNNING أو COMPLETED",
                    )),
                },
                "reference" if value.chars().count() <= 128 => {
                    params.reference = Some(value.into_owned());
                }
                "reference" => errors.push(bad(
                    "must be at most 128 characters",
                    "يجب ألا يتجاوز 128 حرفًا",
                )),
                "limit" => match page_limit(&value, &name) {
                    Ok(n) => params.limit = n,
                    Err(e) => errors.push(e),
                },
                "cursor" => match RequestId::parse(&value) {
                    Ok(id) => params.cursor = Some(id),
                    Err(_) => errors.push(bad_cursor(&name)),
                },
                other => errors.push(FieldError::parameter(
                    other,
                    "unknown parameter (allowed: service, status, reference, limit, cursor)",
                    "معامل غير معروف (المسموح: service وstatus وreference وlimit وcursor)",
                )),
            }
        }
        finish(params, errors)
    }

    /// The link to the page after the one ending with `last`.
    pub(crate) fn next_link(&self, last: RequestId) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(service) = &self.service {
            query.append_pair("service", service.as_str());
        }
        if let Some(status) = self.status {
            query.append_pair("status", status.as_str());
        }
        if let Some(reference) = &self.reference {
            query.append_pair("reference", reference);
        }
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair("cursor", &last.to_string());
        format!("/v1/requests?{}", query.finish())
    }
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
}
