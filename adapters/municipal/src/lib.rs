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

use std::sync::Arc;

use rabt_adapter::registry::Credential;
use rabt_adapter::{
    Adapter, AdapterError, Answer, ApiKeyClient, ApiKeyConfig, BoxFuture, CallbackAnswer,
    ConfigError, Registration, ServiceCall, Settings,
};
use rabt_core::Agency;
use reqwest::header::HeaderName;

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

/// How to reach Balady: its API root (a simulator's in tests), its key (sent as
/// `X-API-Key`) and the longest one call may take.
pub type MunicipalConfig = ApiKeyConfig;

/// The adapter: Balady's licence verification behind `municipal.license.verify`.
#[derive(Debug)]
pub struct MunicipalAdapter {
    client: BaladyClient,
}

impl MunicipalAdapter {
    /// Validates the configuration and builds the client.
    pub fn new(config: MunicipalConfig) -> Result<Self, ConfigError> {
        let header = HeaderName::from_static(wire::API_KEY_HEADER);
        let api = ApiKeyClient::new(Agency::Municipal, header, config)?;
        Ok(Self {
            client: BaladyClient { api },
        })
    }

    async fn license_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = input::LicenceQuery::parse(call.input)?;
        let ctx = self.client.api.context(&call);
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

/// The municipal agency, as the binary registers it.
#[derive(Debug, Clone, Copy)]
pub struct Municipal;

impl Registration for Municipal {
    fn agency(&self) -> Agency {
        Agency::Municipal
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
        Ok(Arc::new(MunicipalAdapter::new(config)?))
    }
}

#[cfg(test)]
mod tests {
    use rabt_adapter::http::Secret;
    use reqwest::Url;

    use super::*;

    fn config(base_url: Url) -> MunicipalConfig {
        MunicipalConfig {
            base_url,
            api_key: Secret::new("super-secret-key"),
            timeout: std::time::Duration::from_secs(5),
        }
    }

    rabt_adapter::constructor_tests! {
        new: MunicipalAdapter::new,
        config: config,
        base: "https://api.balady.gov.sa/",
        https_only: false,
        secrets: ["super-secret-key"],
        breakers: [
            |c| c.api_key = Secret::new(""),
            |c| c.api_key = Secret::new("line\nbreak"),
        ],
    }
}
