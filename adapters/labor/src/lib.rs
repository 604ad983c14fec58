//! The Ministry of Human Resources and Social Development (MHRSD), as Rabt's
//! `labor.establishment.compliance` and `labor.cooperative.registration` services.
//!
//! MHRSD's integration services (Takamol's ESB, the platform behind Qiwa) sit behind an
//! IBM API Connect gateway. A client first obtains an OAuth2 token by client credentials
//! (`POST /oauth2/token`, HTTP Basic, `scope=IntegrationScope`), then `POST`s JSON
//! envelopes with `Authorization: Bearer …` and its `X-IBM-Client-Id`:
//! `{"<Operation>Rq": {"Header": {TransactionId, ChannelId, RequestTime, ServiceCode},
//! "Body": {…}}}`, answered by `{"<Operation>Rs": {"Header": {…, "ResponseStatus":
//! {Status, Code, ArabicMsg, EnglishMsg}}, "Body": {…}}}` ([`wire`]). Business errors
//! come as HTTP 200 with `Status: ERROR` and a code (`E0000949`: not in Nitaqat); the
//! gateway's own errors (401 token, 403, 404, 429, 5xx) in API Connect's shape.
//!
//! - `labor.establishment.compliance` calls `GetEstablishmentInformation` by unified
//!   number: the Nitaqat band, the Saudization rate and headcount, the Saudization
//!   certificate and GOSI. A band of at least LOW_GREEN is `OK`; RED is `MISMATCH` with
//!   the whole file (`ODM00102`, "below Low Green", is `MISMATCH` too, without data). No
//!   Nitaqat file (`E0000949`) or no such establishment (`E0000142`) is `NOT_FOUND`.
//! - `labor.cooperative.registration` calls `GetCooperativeSocietyInformation`: the
//!   registry record, board and headquarters. An ACTIVE society is `OK`; a SUSPENDED,
//!   UNDER_LIQUIDATION or DISSOLVED one is `MISMATCH` with its record, so that the
//!   establishment check fails while the cooperative still sees why. No such society
//!   (`E0002001`) is `NOT_FOUND`.
//!
//! The task id is the envelope's `TransactionId` and the `X-Request-Id`; the echoed
//! `TransactionId` is the answer's `upstream_ref`. The token is shared by all tasks
//! ([`rabt_adapter::oauth2::TokenCache`]): refreshed shortly before it expires, once on a
//! 401, and fetched once however many tasks need it at the same moment.
//!
//! This crate depends on `rabt-core`, `rabt-adapter` and (for its simulator)
//! `rabt-sandbox` only: never on the queue, the store or the API.
//!
//! Layout:
//! - this file: the adapter, its configuration and its error.
//! - `client` (private): the calls and the mapping of HTTP statuses.
//! - `services` (private): each service's input, operation and outcome.
//! - [`wire`]: MHRSD's own types, named as MHRSD names them, and their translation.
//! - [`output`]: the services' outputs, as the catalogue's schemas describe them.
//! - [`simulator`]: the gateway, its token endpoint and the two operations as an axum
//!   app serving the sandbox world, with fault knobs.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use rabt_adapter::http::{HttpClientConfig, Secret};
use rabt_adapter::oauth2::{ClientCredentials, TokenCache};
use rabt_adapter::registry::{Credential, CredentialKind, Registration, Settings};
use rabt_adapter::{
    Adapter, AdapterError, AgencyClient, Answer, BoxFuture, CallbackAnswer, ConfigError,
    ServiceCall,
};
use rabt_core::Agency;
use reqwest::Url;
use reqwest::header::HeaderValue;

mod client;
pub mod output;
mod services;
pub mod simulator;
pub mod wire;

use client::QiwaClient;

/// An establishment's Nitaqat file.
pub const ESTABLISHMENT_COMPLIANCE: &str = "labor.establishment.compliance";
/// A cooperative society's registry record.
pub const COOPERATIVE_REGISTRATION: &str = "labor.cooperative.registration";

/// The services this adapter serves.
pub const SERVICES: &[&str] = &[ESTABLISHMENT_COMPLIANCE, COOPERATIVE_REGISTRATION];

/// The `ChannelId` Rabt's requests carry.
pub const CHANNEL_ID: &str = "Rabt";
/// The OAuth2 scope of MHRSD's integration APIs.
pub const SCOPE: &str = "IntegrationScope";
/// The token endpoint, under the base URL.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// The header in which API Connect wants the client id on every API call.
pub const CLIENT_ID_HEADER: &str = "x-ibm-client-id";

/// How to reach MHRSD.
#[derive(Debug, Clone)]
pub struct LaborConfig {
    /// The gateway's base URL (e.g. `https://gw-apic.qiwa.info/takamol/prod`); the
    /// token endpoint is [`TOKEN_PATH`] under it. A simulator's root URL in tests.
    pub base_url: Url,
    /// The OAuth2 client id MHRSD issued.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// The longest one call may take; a task's own timeout may be shorter.
    pub timeout: Duration,
}

/// What can go wrong in this crate besides a call's [`AdapterError`] and a
/// configuration's [`ConfigError`].
#[derive(Debug, thiserror::Error)]
pub enum LaborError {
    /// A field of MHRSD's answer breaks its own format (its value is not shown: it may
    /// be personal data).
    #[error("MHRSD's {field} is not {expected}")]
    Field {
        /// MHRSD's name of the field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
    },
}

/// The adapter: MHRSD behind the two labour services.
#[derive(Debug)]
pub struct LaborAdapter {
    client: QiwaClient,
}

impl LaborAdapter {
    /// Validates the configuration and builds the client.
    pub fn new(config: LaborConfig) -> Result<Self, ConfigError> {
        let agency = Agency::Labor;
        let gateway = AgencyClient::new(
            agency,
            config.base_url,
            HttpClientConfig::with_timeout(config.timeout),
        )?;
        // It travels in the `X-IBM-Client-Id` header.
        let client_id =
            HeaderValue::from_str(&config.client_id).map_err(|_| ConfigError::Credential {
                agency,
                name: "client id",
            })?;
        let tokens = TokenCache::new(
            gateway.http().clone(),
            ClientCredentials {
                token_url: gateway.url(TOKEN_PATH),
                client_id: config.client_id,
                client_secret: config.client_secret,
                scope: Some(SCOPE.to_owned()),
            },
        )?;
        Ok(Self {
            client: QiwaClient {
                agency: gateway,
                client_id,
                tokens,
            },
        })
    }

    /// How many tokens this adapter has asked for (for tests and diagnostics).
    pub fn token_requests(&self) -> u64 {
        self.client.tokens.token_requests()
    }

    async fn serve(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let ctx = self.client.agency.context(&call);
        let client = &self.client;
        // A call may take a token request, the API call and its retry after a refresh:
        // the whole of it, not each exchange, must end within the timeout.
        let run = async {
            match call.service.as_str() {
                ESTABLISHMENT_COMPLIANCE => {
                    services::establishment_compliance(client, ctx, call.input).await
                }
                COOPERATIVE_REGISTRATION => {
                    services::cooperative_registration(client, ctx, call.input).await
                }
                _ => Err(AdapterError::UnsupportedService(call.service.clone())),
            }
        };
        ctx.bound(run).await
    }
}

impl Adapter for LaborAdapter {
    fn agency(&self) -> Agency {
        Agency::Labor
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn callback(&self, _body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        Err(AdapterError::BadCallback(
            "MHRSD answers synchronously and never calls back".to_owned(),
        ))
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        Box::pin(self.serve(call))
    }
}

/// The OAuth2 client credentials MHRSD issued, as the configuration names them.
const CREDENTIALS: [Credential; 2] = [
    Credential::new("client_id", CredentialKind::Identifier),
    Credential::new("client_secret", CredentialKind::Secret),
];

/// The labor agency, as the binary registers it.
#[derive(Debug, Clone, Copy)]
pub struct Labor;

impl Registration for Labor {
    fn agency(&self) -> Agency {
        Agency::Labor
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn uses_api_key(&self) -> bool {
        // OAuth2 client credentials instead.
        false
    }

    fn credentials(&self) -> &'static [Credential] {
        &CREDENTIALS
    }

    fn mutual_tls(&self) -> bool {
        false
    }

    fn adapter(&self, settings: &dyn Settings) -> Result<Arc<dyn Adapter>, ConfigError> {
        Ok(Arc::new(LaborAdapter::new(LaborConfig {
            base_url: settings.url().clone(),
            client_id: settings.credential("client_id")?,
            client_secret: Secret::new(settings.credential("client_secret")?),
            timeout: settings.timeout(),
        })?))
    }
}

#[cfg(test)]
mod tests {
    use rabt_adapter::oauth2::OAuth2ConfigError;

    use super::*;

    fn config(base_url: Url) -> LaborConfig {
        LaborConfig {
            base_url,
            client_id: "client-id".to_owned(),
            client_secret: Secret::new("super-secret-value"),
            timeout: Duration::from_secs(5),
        }
    }

    rabt_adapter::constructor_tests! {
        new: LaborAdapter::new,
        config: config,
        base: "https://gw-apic.qiwa.info/takamol/prod",
        https_only: false,
        secrets: ["super-secret-value"],
        breakers: [
            |c| c.client_secret = Secret::new(""),
            |c| c.client_id = String::new(),
            |c| c.client_id = "line\nbreak".to_owned(),
        ],
    }

    #[test]
    fn the_token_endpoint_sits_under_the_base_path() {
        let url = Url::parse("https://gw.example.sa/takamol/prod/").unwrap();
        let adapter = LaborAdapter::new(config(url)).unwrap();
        assert_eq!(
            adapter.client.tokens.token_url().as_str(),
            "https://gw.example.sa/takamol/prod/oauth2/token"
        );
    }

    #[test]
    fn an_empty_secret_is_the_oauth2_error_and_the_client_id_shows() {
        let url = || Url::parse("https://example.com").unwrap();
        let empty_secret = LaborConfig {
            client_secret: Secret::new(""),
            ..config(url())
        };
        assert!(matches!(
            LaborAdapter::new(empty_secret),
            Err(ConfigError::OAuth2(OAuth2ConfigError::ClientSecret))
        ));
        let shown = format!("{:?}", LaborAdapter::new(config(url())).unwrap());
        assert!(shown.contains("client-id"), "{shown}");
    }
}
