//! Saudi Post's National Address (SPL), as Rabt's `post.address.verify` service.
//!
//! SPL's API (`https://apina.address.gov.sa/NationalAddress`) is REST and JSON with an
//! `api_key` header. Each call answers in one language (`language=A` or `E`), and in
//! windows-1256 unless `encode=utf8` is asked for, which this adapter always does. An
//! empty `Addresses` list means "not found". Errors: 400 for a bad parameter, 401 for a
//! bad key, 403 when the rate limit bites (the developer tier allows about one call per
//! five seconds), 404 for an unknown endpoint, 5xx when SPL fails.
//!
//! The service's two input forms:
//! - `shortAddress`: `NationalAddressByShortAddress` in Arabic and English at once,
//!   merged into one output with both languages.
//! - `buildingNumber` + `postalCode` + `additionalNumber`: SPL's `address-verify`
//!   answers only `{"addressfound": bool}`. For a found address the adapter then
//!   searches `address-free-text` for the three numbers (both languages at once) and
//!   keeps the result whose three numbers match exactly; if the search does not return
//!   it, the answer is honestly `found: true` with the three numbers and nothing more.
//!   `address-verify` stays the authority on "found": a fuzzy search is never trusted to
//!   say an address exists. The short address is not part of SPL's answers, so this form
//!   answers without one.
//!
//! This crate depends on `rabt-core`, `rabt-adapter` and (for its simulator)
//! `rabt-sandbox` only: never on the queue, the store or the API.
//!
//! Layout:
//! - this file: the adapter, its configuration and its error.
//! - [`client`](crate::client) (private): the HTTP calls and the mapping of SPL's
//!   status codes.
//! - [`verify`](crate::verify) (private): the service's two forms and how their answers
//!   merge.
//! - [`wire`]: SPL's own types, named as SPL names them, and their translation.
//! - [`output`]: the service's output, as the catalogue's schema describes it.
//! - [`simulator`]: SPL as an axum app serving the sandbox world, with fault knobs.

#![forbid(unsafe_code)]

use std::time::Duration;

use rabt_adapter::http::{
    BaseUrl, CallContext, ClientConfigError, HeaderSecret, HttpClientConfig, Secret, build_client,
};
use rabt_adapter::{Adapter, AdapterError, Answer, BoxFuture, CallbackAnswer, ServiceCall};
use rabt_core::Agency;
use reqwest::Url;

mod client;
pub mod output;
pub mod simulator;
mod verify;
pub mod wire;

use client::SplClient;

/// The one service of this agency.
pub const ADDRESS_VERIFY: &str = "post.address.verify";

/// The services this adapter serves.
pub const SERVICES: &[&str] = &[ADDRESS_VERIFY];

/// How to reach SPL.
#[derive(Debug, Clone)]
pub struct SaudiPostConfig {
    /// `https://apina.address.gov.sa/NationalAddress` in production; a simulator's
    /// root URL in tests.
    pub base_url: Url,
    /// SPL's API key.
    pub api_key: Secret,
    /// The longest one call may take; a task's own timeout may be shorter.
    pub timeout: Duration,
}

/// What can go wrong in this crate besides a call's [`AdapterError`].
#[derive(Debug, thiserror::Error)]
pub enum SaudiPostError {
    /// The base URL cannot be SPL's.
    #[error("the saudi-post base URL must be http(s) without query or fragment, got `{0}`")]
    BaseUrl(String),
    /// The API key is empty or cannot travel in an HTTP header.
    #[error("the saudi-post API key must be non-empty visible ASCII")]
    ApiKey,
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientConfigError),
    /// A field of SPL's answer breaks its own format.
    #[error("SPL's {field} is not {expected}: `{value}`")]
    Field {
        /// SPL's name of the field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
        /// What it was (truncated).
        value: String,
    },
    /// The Arabic and English answers describe different buildings.
    #[error("SPL's Arabic and English answers describe different buildings")]
    LanguagesDisagree,
}

/// The adapter: SPL's National Address behind `post.address.verify`.
#[derive(Debug)]
pub struct SaudiPostAdapter {
    client: SplClient,
    timeout: Duration,
}

impl SaudiPostAdapter {
    /// Validates the configuration and builds the client.
    pub fn new(config: SaudiPostConfig) -> Result<Self, SaudiPostError> {
        let base = BaseUrl::new(config.base_url)
            .map_err(|bad| SaudiPostError::BaseUrl(bad.into_shown()))?;
        let api_key = HeaderSecret::new(&config.api_key).ok_or(SaudiPostError::ApiKey)?;
        let http = build_client(&HttpClientConfig::with_timeout(config.timeout))?;
        Ok(Self {
            client: SplClient {
                http,
                base,
                api_key,
            },
            timeout: config.timeout,
        })
    }

    async fn address_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = verify::AddressQuery::parse(call.input)?;
        let ctx = CallContext::of(&call, self.timeout);
        // The numbers form makes two rounds of calls; the whole call, not each round,
        // must end within the timeout.
        ctx.bound(verify::run(&self.client, ctx, &query)).await
    }
}

impl Adapter for SaudiPostAdapter {
    fn agency(&self) -> Agency {
        Agency::SaudiPost
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn callback(&self, _body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        Err(AdapterError::BadCallback(
            "SPL answers synchronously and never calls back".to_owned(),
        ))
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        Box::pin(async move {
            match call.service.as_str() {
                ADDRESS_VERIFY => self.address_verify(call).await,
                _ => Err(AdapterError::UnsupportedService(call.service.clone())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> SaudiPostConfig {
        SaudiPostConfig {
            base_url: Url::parse(url).unwrap(),
            api_key: Secret::new("key"),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn base_urls_are_checked_without_showing_credentials() {
        assert!(
            SaudiPostAdapter::new(config("https://apina.address.gov.sa/NationalAddress")).is_ok()
        );
        for bad in [
            "ftp://example.com/",
            "https://example.com/?api_key=x",
            "mailto:someone@example.com",
        ] {
            assert!(matches!(
                SaudiPostAdapter::new(config(bad)),
                Err(SaudiPostError::BaseUrl(_))
            ));
        }
        let err = SaudiPostAdapter::new(config("https://user:pw@example.com/?q=1")).unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn an_unusable_key_is_a_configuration_error() {
        for key in ["", "line\nbreak"] {
            let bad = SaudiPostConfig {
                api_key: Secret::new(key),
                ..config("https://example.com")
            };
            assert!(matches!(
                SaudiPostAdapter::new(bad),
                Err(SaudiPostError::ApiKey)
            ));
        }
    }

    #[test]
    fn a_zero_timeout_is_a_configuration_error() {
        let zero = SaudiPostConfig {
            timeout: Duration::ZERO,
            ..config("https://example.com")
        };
        assert!(matches!(
            SaudiPostAdapter::new(zero),
            Err(SaudiPostError::Client(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let adapter = SaudiPostAdapter::new(SaudiPostConfig {
            api_key: Secret::new("super-secret-key"),
            ..config("https://example.com")
        })
        .unwrap();
        assert!(!format!("{adapter:?}").contains("super-secret-key"));
    }
}
