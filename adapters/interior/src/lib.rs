//! The Ministry of Interior through Elm's Yakeen, as Rabt's `interior.identity.verify`
//! and `interior.mobile.verify` services.
//!
//! Yakeen is a SOAP 1.1 service, one per client (`Yakeen4Rabt` at
//! `/Yakeen4Rabt/Yakeen4Rabt`), whose credentials (`userName`, `password`,
//! `chargeCode`) travel inside each request's body beside the caller's
//! `referenceNumber` (Rabt sends the task id). Citizens (IDs starting with 1) are asked
//! with `getCitizenInfo(nin, dateOfBrith)` and a Hijri birth month `MM-YYYY`; residents
//! (2) with `getAlienInfoByIqama(iqamaNumber, dateOfBirth)` and a Gregorian one. Every
//! call is charged. Refusals are SOAP faults (HTTP 500) carrying
//! `Yakeen4RabtFault/commonErrorObject{ErrorCode, ErrorMessage, Type}`; [`fault`] has
//! the code table and what each code means.
//!
//! Mobile ownership is asked of Elm's REST "Yakeen lite" API ([`lite`]), the interface
//! Elm publishes for it, with its own gateway credentials (`APP-ID`, `APP-KEY`,
//! `SERVICE_KEY`, `ORGANIZATION-NUMBER`).
//!
//! This crate depends on `rabt-core`, `rabt-adapter` and (for its simulator)
//! `rabt-sandbox` only: never on the queue, the store or the API.
//!
//! Layout:
//! - this file: the adapter, its configuration and its error.
//! - [`soap`]: the SOAP 1.1 envelope, its namespaces and faults (quick-xml).
//! - [`wire`]: Yakeen's operations and results, and their translation.
//! - [`fault`]: Yakeen's error codes and their meaning.
//! - [`lite`]: Yakeen lite's types and codes.
//! - [`output`]: the services' outputs, as the catalogue's schemas describe them.
//! - [`names`]: comparing Arabic names; [`nationality`]: names of nationality codes.
//! - `client`, `identity`, `mobile` (private): the calls, and each service's input
//!   and answer.
//! - [`simulator`]: Yakeen and Yakeen lite as one axum app serving the sandbox world.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use rabt_adapter::agency::{check_base_url, check_credential};
use rabt_adapter::http::{HeaderSecret, HttpClientConfig, Secret};
use rabt_adapter::registry::{Credential, CredentialKind, Registration, Settings};
use rabt_adapter::{
    Adapter, AdapterError, AgencyClient, Answer, BoxFuture, CallbackAnswer, ConfigError,
    ServiceCall,
};
use rabt_core::{Agency, UnifiedNumber};
use reqwest::Url;

mod client;
pub mod fault;
mod identity;
pub mod lite;
mod mobile;
pub mod names;
pub mod nationality;
pub mod output;
pub mod simulator;
pub mod soap;
pub mod wire;

pub use client::YAKEEN_PATH;
use client::YakeenClient;

/// Verify an identity with Yakeen.
pub const IDENTITY_VERIFY: &str = "interior.identity.verify";
/// Verify mobile ownership with Yakeen lite.
pub const MOBILE_VERIFY: &str = "interior.mobile.verify";

/// The services this adapter serves.
pub const SERVICES: &[&str] = &[IDENTITY_VERIFY, MOBILE_VERIFY];

/// Rabt's account on Yakeen's SOAP service.
#[derive(Debug, Clone)]
pub struct YakeenCredentials {
    /// `userName`.
    pub user_name: String,
    /// `password`.
    pub password: Secret,
    /// `chargeCode`: the billing code each call is charged to.
    pub charge_code: Secret,
}

/// Rabt's subscription to Yakeen lite.
#[derive(Debug, Clone)]
pub struct YakeenLiteCredentials {
    /// `APP-ID`: the application's id on Elm's gateway.
    pub app_id: String,
    /// `APP-KEY`: its key.
    pub app_key: Secret,
    /// `SERVICE_KEY`: the subscription to the ownership service.
    pub service_key: Secret,
    /// `ORGANIZATION-NUMBER`: the subscriber's unified number.
    pub organization_number: UnifiedNumber,
}

/// How to reach Yakeen and Yakeen lite.
#[derive(Debug, Clone)]
pub struct InteriorConfig {
    /// Yakeen's host (`https://yakeen.eserve.com.sa` in production, a simulator's root
    /// URL in tests); the adapter appends [`YAKEEN_PATH`].
    pub base_url: Url,
    /// Yakeen lite's host (`https://yakeen-lite.api.elm.sa`); `None` means the same
    /// host as `base_url`, as the simulator serves both.
    pub lite_base_url: Option<Url>,
    /// The SOAP service's credentials.
    pub yakeen: YakeenCredentials,
    /// Yakeen lite's credentials.
    pub lite: YakeenLiteCredentials,
    /// The longest one call may take; a task's own timeout may be shorter.
    pub timeout: Duration,
}

/// What can go wrong in this crate besides a call's [`AdapterError`] and a
/// configuration's [`ConfigError`].
#[derive(Debug, thiserror::Error)]
pub enum InteriorError {
    /// A document is not well-formed XML.
    #[error("not well-formed XML")]
    XmlSyntax(#[from] quick_xml::Error),
    /// A document does not have the shape of its type.
    #[error("an XML document of an unexpected shape")]
    XmlRead(#[from] quick_xml::DeError),
    /// A value could not be written as XML.
    #[error("could not write XML")]
    XmlWrite(#[from] quick_xml::SeError),
    /// A SOAP 1.2 envelope, where Yakeen speaks SOAP 1.1.
    #[error("a SOAP 1.2 envelope where SOAP 1.1 is spoken")]
    Soap12,
    /// A document is not the SOAP 1.1 envelope expected.
    #[error("not the SOAP envelope expected: {0}")]
    Envelope(&'static str),
    /// A field of Yakeen's answer breaks its own format.
    #[error("Yakeen's {field} is not {expected}: `{value}`")]
    Field {
        /// Yakeen's name of the field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
        /// What it was (truncated).
        value: String,
    },
}

/// The adapter: Yakeen behind `interior.identity.verify`, Yakeen lite behind
/// `interior.mobile.verify`.
#[derive(Debug)]
pub struct InteriorAdapter {
    client: YakeenClient,
}

impl InteriorAdapter {
    /// Validates the configuration and builds the client.
    pub fn new(config: InteriorConfig) -> Result<Self, ConfigError> {
        let agency = Agency::Interior;
        let yakeen_host = AgencyClient::new(
            agency,
            config.base_url,
            HttpClientConfig::with_timeout(config.timeout),
        )?;
        let lite_base = match config.lite_base_url {
            Some(url) => check_base_url(agency, url)?,
            None => yakeen_host.base().clone(),
        };
        let (yakeen, lite) = (&config.yakeen, &config.lite);
        // Each travels in an XML text node or an HTTP header.
        for (value, name) in [
            (yakeen.user_name.as_str(), "Yakeen userName"),
            (yakeen.password.expose(), "Yakeen password"),
            (yakeen.charge_code.expose(), "Yakeen chargeCode"),
            (lite.app_id.as_str(), "Yakeen lite APP-ID"),
            (lite.app_key.expose(), "Yakeen lite APP-KEY"),
            (lite.service_key.expose(), "Yakeen lite SERVICE_KEY"),
        ] {
            check_credential(agency, value, name)?;
        }
        let header = |secret, name| {
            HeaderSecret::new(secret).ok_or(ConfigError::Credential { agency, name })
        };
        let app_key = header(&lite.app_key, "Yakeen lite APP-KEY")?;
        let service_key = header(&lite.service_key, "Yakeen lite SERVICE_KEY")?;
        Ok(Self {
            client: YakeenClient {
                endpoint: yakeen_host.url(YAKEEN_PATH),
                agency: yakeen_host,
                lite_base,
                yakeen: config.yakeen,
                lite: config.lite,
                app_key,
                service_key,
            },
        })
    }

    async fn identity_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = identity::IdentityQuery::parse(call.input)?;
        let ctx = self.client.agency.context(&call);
        // reqwest bounds the HTTP call; this bounds reading and mapping as well.
        ctx.bound(identity::run(&self.client, ctx, &query)).await
    }

    async fn mobile_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = mobile::MobileQuery::parse(call.input)?;
        let ctx = self.client.agency.context(&call);
        ctx.bound(mobile::run(&self.client, ctx, &query)).await
    }
}

impl Adapter for InteriorAdapter {
    fn agency(&self) -> Agency {
        Agency::Interior
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn callback(&self, _body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        Err(AdapterError::BadCallback(
            "Yakeen answers synchronously and never calls back".to_owned(),
        ))
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        Box::pin(async move {
            match call.service.as_str() {
                IDENTITY_VERIFY => self.identity_verify(call).await,
                MOBILE_VERIFY => self.mobile_verify(call).await,
                _ => Err(AdapterError::UnsupportedService(call.service.clone())),
            }
        })
    }
}

/// The credentials of Yakeen and Yakeen lite, as the configuration names them.
const CREDENTIALS: [Credential; 8] = [
    Credential::new("user_name", CredentialKind::Identifier),
    Credential::new("password", CredentialKind::Secret),
    Credential::new("charge_code", CredentialKind::Secret),
    Credential::new("app_id", CredentialKind::Identifier),
    Credential::new("app_key", CredentialKind::Secret),
    Credential::new("service_key", CredentialKind::Secret),
    // The subscriber's unified number: a sandbox uses a fixed one of the right format.
    Credential::new("organization_number", CredentialKind::Fixed("7000000100")),
    Credential::new("lite_url", CredentialKind::Url),
];

/// The interior agency, as the binary registers it.
#[derive(Debug, Clone, Copy)]
pub struct Interior;

impl Interior {
    /// Yakeen's credentials from the deployment's settings.
    pub fn yakeen(settings: &dyn Settings) -> Result<YakeenCredentials, ConfigError> {
        Ok(YakeenCredentials {
            user_name: settings.credential("user_name")?,
            password: Secret::new(settings.credential("password")?),
            charge_code: Secret::new(settings.credential("charge_code")?),
        })
    }

    /// Yakeen lite's credentials from the deployment's settings.
    pub fn lite(settings: &dyn Settings) -> Result<YakeenLiteCredentials, ConfigError> {
        let organization = settings.credential("organization_number")?;
        let organization_number = UnifiedNumber::parse(&organization)
            .map_err(|err| settings.unusable("organization_number", Box::new(err)))?;
        Ok(YakeenLiteCredentials {
            app_id: settings.credential("app_id")?,
            app_key: Secret::new(settings.credential("app_key")?),
            service_key: Secret::new(settings.credential("service_key")?),
            organization_number,
        })
    }
}

impl Registration for Interior {
    fn agency(&self) -> Agency {
        Agency::Interior
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn uses_api_key(&self) -> bool {
        // Yakeen's credentials travel in the SOAP body, Yakeen lite's in its headers.
        false
    }

    fn credentials(&self) -> &'static [Credential] {
        &CREDENTIALS
    }

    fn mutual_tls(&self) -> bool {
        false
    }

    fn adapter(&self, settings: &dyn Settings) -> Result<Arc<dyn Adapter>, ConfigError> {
        Ok(Arc::new(InteriorAdapter::new(InteriorConfig {
            base_url: settings.url().clone(),
            lite_base_url: settings.optional_url("lite_url")?,
            yakeen: Self::yakeen(settings)?,
            lite: Self::lite(settings)?,
            timeout: settings.timeout(),
        })?))
    }
}

#[cfg(test)]
mod tests;
