//! The calls to Yakeen (SOAP) and Yakeen lite (REST), and the classification of what
//! they answer.

use std::time::Duration;

use rabt_adapter::http::{
    BaseUrl, CallContext, HeaderSecret, Reply, retry_after, send, unavailable,
};
use rabt_adapter::{AdapterError, AgencyClient};
use rabt_core::{Mobile, NationalId, Outcome, TaskId};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{StatusCode, Url};

use crate::fault::short;
use crate::lite::{
    APP_ID, APP_KEY, LiteAnyResponse, LiteCode, ORGANIZATION_NUMBER, SERVICE_KEY, owns_mobile_path,
};
use crate::soap::{self, Payload};
use crate::wire::{Credentials, YakeenRequest, YakeenResponse};
use crate::{YakeenCredentials, YakeenLiteCredentials};

/// The path of Rabt's Yakeen service under the base URL.
pub const YAKEEN_PATH: &str = "/Yakeen4Rabt/Yakeen4Rabt";

/// Yakeen's answer to one operation: its result or its fault, with the `Retry-After`
/// that came with it.
#[derive(Debug)]
pub(crate) struct SoapReply {
    pub(crate) response: YakeenResponse,
    pub(crate) retry_after: Option<Duration>,
}

/// Yakeen lite's answer about one ID and mobile.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LiteAnswer {
    /// It answered.
    Owner {
        is_owner: bool,
        reference_number: String,
        mobile: String,
    },
    /// Code 101: no such ID (ours passed the check digit, so Elm has no person).
    UnknownId,
}

/// Both APIs, one shared HTTP client.
#[derive(Debug)]
pub(crate) struct YakeenClient {
    /// Yakeen's host, the shared HTTP client and the timeout.
    pub(crate) agency: AgencyClient,
    /// [`YAKEEN_PATH`] under Yakeen's host.
    pub(crate) endpoint: Url,
    pub(crate) lite_base: BaseUrl,
    pub(crate) yakeen: YakeenCredentials,
    pub(crate) lite: YakeenLiteCredentials,
    /// `lite.app_key`, checked for its header.
    pub(crate) app_key: HeaderSecret,
    /// `lite.service_key`, checked for its header.
    pub(crate) service_key: HeaderSecret,
}

impl YakeenClient {
    /// The credentials every SOAP request carries.
    pub(crate) fn credentials(&self, task: TaskId) -> Credentials {
        Credentials {
            charge_code: Some(self.yakeen.charge_code.expose().to_owned()),
            password: Some(self.yakeen.password.expose().to_owned()),
            reference_number: Some(task.to_string()),
            user_name: Some(self.yakeen.user_name.clone()),
        }
    }

    /// One SOAP operation; `expected` is the response element it must answer with.
    pub(crate) async fn soap(
        &self,
        ctx: CallContext<'_>,
        request: YakeenRequest,
        expected: &'static str,
    ) -> Result<SoapReply, AdapterError> {
        let envelope = soap::write_request(request).map_err(|e| AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            reason: format!("could not write the SOAP request: {e}"),
        })?;
        let request = self
            .agency
            .http()
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, soap::CONTENT_TYPE)
            .header("SOAPAction", soap::SOAP_ACTION)
            .body(envelope);
        let Reply {
            status,
            headers,
            body,
        } = send(request, ctx).await?;
        tracing::debug!(
            operation = expected,
            status = status.as_u16(),
            "Yakeen answered"
        );
        read_soap_answer(status, &headers, &body, expected)
    }

    /// Yakeen lite's `owns-mobile`.
    pub(crate) async fn owns_mobile(
        &self,
        ctx: CallContext<'_>,
        id: &NationalId,
        mobile: &Mobile,
    ) -> Result<LiteAnswer, AdapterError> {
        let url = self
            .lite_base
            .join(&owns_mobile_path(id.as_str(), mobile.as_str()));
        let request = self
            .agency
            .http()
            .get(url)
            .header(ACCEPT, "application/json")
            .header(APP_ID, self.lite.app_id.as_str())
            .header(APP_KEY, self.app_key.value())
            .header(SERVICE_KEY, self.service_key.value())
            .header(ORGANIZATION_NUMBER, self.lite.organization_number.as_str());
        let Reply {
            status,
            headers,
            body,
        } = send(request, ctx).await?;
        tracing::debug!(status = status.as_u16(), "Yakeen lite answered");
        read_lite_answer(status, &headers, &body)
    }
}

fn refused(outcome: Outcome, reason: impl Into<String>) -> AdapterError {
    AdapterError::Refused {
        outcome,
        reason: reason.into(),
    }
}

/// Maps Yakeen's HTTP status: 200 carries the result, 500 (SOAP 1.1's status for
/// faults) and 400 may carry a fault, and everything else is the HTTP layer's.
pub(crate) fn read_soap_answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expected: &'static str,
) -> Result<SoapReply, AdapterError> {
    let code = status.as_u16();
    match code {
        200 | 400 | 500 => read_envelope(status, headers, body, expected),
        401 | 403 => Err(refused(
            Outcome::UpstreamError,
            format!("Yakeen's gateway refused this client (HTTP {code})"),
        )),
        404 | 405 | 501 => Err(refused(
            Outcome::UpstreamError,
            format!("no Yakeen service at this URL (HTTP {code}): check the interior base URL"),
        )),
        415 => Err(refused(
            Outcome::UpstreamError,
            "Yakeen refused the media type: it speaks SOAP 1.1 (text/xml)",
        )),
        429 | 502..=599 => Err(unavailable(status, headers, "Yakeen unavailable")),
        0..=199 | 201..=399 | 402 | 406..=414 | 416..=428 | 430..=499 | 600.. => Err(
            AdapterError::Malformed(format!("Yakeen answered HTTP {code}")),
        ),
    }
}

fn read_envelope(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expected: &'static str,
) -> Result<SoapReply, AdapterError> {
    let reply = |response| SoapReply {
        response,
        retry_after: retry_after(headers),
    };
    let why = match std::str::from_utf8(body) {
        Err(_) => "a body that is not UTF-8".to_owned(),
        Ok(xml) => match soap::payload_of(xml) {
            Ok(Payload::Fault) => match soap::read::<YakeenResponse>(xml) {
                Ok(fault @ YakeenResponse::Fault(_)) => return Ok(reply(fault)),
                Ok(_) | Err(_) => "an unreadable SOAP fault".to_owned(),
            },
            Ok(Payload::Yakeen(local)) if local == expected && status == StatusCode::OK => {
                match soap::read::<YakeenResponse>(xml) {
                    Ok(response) => return Ok(reply(response)),
                    Err(e) => format!("an unreadable {expected}: {e}"),
                }
            }
            Ok(Payload::Yakeen(local) | Payload::Other { local, .. }) => {
                format!("`{}` instead of {expected}", short(&local))
            }
            Err(e) => e.to_string(),
        },
    };
    let code = status.as_u16();
    Err(match code {
        // A 500 without a fault is the server failing, not Yakeen answering.
        500 => unavailable(status, headers, "Yakeen failed without a SOAP fault"),
        400 => refused(
            Outcome::UpstreamError,
            "Yakeen refused the request without a SOAP fault (HTTP 400)",
        ),
        _ => AdapterError::Malformed(format!("Yakeen answered HTTP {code} with {why}")),
    })
}

/// Maps Yakeen lite's answers: an error code in the body decides, whatever the
/// status; otherwise the status does.
pub(crate) fn read_lite_answer(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<LiteAnswer, AdapterError> {
    let parsed = serde_json::from_slice::<LiteAnyResponse>(body).ok();
    if let Some(code) = parsed.as_ref().and_then(|p| p.code) {
        return lite_code(code, status, headers);
    }
    let code = status.as_u16();
    match code {
        200 => match parsed {
            Some(LiteAnyResponse {
                is_owner: Some(is_owner),
                reference_number: Some(reference_number),
                mobile: Some(mobile),
                ..
            }) => Ok(LiteAnswer::Owner {
                is_owner,
                reference_number,
                mobile,
            }),
            _ => Err(AdapterError::Malformed(
                "Yakeen lite answered 200 without isOwner, mobile and referenceNumber".into(),
            )),
        },
        400 => Err(refused(
            Outcome::InvalidInput,
            "Yakeen lite rejected the request (HTTP 400)",
        )),
        401 | 403 => Err(refused(
            Outcome::UpstreamError,
            format!("Elm's gateway refused APP-ID / APP-KEY (HTTP {code})"),
        )),
        404 | 405 | 501 => Err(refused(
            Outcome::UpstreamError,
            format!("no Yakeen lite API at this URL (HTTP {code}): check the interior lite URL"),
        )),
        429 | 500 | 502..=599 => Err(unavailable(status, headers, "Yakeen lite unavailable")),
        0..=199 | 201..=399 | 402 | 406..=428 | 430..=499 | 600.. => Err(AdapterError::Malformed(
            format!("Yakeen lite answered HTTP {code}"),
        )),
    }
}

fn lite_code(
    code: u16,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<LiteAnswer, AdapterError> {
    let Some(known) = LiteCode::from_code(code) else {
        return Err(refused(
            Outcome::UpstreamError,
            format!("Yakeen lite answered an unknown code {code}"),
        ));
    };
    match known {
        LiteCode::InvalidId => Ok(LiteAnswer::UnknownId),
        LiteCode::Internal => Err(unavailable(status, headers, "Yakeen lite code 100")),
        LiteCode::InvalidMobile => Err(refused(
            Outcome::InvalidInput,
            "Yakeen lite code 102: invalid mobile number",
        )),
        LiteCode::InvalidServiceKey => Err(refused(
            Outcome::UpstreamError,
            "Yakeen lite code 103: invalid service key",
        )),
    }
}

#[cfg(test)]
#[path = "client/tests.rs"]
mod tests;
