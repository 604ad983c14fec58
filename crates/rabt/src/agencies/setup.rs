//! What one agency needs to be called and to be simulated, from its
//! `[agencies.<agency>]` table: URL, timeout, `api_key`, agency-specific `credentials`,
//! callback secrets and, for chambers, the mutual-TLS material.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rabt_adapter::http::{Secret, SecretBytes};
use rabt_adapter_chambers::pki::SandboxPki;
use rabt_core::Agency;
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::config::AgencyConfig;

/// The `credentials` each agency takes besides `api_key`. All are treated as secrets
/// (never logged), though some are plain identifiers (`user_name`, `client_id`, file
/// paths).
pub(crate) fn credential_names(agency: Agency) -> &'static [&'static str] {
    match agency {
        Agency::Interior => &[
            "user_name",
            "password",
            "charge_code",
            "app_id",
            "app_key",
            "service_key",
            "organization_number",
            "lite_url",
        ],
        Agency::Labor => &["client_id", "client_secret"],
        Agency::Chambers => &["client_cert_file", "client_key_file", "server_ca_file"],
        Agency::Health | Agency::Municipal | Agency::SaudiPost => &[],
    }
}

/// Whether the agency's adapter sends `api_key` (SPL's key, the municipality's and
/// health ministry's keys, the chambers bearer token); interior and labor sign in with
/// their `credentials` instead.
pub(crate) fn uses_api_key(agency: Agency) -> bool {
    match agency {
        Agency::Health | Agency::Municipal | Agency::SaudiPost | Agency::Chambers => true,
        Agency::Interior | Agency::Labor => false,
    }
}

/// Rabt's side of the chambers mutual TLS.
#[derive(Clone)]
pub(crate) struct TlsMaterial {
    pub(crate) client_cert_pem: Vec<u8>,
    pub(crate) client_key_pem: SecretBytes,
    pub(crate) server_ca_pem: Vec<u8>,
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
    tls: Option<TlsMaterial>,
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
    /// `read_tls`, the chambers client certificate, key and server CA files are read now
    /// (the simulator side needs none of them).
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
        if agency == Agency::Chambers && read_tls {
            setup.tls = Some(TlsMaterial {
                client_cert_pem: setup.read_file("client_cert_file")?,
                client_key_pem: SecretBytes(setup.read_file("client_key_file")?),
                server_ca_pem: setup.read_file("server_ca_file")?,
            });
        }
        Ok(setup)
    }

    /// A sandbox setup for `rabt demo`: the simulator at `url`, fresh random
    /// credentials known only to this process, and for chambers the given PKI.
    pub(crate) fn sandbox(
        agency: Agency,
        url: url::Url,
        timeout: Duration,
        pki: &SandboxPki,
    ) -> Setup {
        let credentials = credential_names(agency)
            .iter()
            .filter(|name| !name.ends_with("_file") && **name != "lite_url")
            .map(|name| {
                let value = match *name {
                    "organization_number" => "7000000100".to_owned(),
                    "user_name" | "app_id" | "client_id" => format!("rabt-demo-{name}"),
                    _ => random(),
                };
                ((*name).to_owned(), value)
            })
            .collect();
        Setup {
            agency,
            url,
            timeout,
            api_key: random(),
            credentials,
            callback_secrets: vec![rabt_webhook::Secret::generate()],
            tls: Some(TlsMaterial {
                client_cert_pem: pki.client.cert_pem.clone(),
                client_key_pem: pki.client.key_pem.clone(),
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
        if self.api_key.is_empty() && uses_api_key(agency) {
            self.api_key = format!("sandbox-{agency}-api-key");
        }
        for name in credential_names(agency) {
            if name.ends_with("_file") || *name == "lite_url" {
                continue;
            }
            let value = self.credentials.entry((*name).to_owned()).or_default();
            if value.is_empty() {
                *value = match *name {
                    "organization_number" => "7000000100".to_owned(),
                    _ => format!("sandbox-{agency}-{}", name.replace('_', "-")),
                };
            }
        }
        if calls_back && self.callback_secrets.is_empty() {
            self.callback_secrets = vec![sandbox_callback_secret(agency)];
        }
        self
    }

    /// Chambers: the client certificate, its key and the server CA of the sandbox PKI in
    /// `dir`, the only client certificate the chambers simulator accepts.
    pub(crate) fn with_sandbox_pki_files(&self, dir: &std::path::Path) -> Setup {
        let mut setup = self.clone();
        for (name, file) in [
            ("client_cert_file", "client.pem"),
            ("client_key_file", "client-key.pem"),
            ("server_ca_file", "server-ca.pem"),
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

    /// An optional URL credential.
    pub(crate) fn optional_url(&self, name: &str) -> anyhow::Result<Option<url::Url>> {
        match self.credentials.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => url::Url::parse(text)
                .map(Some)
                .with_context(|| format!("`agencies.{}.credentials.{name}`", self.agency)),
        }
    }

    /// The chambers mutual-TLS material.
    pub(crate) fn tls(&self) -> anyhow::Result<&TlsMaterial> {
        self.tls.as_ref().ok_or_else(|| {
            anyhow!(
                "`agencies.{}`: no client certificate configured",
                self.agency
            )
        })
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
