//! The token request of the client-credentials grant (RFC 6749 §4.4.2) and the
//! reading of the token endpoint's answer (§5.1, §5.2).

use rabt_core::Outcome;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use serde::Deserialize;

use super::{CallContext, ClientCredentials};
use crate::AdapterError;
use crate::http::{Reply, read_json, send, unavailable};

/// Asks the token endpoint for a token (RFC 6749 §4.4.2) and reads its answer.
pub(super) async fn request_token(
    http: &reqwest::Client,
    credentials: &ClientCredentials,
    ctx: CallContext<'_>,
) -> Result<Grant, AdapterError> {
    // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined for
    // HTTP Basic.
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
    let id: String = encode(&credentials.client_id);
    let secret: String = encode(credentials.client_secret.expose());
    let request = http
        .post(credentials.token_url.clone())
        .basic_auth(id, Some(secret))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(grant_form(credentials.scope.as_deref()));
    let Reply {
        status,
        headers,
        body,
    } = send(request, ctx).await?;
    check_token_status(status, &headers, &body)?;
    Grant::parse(&body)
}

/// The form of a client-credentials grant (RFC 6749 §4.4.2).
fn grant_form(scope: Option<&str>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    form.finish()
}

/// Maps the token endpoint's status: 2xx goes on; 400, 401 and 403 refuse our client
/// (RFC 6749 §5.2); 404 means the URL is wrong; 429 and 5xx are "later".
pub(super) fn check_token_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AdapterError> {
    let refused = |why: &str| AdapterError::Refused {
        outcome: Outcome::UpstreamError,
        reason: format!("{why} ({})", oauth_error_code(body)),
    };
    match status.as_u16() {
        200..=299 => Ok(()),
        400 | 401 | 403 => Err(refused("the token endpoint refused our client credentials")),
        404 => Err(refused("there is no token endpoint at the configured URL")),
        429 => Err(unavailable(status, headers, "token endpoint rate limit")),
        500..=599 => Err(unavailable(status, headers, "the token endpoint failed")),
        0..=199 | 300..=399 | 402 | 405..=428 | 430..=499 | 600.. => Err(AdapterError::Malformed(
            format!("the token endpoint answered HTTP {}", status.as_u16()),
        )),
    }
}

/// The RFC 6749 `error` code of an error body, cut short; never the body itself.
fn oauth_error_code(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    serde_json::from_slice::<ErrorBody>(body)
        .map(|e| e.error.chars().take(40).collect())
        .unwrap_or_else(|_| "no RFC 6749 error code".to_owned())
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Deserialize)]
pub(super) struct Grant {
    pub(super) access_token: String,
    token_type: String,
    #[serde(default)]
    pub(super) expires_in: Option<Seconds>,
}

/// `expires_in` as a number, as RFC 6749 says, or as a string, as some servers send it.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Seconds {
    Number(u64),
    Text(String),
}

impl Seconds {
    pub(super) fn seconds(&self) -> u64 {
        match self {
            Seconds::Number(n) => *n,
            // Unreadable text is treated as unstated, by `Grant::parse`'s check.
            Seconds::Text(t) => t.trim().parse().unwrap_or(0),
        }
    }
}

impl Grant {
    fn parse(body: &[u8]) -> Result<Grant, AdapterError> {
        // serde's message names a field or a position, never the token.
        let mut grant: Grant = read_json(body, "the token endpoint answered unreadable JSON")?;
        if !grant.token_type.eq_ignore_ascii_case("bearer") {
            let shown: String = grant.token_type.chars().take(20).collect();
            return Err(AdapterError::Malformed(format!(
                "the token endpoint issued a `{shown}` token, not a Bearer token"
            )));
        }
        let token = grant.access_token.as_bytes();
        if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(AdapterError::Malformed(
                "the token endpoint issued an empty or unprintable access token".to_owned(),
            ));
        }
        if let Some(Seconds::Text(text)) = &grant.expires_in
            && text.trim().parse::<u64>().is_err()
        {
            grant.expires_in = None;
        }
        Ok(grant)
    }
}
