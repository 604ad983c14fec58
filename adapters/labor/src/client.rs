//! The calls to MHRSD's ESB through API Connect, and the classification of its HTTP
//! answers.

use chrono::{FixedOffset, Utc};
use rabt_adapter::http::{CallContext, Reply, quote_code, unavailable};
use rabt_adapter::oauth2::TokenCache;
use rabt_adapter::{AdapterError, AgencyClient};
use rabt_core::Outcome;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::wire::{
    ApicError, Operation, QiwaRequest, QiwaResponse, RqHeader, unwrap_envelope, wrap_request,
};
use crate::{CHANNEL_ID, CLIENT_ID_HEADER};

/// MHRSD's gateway at one base URL, with one client's token cache.
#[derive(Debug)]
pub(crate) struct QiwaClient {
    /// The gateway's base URL, the HTTP client and the timeout.
    pub(crate) agency: AgencyClient,
    /// API Connect wants the client id on every call besides the token.
    pub(crate) client_id: HeaderValue,
    pub(crate) tokens: TokenCache,
}

impl QiwaClient {
    /// Calls one operation: the envelope with the task id as `TransactionId`, the
    /// bearer token (refreshed once on a 401), and the answer's envelope, whose
    /// `ResponseStatus` is the caller's to read.
    pub(crate) async fn call<O: Operation>(
        &self,
        ctx: CallContext<'_>,
        body: O::RqBody,
    ) -> Result<QiwaResponse<O::RsBody>, AdapterError> {
        let transaction_id = ctx.task.to_string();
        let request = QiwaRequest {
            header: RqHeader {
                transaction_id: transaction_id.clone(),
                channel_id: CHANNEL_ID.to_owned(),
                session_id: None,
                request_time: riyadh_now(),
                service_code: O::SERVICE_CODE.to_owned(),
                debug_flag: None,
                user_info: None,
            },
            body,
        };
        let envelope = wrap_request::<O>(&request);
        let url = self.agency.url(O::PATH);
        let response = self
            .tokens
            .send(ctx, || {
                self.agency
                    .http()
                    .post(url.clone())
                    .header(CLIENT_ID_HEADER, self.client_id.clone())
                    .json(&envelope)
            })
            .await?;
        let Reply {
            status,
            headers,
            body: bytes,
        } = Reply::read(response, ctx.timeout).await?;
        tracing::debug!(
            operation = O::NAME,
            status = status.as_u16(),
            "MHRSD answered"
        );
        let rs_key = O::rs_key();
        check_status(status, &headers, &bytes, &rs_key)?;
        let answer: QiwaResponse<O::RsBody> = unwrap_envelope(&bytes, &rs_key)
            .map_err(|why| AdapterError::Malformed(format!("MHRSD's {}: {why}", O::NAME)))?;
        // An answer for another transaction is a mix-up on the way, not our answer.
        if let Some(echoed) = &answer.header.transaction_id
            && *echoed != transaction_id
        {
            return Err(AdapterError::Malformed(format!(
                "MHRSD's {} answered for another TransactionId",
                O::NAME
            )));
        }
        Ok(answer)
    }
}

/// `yyyy-MM-dd HH:mm:ss.SSS` in Riyadh time (UTC+3, no daylight saving), as the ESB's
/// headers write times.
pub(crate) fn riyadh_now() -> String {
    let now = Utc::now();
    let time = match FixedOffset::east_opt(3 * 3600) {
        Some(riyadh) => now.with_timezone(&riyadh).naive_local(),
        None => now.naive_utc(),
    };
    time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// Maps the HTTP status of an API call (after the token cache's one refresh): 2xx goes
/// on to the envelope; 400 is our input; 401, 403 and 404 are our configuration; 429
/// and 5xx are "later".
pub(crate) fn check_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    rs_key: &str,
) -> Result<(), AdapterError> {
    let said = || mhrsd_said(body, rs_key);
    let refused = |outcome, why: &str| AdapterError::Refused {
        outcome,
        reason: format!("{why}: {}", said()),
    };
    match status.as_u16() {
        200..=299 => Ok(()),
        400 => Err(refused(Outcome::InvalidInput, "MHRSD rejected the request")),
        401 => Err(refused(
            Outcome::UpstreamError,
            "MHRSD refused a freshly issued access token",
        )),
        403 => Err(refused(
            Outcome::UpstreamError,
            "MHRSD does not allow our client this API",
        )),
        404 => Err(refused(
            Outcome::UpstreamError,
            "MHRSD has no such API: check the labor base URL",
        )),
        429 => Err(unavailable(status, headers, "MHRSD rate limit")),
        500..=599 => Err(unavailable(
            status,
            headers,
            &format!("MHRSD failed: {}", said()),
        )),
        0..=199 | 300..=399 | 402 | 405..=428 | 430..=499 | 600.. => Err(AdapterError::Malformed(
            format!("MHRSD answered HTTP {}", status.as_u16()),
        )),
    }
}

/// The ESB's status code, or the gateway's reason, from an error body; never the raw
/// body, which could echo anything back.
fn mhrsd_said(body: &[u8], rs_key: &str) -> String {
    if let Ok(rs) = unwrap_envelope::<QiwaResponse<serde::de::IgnoredAny>>(body, rs_key) {
        return rs.header.response_status.code.chars().take(48).collect();
    }
    quote_code(body, 48, |apic: ApicError| {
        format!("{} {}", apic.http_code, apic.http_message)
    })
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::conformance::{assert_refused, assert_unavailable};
    use std::time::Duration;

    use reqwest::header::RETRY_AFTER;

    use super::*;

    const KEY: &str = "GetEstablishmentInformationRs";
    const INVALID: &str = include_str!("../tests/fixtures/wire/gei-400-e0000001.json");
    const APIC_401: &str = include_str!("../tests/fixtures/wire/apic-401.json");

    fn status(code: u16, body: &str) -> Result<(), AdapterError> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        check_status(
            StatusCode::from_u16(code).unwrap(),
            &headers,
            body.as_bytes(),
            KEY,
        )
    }

    #[test]
    fn status_codes_map_as_documented() {
        assert!(status(200, "").is_ok());
        let err = status(400, INVALID).unwrap_err();
        assert!(matches!(
            err,
            AdapterError::Refused {
                outcome: Outcome::InvalidInput,
                ..
            }
        ));
        assert!(err.to_string().contains("E0000001"), "{err}");
        for code in [401, 403, 404] {
            let err = status(code, APIC_401).unwrap_err();
            assert_refused(&err, Outcome::UpstreamError, code);
        }
        assert!(
            status(401, APIC_401)
                .unwrap_err()
                .to_string()
                .contains("401 Unauthorized")
        );
        for code in [429, 500, 502, 503, 504] {
            let err = status(code, "").unwrap_err();
            assert_unavailable(&err, Some(Duration::from_secs(5)), code);
        }
        for code in [302, 405, 418] {
            assert!(
                matches!(status(code, ""), Err(AdapterError::Malformed(_))),
                "{code}"
            );
        }
    }

    #[test]
    fn reasons_quote_codes_never_bodies() {
        let err = status(400, "<html>1000000008 secret</html>")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("secret") && !err.contains("1000000008"),
            "{err}"
        );
        assert!(err.contains("no readable reason"), "{err}");
    }

    #[test]
    fn request_times_look_like_the_esb_s() {
        let time = riyadh_now();
        // 2025-01-31 14:05:09.123
        assert_eq!(time.len(), 23, "{time}");
        assert!(chrono::NaiveDateTime::parse_from_str(&time, "%Y-%m-%d %H:%M:%S%.3f").is_ok());
    }
}
