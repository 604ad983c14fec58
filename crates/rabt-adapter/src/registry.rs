//! How the binary meets an agency: each adapter crate describes its agency once, in a
//! [`Registration`] (its services, the credentials it takes, how its adapter is built
//! from a deployment's [`Settings`]), and the binary keeps one line per agency.
//!
//! The binary implements [`Settings`] over its configuration file, so that a missing
//! or unreadable setting is worded with the key and the environment variable that set
//! it; an adapter crate only asks for what it needs, by name.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rabt_core::Agency;
use reqwest::Url;

use crate::Adapter;
use crate::agency::ConfigError;
use crate::http::{ClientIdentity, Secret};

/// The credential naming the client certificate file (PEM chain) of an agency reached
/// over mutual TLS.
pub const CLIENT_CERT_FILE: &str = "client_cert_file";
/// The credential naming that certificate's private key file (PEM).
pub const CLIENT_KEY_FILE: &str = "client_key_file";
/// The credential naming the file of the CA that signed the agency's server certificate.
pub const SERVER_CA_FILE: &str = "server_ca_file";

/// The credentials of an agency reached over mutual TLS, in the order to list them.
pub const MUTUAL_TLS_FILES: [Credential; 3] = [
    Credential::new(CLIENT_CERT_FILE, CredentialKind::File),
    Credential::new(CLIENT_KEY_FILE, CredentialKind::File),
    Credential::new(SERVER_CA_FILE, CredentialKind::File),
];

/// What kind of value a credential is: decides what a sandbox fills in for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A secret: random in `rabt demo`, a published sandbox value in `rabt simulate`.
    Secret,
    /// An identifier that may be shown (a user name, a client id): `rabt-demo-<name>`
    /// in `rabt demo`.
    Identifier,
    /// A value with a format of its own: the sandbox always uses this one.
    Fixed(&'static str),
    /// A file path (mutual-TLS material): never made up.
    File,
    /// An optional URL: left empty in a sandbox.
    Url,
}

/// One credential an agency takes besides `api_key`, as the deployment's configuration
/// names it (`[agencies.<agency>.credentials]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential {
    /// Its name, lower-case snake case.
    pub name: &'static str,
    /// What kind of value it is.
    pub kind: CredentialKind,
}

impl Credential {
    /// A credential of this name and kind.
    pub const fn new(name: &'static str, kind: CredentialKind) -> Self {
        Self { name, kind }
    }
}

/// Rabt's side of a mutual-TLS connection: its client certificate and key, and the CA
/// it trusts for the agency's server certificate.
#[derive(Debug, Clone)]
pub struct MutualTls {
    /// Rabt's certificate chain and key.
    pub identity: ClientIdentity,
    /// The CA (PEM) that signed the agency's server certificate.
    pub server_ca_pem: Vec<u8>,
}

/// One agency's settings in a deployment, as an adapter crate reads them. Each getter
/// fails, worded by the implementation, when the setting is missing or unusable.
pub trait Settings: fmt::Debug + Send + Sync {
    /// The agency these are the settings of.
    fn agency(&self) -> Agency;
    /// The agency's base URL.
    fn url(&self) -> &Url;
    /// The longest one call may take.
    fn timeout(&self) -> Duration;
    /// `api_key`, which must be set.
    fn api_key(&self) -> Result<Secret, ConfigError>;
    /// A credential the registration lists, which must be set.
    fn credential(&self, name: &str) -> Result<String, ConfigError>;
    /// A credential holding an optional URL.
    fn optional_url(&self, name: &str) -> Result<Option<Url>, ConfigError>;
    /// The mutual-TLS material, read from the [`MUTUAL_TLS_FILES`].
    fn mutual_tls(&self) -> Result<MutualTls, ConfigError>;
    /// The error for a credential that is set but unusable (`error` says why), worded
    /// as the others.
    fn unusable(&self, name: &str, error: Box<dyn std::error::Error + Send + Sync>) -> ConfigError;
}

/// What an adapter crate tells the binary about its agency. Each crate has one, a unit
/// struct named after the agency; nothing has a default, so every answer is written
/// down.
pub trait Registration: Send + Sync + 'static {
    /// The agency.
    fn agency(&self) -> Agency;
    /// The catalogue services its adapter serves.
    fn services(&self) -> &'static [&'static str];
    /// Whether the adapter sends `api_key` (an API key or a bearer token); the others
    /// sign in with their [`Registration::credentials`].
    fn uses_api_key(&self) -> bool;
    /// The credentials it takes besides `api_key`; any other name in the configuration
    /// is refused.
    fn credentials(&self) -> &'static [Credential];
    /// Whether the agency is reached over mutual TLS (its credentials then include the
    /// [`MUTUAL_TLS_FILES`], and its simulator is served over TLS).
    fn mutual_tls(&self) -> bool;
    /// The adapter, built from the deployment's settings.
    fn adapter(&self, settings: &dyn Settings) -> Result<Arc<dyn Adapter>, ConfigError>;
}

impl fmt::Debug for dyn Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("agency", &self.agency())
            .finish_non_exhaustive()
    }
}
