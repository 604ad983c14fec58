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

use std::sync::Arc;

use rabt_adapter::registry::Credential;
use rabt_adapter::{
    Adapter, AdapterError, Answer, ApiKeyClient, ApiKeyConfig, BoxFuture, CallbackAnswer,
    ConfigError, Registration, ServiceCall, Settings,
};
use rabt_core::Agency;
use reqwest::header::HeaderName;

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

/// How to reach SPL: `https://apina.address.gov.sa/NationalAddress` in production (a
/// simulator's root URL in tests), its key (sent as the `api_key` header) and the
/// longest one call may take.
pub type SaudiPostConfig = ApiKeyConfig;

/// What can go wrong in this crate besides a call's [`AdapterError`] and a
/// configuration's [`ConfigError`].
#[derive(Debug, thiserror::Error)]
pub enum SaudiPostError {
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
}

impl SaudiPostAdapter {
    /// Validates the configuration and builds the client.
    pub fn new(config: SaudiPostConfig) -> Result<Self, ConfigError> {
        // A header rather than SPL's alternative query parameter: URLs end up in logs,
        // headers do not.
        let header = HeaderName::from_static(client::API_KEY_HEADER);
        let api = ApiKeyClient::new(Agency::SaudiPost, header, config)?;
        Ok(Self {
            client: SplClient { api },
        })
    }

    async fn address_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = verify::AddressQuery::parse(call.input)?;
        let ctx = self.client.api.context(&call);
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

/// The saudi-post agency, as the binary registers it.
#[derive(Debug, Clone, Copy)]
pub struct SaudiPost;

impl Registration for SaudiPost {
    fn agency(&self) -> Agency {
        Agency::SaudiPost
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn uses_api_key(&self) -> bool {
        true
    }

    fn credentials(&self) -> &'static [Credential] {
        &[]
    }

    fn mutual_tls(&self) -> bool {
        false
    }

    fn adapter(&self, settings: &dyn Settings) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = ApiKeyConfig::from_settings(settings)?;
        Ok(Arc::new(SaudiPostAdapter::new(config)?))
    }
}

#[cfg(test)]
mod tests {
    use rabt_adapter::http::Secret;
    use reqwest::Url;

    use super::*;

    fn config(base_url: Url) -> SaudiPostConfig {
        SaudiPostConfig {
            base_url,
            api_key: Secret::new("super-secret-key"),
            timeout: std::time::Duration::from_secs(5),
        }
    }

    rabt_adapter::constructor_tests! {
        new: SaudiPostAdapter::new,
        config: config,
        base: "https://apina.address.gov.sa/NationalAddress",
        https_only: false,
        secrets: ["super-secret-key"],
        breakers: [
            |c| c.api_key = Secret::new(""),
            |c| c.api_key = Secret::new("line\nbreak"),
        ],
    }
}
