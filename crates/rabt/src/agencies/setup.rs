//! What one agency needs to be called and to be simulated, from its
//! `[agencies.<agency>]` table: URL, timeout, `api_key`, the `credentials` its crate
//! registers, callback secrets and, for an agency reached over mutual TLS, the
//! certificate files. [`Setup`] is what the agency's crate reads them through
//! ([`Settings`]), worded with the configuration's keys and environment variables.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rabt_adapter::ConfigError;
use rabt_adapter::http::{ClientIdentity, Secret, SecretBytes};
use rabt_adapter::registry::{
    CLIENT_CERT_FILE, CLIENT_KEY_FILE, CredentialKind, MutualTls, SERVER_CA_FILE, Settings,
};
use rabt_core::Agency;
use rabt_sandbox::tls::SandboxPki;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::registered;
use crate::config::AgencyConfig;

/// The names of the `credentials` an agency takes besides `api_key`. All are treated as
/// secrets (never logged), though some are plain identifiers (`user_name`,
/// `client_id`, file paths).
pub(crate) fn credential_names(agency: Agency) -> Vec<&'static str> {
    registered(agency)
        .credentials()
        .iter()
        .map(|credential| credential.name)
        .collect()
}

/// What `rabt demo` (`demo`) or `rabt simulate` (not) gives a credential of this kind,
/// if anything: files and URLs are never made up.
fn sandbox_value(agency: Agency, name: &str, kind: CredentialKind, demo: bool) -> Option<String> {
    match kind {
        CredentialKind::File | CredentialKind::Url => None,
        CredentialKind::Fixed(value) => Some(value.to_owned()),
        CredentialKind::Identifier if demo => Some(format!("rabt-demo-{name}")),
        CredentialKind::Secret if demo => Some(random()),
        CredentialKind::Identifier | CredentialKind::Secret => {
            Some(format!("sandbox-{agency}-{}", name.replace('_', "-")))
        }
    }
}

/// One agency's connection, checked.
#[derive(Clone)]
pub(crate) struct Setup {
    agency: Agency,
    pub(crate) url: url::Url,
    pub(crate) timeout: Duration,
    api_key: String,
    credentials: BTreeMap<String, String>,
    pub(crate) callback_secrets: Vec<rabt_webhook::Secret>,
    tls: Option<MutualTls>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("agency", &self.agency)
            .field("url", &self.url.as_str())
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// From the configuration; unknown credential names are errors naming them. With
    /// `read_tls`, an agency reached over mutual TLS has its client certificate, key and
    /// server CA files read now (the simulator side needs none of them).
    pub(crate) fn from_config(
        agency: Agency,
        config: &AgencyConfig,
        read_tls: bool,
    ) -> anyhow::Result<Setup> {
        let known = credential_names(agency);
        for name in config.credentials.keys() {
            if !known.contains(&name.as_str()) {
                bail!(
                    "`agencies.{agency}.credentials.{name}` is unknown (expected: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            }
        }
        let mut setup = Setup {
            agency,
            url: config.url.clone(),
            timeout: config.timeout,
            api_key: config.api_key.expose().to_owned(),
            credentials: config
                .credentials
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                .collect(),
            callback_secrets: config.callback_secrets.clone(),
            tls: None,
        };
        if registered(agency).mutual_tls() && read_tls {
            setup.tls = Some(MutualTls {
                identity: ClientIdentity {
                    cert_pem: setup.read_file(CLIENT_CERT_FILE)?,
                    key_pem: SecretBytes(setup.read_file(CLIENT_KEY_FILE)?),
                },
                server_ca_pem: setup.read_file(SERVER_CA_FILE)?,
            });
        }
        Ok(setup)
    }

    /// A sandbox setup for `rabt demo`: the simulator at `url`, fresh random
    /// credentials known only to this process, and for mutual TLS the given PKI.
    pub(crate) fn sandbox(
        agency: Agency,
        url: url::Url,
        timeout: Duration,
        pki: &SandboxPki,
    ) -> Setup {
        let credentials = registered(agency)
            .credentials()
            .iter()
            .filter_map(|c| {
                let value = sandbox_value(agency, c.name, c.kind, true)?;
                Some((c.name.to_owned(), value))
            })
            .collect();
        Setup {
            agency,
            url,
            timeout,
            api_key: random(),
            credentials,
            callback_secrets: vec![rabt_webhook::Secret::generate()],
            tls: Some(MutualTls {
                identity: pki.client_identity(),
                server_ca_pem: pki.server_ca_pem.clone(),
            }),
        }
    }

    /// `rabt simulate` is a sandbox: every credential left empty (`api_key`, the
    /// agency's `credentials` other than files and URLs, and the callback secrets of an
    /// agency that calls back) takes the agency's well-known sandbox value, the same on
    /// every machine, so that `rabt serve` can be given it (`rabt simulate --print-env`).
    /// These values are public: a real agency never accepts them.
    pub(crate) fn or_sandbox_defaults(mut self, calls_back: bool) -> Setup {
        let agency = self.agency;
        let registration = registered(agency);
        if self.api_key.is_empty() && registration.uses_api_key() {
            self.api_key = format!("sandbox-{agency}-api-key");
        }
        for credential in registration.credentials() {
            let Some(sandbox) = sandbox_value(agency, credential.name, credential.kind, false)
            else {
                continue;
            };
            let value = self
                .credentials
                .entry(credential.name.to_owned())
                .or_default();
            if value.is_empty() {
                *value = sandbox;
            }
        }
        if calls_back && self.callback_secrets.is_empty() {
            self.callback_secrets = vec![sandbox_callback_secret(agency)];
        }
        self
    }

    /// For mutual TLS: the client certificate, its key and the server CA of the sandbox
    /// PKI in `dir`, the only client certificate the simulator accepts.
    pub(crate) fn with_sandbox_pki_files(&self, dir: &std::path::Path) -> Setup {
        let mut setup = self.clone();
        for (name, file) in [
            (CLIENT_CERT_FILE, "client.pem"),
            (CLIENT_KEY_FILE, "client-key.pem"),
            (SERVER_CA_FILE, "server-ca.pem"),
        ] {
            setup
                .credentials
                .insert(name.to_owned(), dir.join(file).display().to_string());
        }
        setup
    }

    /// `export` lines giving `rabt serve` this setup, for an agency served at `url`
    /// (`rabt simulate --print-env`): the URL, the API key, the credentials (chambers'
    /// certificate files as absolute paths) and the callback secrets.
    pub(crate) fn exports(&self, url: &url::Url) -> anyhow::Result<Vec<String>> {
        let prefix = format!("RABT_AGENCY_{}", self.agency.env_name());
        let mut lines = vec![export(&format!("{prefix}_URL"), url.as_str())];
        if !self.api_key.is_empty() {
            lines.push(export(&format!("{prefix}_API_KEY"), &self.api_key));
        }
        for (name, value) in &self.credentials {
            if value.is_empty() {
                continue;
            }
            let value = if name.ends_with("_file") {
                std::path::absolute(value)
                    .with_context(|| format!("`agencies.{}.credentials.{name}`", self.agency))?
                    .display()
                    .to_string()
            } else {
                value.clone()
            };
            lines.push(export(
                &format!("{prefix}_{}", name.to_ascii_uppercase()),
                &value,
            ));
        }
        if !self.callback_secrets.is_empty() {
            let secrets: Vec<String> = self
                .callback_secrets
                .iter()
                .map(rabt_webhook::Secret::expose)
                .collect();
            lines.push(export(
                &format!("{prefix}_CALLBACK_SECRETS"),
                &secrets.join(","),
            ));
        }
        Ok(lines)
    }

    /// The same setup pointed at another URL (the demo learns its simulators' ports
    /// after binding them).
    pub(crate) fn at(&self, url: url::Url) -> Setup {
        Setup {
            url,
            ..self.clone()
        }
    }

    /// `api_key`, which must be set.
    pub(crate) fn api_key(&self) -> anyhow::Result<Secret> {
        if self.api_key.is_empty() {
            bail!(
                "`agencies.{}.api_key` is empty: set RABT_AGENCY_{}_API_KEY (the credential the agency gave you)",
                self.agency,
                self.agency.env_name()
            );
        }
        Ok(Secret::new(self.api_key.clone()))
    }

    /// A credential, which must be set.
    pub(crate) fn credential(&self, name: &str) -> anyhow::Result<String> {
        match self.credentials.get(name) {
            Some(value) if !value.is_empty() => Ok(value.clone()),
            _ => Err(anyhow!(
                "`agencies.{}.credentials.{name}` is empty: set it, or RABT_AGENCY_{}_{}",
                self.agency,
                self.agency.env_name(),
                name.to_ascii_uppercase()
            )),
        }
    }

    fn read_file(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        let path = self.credential(name)?;
        std::fs::read(&path).with_context(|| {
            format!(
                "`agencies.{}.credentials.{name}`: cannot read {path}",
                self.agency
            )
        })
    }
}

/// What the agency's crate reads its settings through: each refusal names the key and
/// the environment variable to set.
impl Settings for Setup {
    fn agency(&self) -> Agency {
        self.agency
    }

    fn url(&self) -> &url::Url {
        &self.url
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn api_key(&self) -> Result<Secret, ConfigError> {
        Setup::api_key(self).map_err(setting)
    }

    fn credential(&self, name: &str) -> Result<String, ConfigError> {
        Setup::credential(self, name).map_err(setting)
    }

    fn optional_url(&self, name: &str) -> Result<Option<url::Url>, ConfigError> {
        match self.credentials.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => url::Url::parse(text)
                .map(Some)
                .map_err(|err| self.unusable(name, Box::new(err))),
        }
    }

    fn mutual_tls(&self) -> Result<MutualTls, ConfigError> {
        self.tls.clone().ok_or_else(|| {
            setting(anyhow!(
                "`agencies.{}`: no client certificate configured",
                self.agency
            ))
        })
    }

    fn unusable(&self, name: &str, error: Box<dyn std::error::Error + Send + Sync>) -> ConfigError {
        setting(anyhow!(error).context(format!("`agencies.{}.credentials.{name}`", self.agency)))
    }
}

/// A setting's error as the agency's crate passes it on.
fn setting(error: anyhow::Error) -> ConfigError {
    ConfigError::Setting(error.into())
}

/// The sandbox's callback secret of `agency`: 32 bytes derived from its name, so that
/// every sandbox on every machine has the same, published one.
fn sandbox_callback_secret(agency: Agency) -> rabt_webhook::Secret {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let key = Sha256::digest(format!("rabt sandbox callback secret of {agency}").as_bytes());
    let text = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    #[allow(clippy::expect_used)] // 32 bytes in standard base64 after whsec_: always valid
    rabt_webhook::Secret::parse(&text).expect("a whsec_ secret of 32 bytes")
}

/// A shell `export` line, the value in single quotes.
fn export(name: &str, value: &str) -> String {
    format!("export {name}='{}'", value.replace('\'', "'\\''"))
}

fn random() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}
