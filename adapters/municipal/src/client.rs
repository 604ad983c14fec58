//! The call to Balady (the submission of a verification request), and the
//! classification of its answers.

use rabt_adapter::http::{CallContext, Reply, quote_code, read_json, send, unavailable};
use rabt_adapter::{AdapterError, ApiKeyClient};
use rabt_core::Outcome;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::wire::{
    BaladyAcceptance, BaladyError, BaladyVerificationRequest, VERIFICATION_REQUESTS_PATH,
    is_valid_reference,
};

/// Balady's API at one base URL with one key.
#[derive(Debug)]
pub(crate) struct BaladyClient {
    pub(crate) api: ApiKeyClient,
}

impl BaladyClient {
    /// Submits a verification request; Balady accepts it with a reference. The task id
    /// goes as `X-Request-Id`: Balady keys its requests on it, so a retry gets the same
    /// reference.
    pub(crate) async fn submit(
        &self,
        ctx: CallContext<'_>,
        request: &BaladyVerificationRequest,
    ) -> Result<BaladyAcceptance, AdapterError> {
        let request = self.api.post(VERIFICATION_REQUESTS_PATH).json(request);
        let Reply {
            status,
            headers,
            body,
        } = send(request, ctx).await?;
        tracing::debug!(status = status.as_u16(), "Balady answered the submission");
        check_status(status, &headers, &body)?;
        read_acceptance(&body)
    }
}

/// Reads a 2xx body: an acceptance whose reference a callback can quote.
pub(crate) fn read_acceptance(body: &[u8]) -> Result<BaladyAcceptance, AdapterError> {
    let accepted: BaladyAcceptance = read_json(body, "Balady's acceptance is unreadable")?;
    if !is_valid_reference(&accepted.reference) {
        return Err(AdapterError::Malformed(
            "Balady's reference is not 4 to 64 letters, digits, `_` or `-`".to_owned(),
        ));
    }
    Ok(accepted)
}

/// Maps Balady's status codes: 2xx goes on; 400 and 422 are the input; 401 and 403 our
/// key or its entitlement; 404, 405 and 415 a wrong base URL or a broken client; 409 a
/// request id reused for another request; 408, 429 and 5xx are "later".
pub(crate) fn check_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AdapterError> {
    let said = || balady_said(body);
    let refused = |outcome, what: &str| AdapterError::Refused {
        outcome,
        reason: format!("{what}: {}", said()),
    };
    match status.as_u16() {
        200..=299 => Ok(()),
        400 | 422 => Err(refused(
            Outcome::InvalidInput,
            "Balady rejected the request",
        )),
        401 => Err(refused(
            Outcome::UpstreamError,
            "Balady rejected the API key",
        )),
        403 => Err(refused(
            Outcome::UpstreamError,
            "the API key is not entitled to licence verification",
        )),
        404 | 405 => Err(refused(
            Outcome::UpstreamError,
            "Balady has no such endpoint (check the municipal base URL)",
        )),
        409 => Err(refused(
            Outcome::UpstreamError,
            "Balady saw this request id with another request",
        )),
        415 => Err(refused(
            Outcome::UpstreamError,
            "Balady refused the request's format",
        )),
        408 | 429 => Err(unavailable(status, headers, &format!("Balady: {}", said()))),
        500..=599 => Err(unavailable(status, headers, &format!("Balady: {}", said()))),
        100..=199
        | 300..=399
        | 402
        | 406
        | 407
        | 410..=414
        | 416..=421
        | 423..=428
        | 430..=499
        | 600..
        | 0..=99 => Err(AdapterError::Malformed(format!(
            "Balady answered HTTP {}",
            status.as_u16()
        ))),
    }
}

/// Balady's `errorCode` from an error body, if the body is Balady's; never the raw
/// body, nor the messages, which may echo the request back.
fn balady_said(body: &[u8]) -> String {
    quote_code(body, 48, |e: BaladyError| e.error_code)
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::conformance::{assert_refused, assert_unavailable};
    use std::time::Duration;

    use reqwest::Url;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    use super::*;

    fn status(code: u16) -> Result<(), AdapterError> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        let body = r#"{"errorCode": "SOMETHING", "errorMessageAr": "خطأ", "errorMessageEn": "x 4000012345"}"#.as_bytes();
        check_status(StatusCode::from_u16(code).unwrap(), &headers, body)
    }

    #[test]
    fn status_codes_map_as_documented() {
        for code in [200, 201, 202] {
            assert!(status(code).is_ok(), "{code}");
        }
        for code in [400, 422] {
            let err = status(code).unwrap_err();
            assert_refused(&err, Outcome::InvalidInput, code);
        }
        for code in [401, 403, 404, 405, 409, 415] {
            let err = status(code).unwrap_err();
            assert_refused(&err, Outcome::UpstreamError, code);
        }
        for code in [408, 429, 500, 502, 503, 504] {
            let err = status(code).unwrap_err();
            assert_unavailable(&err, Some(Duration::from_secs(5)), code);
        }
        for code in [101, 302, 406, 410, 418, 451] {
            let err = status(code).unwrap_err();
            assert!(matches!(err, AdapterError::Malformed(_)), "{code}");
            assert!(err.is_retryable());
        }
    }

    #[test]
    fn a_rate_limit_without_retry_after_has_no_hint() {
        let err =
            check_status(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b"{}").unwrap_err();
        assert!(matches!(err, AdapterError::Unavailable { .. }));
        assert_eq!(err.retry_after(), None);
    }

    #[test]
    fn error_reasons_quote_balady_code_only() {
        let err = status(400).unwrap_err().to_string();
        assert!(err.contains("SOMETHING"), "{err}");
        assert!(!err.contains("4000012345"), "{err}");
        let raw = check_status(StatusCode::BAD_REQUEST, &HeaderMap::new(), b"<html>secret")
            .unwrap_err()
            .to_string();
        assert!(!raw.contains("secret"), "{raw}");
    }

    #[test]
    fn acceptances_need_a_reference_a_callback_can_quote() {
        let ok = br#"{"reference": "BLD-7F3A9C21", "status": "PENDING_INSPECTION",
                      "receivedAt": "2024-07-07T09:30:00Z"}"#;
        assert_eq!(read_acceptance(ok).unwrap().reference, "BLD-7F3A9C21");
        for bad in [
            r#"{"reference": "BLD 1", "status": "PENDING_INSPECTION", "receivedAt": "2024-07-07T09:30:00Z"}"#,
            r#"{"reference": "", "status": "PENDING_INSPECTION", "receivedAt": "2024-07-07T09:30:00Z"}"#,
            r#"{"reference": "BLD-1234", "status": "DONE", "receivedAt": "2024-07-07T09:30:00Z"}"#,
            r#"{"reference": "BLD-1234", "status": "PENDING_INSPECTION"}"#,
            r#"{"success": tru"#,
        ] {
            assert!(
                matches!(
                    read_acceptance(bad.as_bytes()),
                    Err(AdapterError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_keep_the_base_path() {
        let base = rabt_adapter::http::BaseUrl::new(
            Url::parse("https://api.balady.gov.sa/gateway/").unwrap(),
        )
        .unwrap();
        assert_eq!(
            base.join(VERIFICATION_REQUESTS_PATH).as_str(),
            "https://api.balady.gov.sa/gateway/api/v1/licenses/verification-requests"
        );
    }
}
