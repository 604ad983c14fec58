//! The call to FSC's `coc-records` (over mutual TLS, with a bearer token), and the
//! classification of its answers.

use rabt_adapter::http::{
    CallContext, HeaderSecret, NO_READABLE_REASON, read_json, send, unavailable,
};
use rabt_adapter::{AdapterError, AgencyClient};
use rabt_core::Outcome;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap};
use reqwest::{StatusCode, Url};

use crate::query::MembershipQuery;
use crate::wire::{
    FscCocRecordResponse, FscExceptionDetail, FscServiceErrorResponse, NO_RECORD_CODE,
};

/// The resource Apigee publishes `GetCoCRecordByMemberShipID` as.
pub(crate) const COC_RECORDS_PATH: &str = "/v1/fsc/coc-records";

/// What FSC said, when it said something Rabt can use.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// A record.
    Found(Box<FscCocRecordResponse>),
    /// No record matches.
    NoRecord,
}

/// FSC's API at one base URL, with one client certificate (inside `http`) and one
/// bearer token.
#[derive(Debug)]
pub(crate) struct FscClient {
    /// The gateway's base URL, the mutual-TLS client and the timeout.
    pub(crate) agency: AgencyClient,
    /// `Bearer <token>`.
    pub(crate) bearer: HeaderSecret,
}

impl FscClient {
    /// `GET /v1/fsc/coc-records` for one query.
    pub(crate) async fn coc_record(
        &self,
        ctx: CallContext<'_>,
        query: &MembershipQuery,
    ) -> Result<Lookup, AdapterError> {
        let request = self
            .agency
            .http()
            .get(self.url(query))
            .header(AUTHORIZATION, self.bearer.value())
            .header(ACCEPT, "application/json");
        let answer = send(request, ctx).await?;
        tracing::debug!(status = answer.status.as_u16(), "FSC answered");
        match check_status(answer.status, &answer.headers, &answer.body)? {
            Reply::NoRecord => Ok(Lookup::NoRecord),
            Reply::Record => read_json(&answer.body, "coc-records answered unreadable JSON")
                .map(|record| Lookup::Found(Box::new(record))),
        }
    }

    fn url(&self, query: &MembershipQuery) -> Url {
        let mut url = self.agency.url(COC_RECORDS_PATH);
        url.query_pairs_mut().extend_pairs(query.params());
        url
    }
}

/// How a status with its body goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// 200: the body is a record.
    Record,
    /// 404 with the backend's "no record" exception.
    NoRecord,
}

/// Maps FSC's (Apigee's) statuses: 200 is a record; 404 is "no record" when the backend
/// says so and a wrong path otherwise; 400 is the input; 401 and 403 are our token or
/// certificate; 405 and 415 are a request Apigee does not take (a bug here, never
/// retried); 429 (spike arrest) and 5xx are "later".
pub(crate) fn check_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, AdapterError> {
    let said = || fsc_said(body);
    let refused = |outcome, what: &str| AdapterError::Refused {
        outcome,
        reason: format!("{what}: {}", said()),
    };
    match status.as_u16() {
        200 => Ok(Reply::Record),
        404 if is_no_record(body) => Ok(Reply::NoRecord),
        404 => Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            reason: "FSC has no such resource: check the chambers base URL".to_owned(),
        }),
        400 => Err(refused(Outcome::InvalidInput, "FSC rejected a parameter")),
        401 | 403 => Err(refused(
            Outcome::UpstreamError,
            "FSC rejected the token or the client certificate",
        )),
        405 | 415 => Err(refused(
            Outcome::UpstreamError,
            "FSC does not take this request",
        )),
        429 => Err(unavailable(status, headers, "FSC spike arrest")),
        500..=599 => Err(unavailable(status, headers, "FSC failed")),
        0..=199 | 201..=399 | 402 | 406..=414 | 416..=428 | 430..=499 | 600.. => Err(
            AdapterError::Malformed(format!("FSC answered HTTP {}", status.as_u16())),
        ),
    }
}

/// Whether a 404's body is the backend's "no record" exception (and not Apigee's "no
/// such path").
fn is_no_record(body: &[u8]) -> bool {
    serde_json::from_slice::<FscExceptionDetail>(body).is_ok_and(|e| e.code == NO_RECORD_CODE)
}

/// FSC's own short code and text from an error body; never the raw body, which could
/// echo anything back.
fn fsc_said(body: &[u8]) -> String {
    let text = if let Ok(e) = serde_json::from_slice::<FscServiceErrorResponse>(body) {
        let e = e.service_error;
        format!(
            "{} {} {}: {}",
            e.source_agency, e.error_type, e.code, e.error_text
        )
    } else if let Ok(e) = serde_json::from_slice::<FscExceptionDetail>(body) {
        format!("{} {}: {}", e.raised_by, e.code, e.error_text)
    } else {
        NO_READABLE_REASON.to_owned()
    };
    text.chars().take(96).collect()
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::conformance::assert_unavailable;
    use std::time::Duration;

    use reqwest::header::{HeaderValue, RETRY_AFTER};

    use super::*;

    const APIGEE: &[u8] = br#"{"ServiceError":{"SourceAgency":"Apigee","ErrorType":"TechnicalError","Code":"401","ErrorText":"Unauthorized"}}"#;

    fn status(code: u16, body: &[u8]) -> Result<Reply, AdapterError> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        check_status(StatusCode::from_u16(code).unwrap(), &headers, body)
    }

    fn refused(result: Result<Reply, AdapterError>) -> Outcome {
        match result {
            Err(err @ AdapterError::Refused { .. }) => {
                assert!(!err.is_retryable());
                err.final_outcome()
            }
            other => panic!("expected Refused, got {other:?}"),
        }
    }

    #[test]
    fn every_status_class_maps_as_documented() {
        assert_eq!(status(200, b"{}").unwrap(), Reply::Record);
        let no_record = format!(
            r#"{{"RaisedBy":"FSC","Code":"{NO_RECORD_CODE}","ErrorText":"none","Insert":["1","9"]}}"#
        );
        assert_eq!(status(404, no_record.as_bytes()).unwrap(), Reply::NoRecord);
        assert_eq!(refused(status(404, APIGEE)), Outcome::UpstreamError);
        assert_eq!(refused(status(404, b"")), Outcome::UpstreamError);
        assert_eq!(refused(status(400, APIGEE)), Outcome::InvalidInput);
        for code in [401, 403, 405, 415] {
            assert_eq!(
                refused(status(code, APIGEE)),
                Outcome::UpstreamError,
                "{code}"
            );
        }
        for code in [429, 500, 502, 503, 504] {
            let err = status(code, APIGEE).unwrap_err();
            assert_unavailable(&err, Some(Duration::from_secs(5)), code);
        }
        for code in [201, 204, 302, 406, 418] {
            let err = status(code, b"").unwrap_err();
            assert!(matches!(err, AdapterError::Malformed(_)), "{code}");
            assert!(err.is_retryable());
        }
    }

    #[test]
    fn reasons_quote_fsc_codes_never_raw_bodies() {
        let err = status(401, APIGEE).unwrap_err().to_string();
        assert!(
            err.contains("Apigee TechnicalError 401: Unauthorized"),
            "{err}"
        );
        let raw = status(400, b"<html>Bearer s3cr3t</html>")
            .unwrap_err()
            .to_string();
        assert!(!raw.contains("s3cr3t"), "{raw}");
    }

    #[test]
    fn urls_keep_the_base_path_and_carry_no_credential() {
        let client = FscClient {
            agency: AgencyClient::https_only(
                rabt_core::Agency::Chambers,
                Url::parse("https://api-dev.rega.gov.sa/gateway/").unwrap(),
                rabt_adapter::http::HttpClientConfig::default(),
            )
            .unwrap(),
            bearer: HeaderSecret::bearer(&rabt_adapter::http::Secret::new("t0ken")).unwrap(),
        };
        let query = MembershipQuery::ByMembership {
            chamber: 301,
            number: "5".into(),
        };
        assert_eq!(
            client.url(&query).as_str(),
            "https://api-dev.rega.gov.sa/gateway/v1/fsc/coc-records?cocMemberChamberCity=301&cocMemberId=5"
        );
        assert!(!client.url(&query).as_str().contains("t0ken"));
    }
}
