//! The municipality (Balady, Ministry of Municipalities and Housing), as Rabt's
//! `municipal.license.verify` service.
//!
//! Balady verifies a licence by its unified licence number, and it does not answer at
//! once: a verification request is accepted with a reference, an inspector looks at the
//! licence (and, in the real world, the premises), and the municipality then POSTs the
//! result to Rabt's `/v1/callbacks/municipal`. Balady publishes no API, so the wire
//! format here is ours, in the style of the Saudi government's REST gateways:
//! - `POST /api/v1/licenses/verification-requests` with an `X-API-Key` header and the
//!   JSON body `{"licenseNumber", "licenseType", "unifiedNumber"?}` answers
//!   `202 Accepted` with `{"reference": "BLD-…", "status": "PENDING_INSPECTION",
//!   "receivedAt"}`. The task id travels as `X-Request-Id`, and Balady keys on it: the
//!   same request id with the same body gets the same reference again (a retried
//!   submission never orders a second inspection); with another body, `409`.
//! - Errors are `{"errorCode", "errorMessageAr", "errorMessageEn"}`: 400 for a bad
//!   field (`INVALID_LICENSE_NUMBER`…), 401 for a missing or wrong key, 403 for a key
//!   not entitled to the service, 409 as above, 429 with `Retry-After` when the rate
//!   limit bites, 5xx when Balady fails.
//! - The callback (schemas/callbacks/municipal.json, signed with Standard Webhooks,
//!   checked by Rabt before this crate sees it): `eventType`
//!   `LICENSE_VERIFICATION_COMPLETED`, the `reference`, `result` `FOUND` or
//!   `NOT_FOUND`, the `license` as the inspector found it, the `inspection`, and the
//!   `request` as it was submitted.
//!
//! How a callback becomes an outcome ([`callback`]):
//!
//! | the municipality says | outcome |
//! |---|---|
//! | `NOT_FOUND` | `NOT_FOUND`, data `{"found": false}` |
//! | `FOUND`, `ACTIVE`, of the type asked, held by the `unifiedNumber` asked (or none asked) | `OK` |
//! | `FOUND`, `EXPIRED`, `SUSPENDED` or `CANCELLED` | `MISMATCH` |
//! | `FOUND`, held by another establishment than the `unifiedNumber` asked | `MISMATCH`, `holderMatches: false` |
//! | `FOUND`, of another type than asked | `MISMATCH` |
//!
//! The inspection's own verdict (`COMPLIANT`, `NON_COMPLIANT`, `NOT_INSPECTED`) is
//! reported in `data.inspection` but does not change the outcome: the service verifies
//! the licence, and an inspector's remarks on an active licence do not void it.
//!
//! This crate depends on `rabt-core`, `rabt-adapter` and (for its simulator)
//! `rabt-sandbox` only: never on the queue, the store or the API.
//!
//! Layout:
//! - this file: the adapter, its configuration and its error.
//! - [`input`]: the service's input, parsed.
//! - [`client`](crate::client) (private): the submission and the mapping of Balady's
//!   status codes.
//! - [`wire`]: Balady's own types, named as Balady names them.
//! - [`callback`]: a callback's translation into an outcome and the service's output.
//! - [`output`]: the service's output, as the catalogue's schema describes it.
//! - [`simulator`]: Balady as an axum app serving the sandbox world, calling Rabt back.

#![forbid(unsafe_code)]

use std::time::Duration;

use rabt_adapter::http::{
    BaseUrl, CallContext, ClientConfigError, HeaderSecret, HttpClientConfig, Secret, build_client,
};
use rabt_adapter::{Adapter, AdapterError, Answer, BoxFuture, CallbackAnswer, ServiceCall};
use rabt_core::Agency;
use reqwest::Url;

pub mod callback;
mod client;
pub mod input;
pub mod output;
pub mod simulator;
pub mod wire;

use client::BaladyClient;

/// The one service of this agency.
pub const LICENSE_VERIFY: &str = "municipal.license.verify";

/// The services this adapter serves.
pub const SERVICES: &[&str] = &[LICENSE_VERIFY];

/// How to reach Balady.
#[derive(Debug, Clone)]
pub struct MunicipalConfig {
    /// Balady's API root in production; a simulator's root URL in tests.
    pub base_url: Url,
    /// Balady's API key, sent as `X-API-Key`.
    pub api_key: Secret,
    /// The longest one call may take; a task's own timeout may be shorter.
    pub timeout: Duration,
}

/// What can go wrong in this crate besides a call's [`AdapterError`].
#[derive(Debug, thiserror::Error)]
pub enum MunicipalError {
    /// The base URL cannot be Balady's.
    #[error("the municipal base URL must be http(s) without query or fragment, got `{0}`")]
    BaseUrl(String),
    /// The API key is empty or cannot travel in an HTTP header.
    #[error("the municipal API key must be non-empty visible ASCII")]
    ApiKey,
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientConfigError),
}

/// The adapter: Balady's licence verification behind `municipal.license.verify`.
#[derive(Debug)]
pub struct MunicipalAdapter {
    client: BaladyClient,
    timeout: Duration,
}

impl MunicipalAdapter {
    /// Validates the configuration and builds the client.
    pub fn new(config: MunicipalConfig) -> Result<Self, MunicipalError> {
        let base = BaseUrl::new(config.base_url)
            .map_err(|bad| MunicipalError::BaseUrl(bad.into_shown()))?;
        let api_key = HeaderSecret::new(&config.api_key).ok_or(MunicipalError::ApiKey)?;
        let http = build_client(&HttpClientConfig::with_timeout(config.timeout))?;
        Ok(Self {
            client: BaladyClient {
                http,
                base,
                api_key,
            },
            timeout: config.timeout,
        })
    }

    async fn license_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = input::LicenceQuery::parse(call.input)?;
        let ctx = CallContext::of(&call, self.timeout);
        let accepted = self.client.submit(ctx, &query.to_wire()).await?;
        Ok(Answer::Submitted {
            upstream_ref: accepted.reference,
        })
    }
}

impl Adapter for MunicipalAdapter {
    fn agency(&self) -> Agency {
        Agency::Municipal
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        Box::pin(async move {
            match call.service.as_str() {
                LICENSE_VERIFY => self.license_verify(call).await,
                _ => Err(AdapterError::UnsupportedService(call.service.clone())),
            }
        })
    }

    fn callback(&self, body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        callback::read(body).map(|answer| vec![answer])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> MunicipalConfig {
        MunicipalConfig {
            base_url: Url::parse(url).unwrap(),
            api_key: Secret::new("key"),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn base_urls_are_checked_without_showing_credentials() {
        assert!(MunicipalAdapter::new(config("https://api.balady.gov.sa/")).is_ok());
        for bad in [
            "ftp://example.com/",
            "https://example.com/?api_key=x",
            "https://example.com/#frag",
            "mailto:someone@example.com",
        ] {
            assert!(
                matches!(
                    MunicipalAdapter::new(config(bad)),
                    Err(MunicipalError::BaseUrl(_))
                ),
                "{bad}"
            );
        }
        let err = MunicipalAdapter::new(config("https://user:pw@example.com/?q=1")).unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn an_unusable_key_is_a_configuration_error() {
        for key in ["", "line\nbreak"] {
            let bad = MunicipalConfig {
                api_key: Secret::new(key),
                ..config("https://example.com")
            };
            assert!(matches!(
                MunicipalAdapter::new(bad),
                Err(MunicipalError::ApiKey)
            ));
        }
    }

    #[test]
    fn a_zero_timeout_is_a_configuration_error() {
        let zero = MunicipalConfig {
            timeout: Duration::ZERO,
            ..config("https://example.com")
        };
        assert!(matches!(
            MunicipalAdapter::new(zero),
            Err(MunicipalError::Client(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let adapter = MunicipalAdapter::new(MunicipalConfig {
            api_key: Secret::new("super-secret-key"),
            ..config("https://example.com")
        })
        .unwrap();
        assert!(!format!("{adapter:?}").contains("super-secret-key"));
        let config = MunicipalConfig {
            api_key: Secret::new("super-secret-key"),
            ..config("https://example.com")
        };
        assert!(!format!("{config:?}").contains("super-secret-key"));
    }
}
