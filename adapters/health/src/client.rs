//! The call to the ministry's batch API, and the classification of its answers.

use rabt_adapter::http::{CallContext, Reply, quote_code, read_json, send, unavailable};
use rabt_adapter::{AdapterError, ApiKeyClient};
use rabt_core::Outcome;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::wire::{ESTABLISHMENT_NOT_FOUND, MohBatchAccepted, MohBatchRequest, MohError};

/// Where batches are submitted.
pub(crate) const BATCHES_PATH: &str = "/api/v1/health-certificates/batches";

/// The header that carries the API key.
pub(crate) const API_KEY_HEADER: &str = "x-api-key";

/// What the ministry did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Submission {
    /// Accepted; the callback will quote the reference.
    Accepted(MohBatchAccepted),
    /// Refused because it knows no such establishment licence.
    EstablishmentNotFound,
}

/// The ministry's API at one base URL with one key.
#[derive(Debug)]
pub(crate) struct MohClient {
    pub(crate) api: ApiKeyClient,
}

impl MohClient {
    /// Submits a batch. The task id goes as `X-Request-Id`: the ministry answers a
    /// repeated id with the batch it already accepted, so a retried submission does not
    /// start a second batch.
    pub(crate) async fn submit(
        &self,
        ctx: CallContext<'_>,
        batch: &MohBatchRequest,
    ) -> Result<Submission, AdapterError> {
        let request = self.api.post(BATCHES_PATH).json(batch);
        let Reply {
            status,
            headers,
            body,
        } = send(request, ctx).await?;
        tracing::debug!(status = status.as_u16(), "MOH answered the batch");
        classify(status, &headers, &body)
    }
}

/// Maps the ministry's answer: 200/202 is an acceptance; 400 and 413 are the input;
/// 401 and 403 our key; 404 `ESTABLISHMENT_NOT_FOUND` is an answer, any other 404 a
/// wrong base URL; 409 a reused request id; 429 and 5xx are "later".
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Submission, AdapterError> {
    let said = || moh_said(body);
    match status.as_u16() {
        200 | 202 => accepted(body).map(Submission::Accepted),
        400 | 413 => Err(AdapterError::Refused {
            outcome: Outcome::InvalidInput,
            reason: format!("MOH rejected the batch: {}", said()),
        }),
        401 | 403 => Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            reason: format!("MOH rejected the API key: {}", said()),
        }),
        404 if said() == ESTABLISHMENT_NOT_FOUND => Ok(Submission::EstablishmentNotFound),
        404 => Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            reason: "MOH has no such endpoint: check the health base URL".to_owned(),
        }),
        409 => Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            reason: format!("MOH refused a reused request id: {}", said()),
        }),
        429 => Err(unavailable(status, headers, "MOH rate limit")),
        500..=599 => Err(unavailable(status, headers, "MOH failed")),
        0..=199 | 201 | 203..=399 | 402 | 405..=408 | 410..=412 | 414..=428 | 430..=499 | 600.. => {
            Err(AdapterError::Malformed(format!(
                "MOH answered HTTP {}",
                status.as_u16()
            )))
        }
    }
}

/// An acceptance the callback can be matched to, or `Malformed`.
fn accepted(body: &[u8]) -> Result<MohBatchAccepted, AdapterError> {
    let accepted: MohBatchAccepted = read_json(body, "MOH's acceptance is unreadable")?;
    // A reference the callback schema would refuse could never be matched to its
    // callback: better a retried submission than a task that waits for nothing.
    crate::wire::check_reference(&accepted.reference)
        .map_err(|e| AdapterError::Malformed(e.to_string()))?;
    Ok(accepted)
}

/// The ministry's error `code`, if the body is the ministry's; never the raw body, which
/// could echo anything back.
fn moh_said(body: &[u8]) -> String {
    quote_code(body, 64, |e: MohError| e.code)
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::conformance::{assert_refused, assert_unavailable};
    use std::time::Duration;

    use reqwest::Url;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    use super::*;

    fn error_body(code: &str) -> Vec<u8> {
        format!(r#"{{"code": "{code}", "messageEn": "x", "messageAr": "س"}}"#).into_bytes()
    }

    fn answer(code: u16, body: &[u8]) -> Result<Submission, AdapterError> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        classify(StatusCode::from_u16(code).unwrap(), &headers, body)
    }

    const ACCEPTED: &str = r#"{"batchId": "HB-2025-00000001", "reference": "MOH-BATCH-0123456789ABCDEF",
        "status": "ACCEPTED", "establishmentLicenseNumber": "4000067890", "workersCount": 2,
        "acceptedAt": "2025-01-01T10:00:00Z"}"#;

    #[test]
    fn acceptances_carry_the_reference() {
        for code in [200, 202] {
            let Ok(Submission::Accepted(accepted)) = answer(code, ACCEPTED.as_bytes()) else {
                panic!("{code} is an acceptance");
            };
            assert_eq!(accepted.reference, "MOH-BATCH-0123456789ABCDEF");
        }
        let bad_reference = ACCEPTED.replace("MOH-BATCH-0123456789ABCDEF", "MOH BATCH");
        assert!(matches!(
            answer(202, bad_reference.as_bytes()),
            Err(AdapterError::Malformed(_))
        ));
        let other_status = ACCEPTED.replace("ACCEPTED", "REJECTED");
        assert!(matches!(
            answer(202, other_status.as_bytes()),
            Err(AdapterError::Malformed(_))
        ));
        assert!(matches!(
            answer(202, b"{\"batchId\": tru"),
            Err(AdapterError::Malformed(_))
        ));
    }

    #[test]
    fn status_codes_map_as_documented() {
        for code in [400, 413] {
            let err = answer(code, &error_body("VALIDATION_ERROR")).unwrap_err();
            assert_refused(&err, Outcome::InvalidInput, code);
        }
        for (code, moh) in [
            (401, "INVALID_API_KEY"),
            (403, "ACCESS_DENIED"),
            (404, "NOT_FOUND"),
            (409, "DUPLICATE_REQUEST"),
        ] {
            let err = answer(code, &error_body(moh)).unwrap_err();
            assert_refused(&err, Outcome::UpstreamError, code);
        }
        assert_eq!(
            answer(404, &error_body(ESTABLISHMENT_NOT_FOUND)).unwrap(),
            Submission::EstablishmentNotFound
        );
        for code in [429, 500, 502, 503, 504] {
            let err = answer(code, &error_body("RATE_LIMITED")).unwrap_err();
            assert_unavailable(&err, Some(Duration::from_secs(5)), code);
        }
        for code in [201, 204, 302, 405, 418] {
            assert!(
                matches!(
                    answer(code, ACCEPTED.as_bytes()),
                    Err(AdapterError::Malformed(_))
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn reasons_quote_the_ministrys_code_only() {
        let err = answer(400, &error_body("BATCH_TOO_LARGE")).unwrap_err();
        assert!(err.to_string().contains("BATCH_TOO_LARGE"), "{err}");
        let raw = answer(400, b"<html>1000000008 secret</html>")
            .unwrap_err()
            .to_string();
        assert!(
            !raw.contains("secret") && !raw.contains("1000000008"),
            "{raw}"
        );
    }

    #[test]
    fn the_url_keeps_the_base_path() {
        let base =
            rabt_adapter::http::BaseUrl::new(Url::parse("https://moh.example/gateway/").unwrap())
                .unwrap();
        assert_eq!(
            base.join(BATCHES_PATH).as_str(),
            "https://moh.example/gateway/api/v1/health-certificates/batches"
        );
    }
}
