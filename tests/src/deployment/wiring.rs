//! How a deployment's processes find each other: ports, URLs, the agencies'
//! credentials and the environment every `rabt` process of it gets.

use std::path::PathBuf;

use anyhow::anyhow;
use rabt_test_support::{TempVhost, unique};

use crate::{Rabt, free_base_port, free_port, run_rabt};

/// Where a deployment's processes find each other.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// Where logs go.
    pub dir: PathBuf,
    /// The database of this deployment.
    pub database_url: String,
    /// The vhost URL of this deployment.
    pub amqp_url: String,
    /// The simulators' first port.
    pub simulate_base: u16,
    /// The API's port.
    pub api_port: u16,
    /// The operators' port (console, `/ops/v1`, `/metrics`) of the first api process.
    pub ops_port: u16,
    /// Every agency credential and callback secret, shared by `rabt simulate` (which
    /// accepts them) and `rabt serve` (which sends them).
    secrets: Vec<(&'static str, String)>,
    /// A configuration file laid over the defaults, if the test needs one.
    config: Option<PathBuf>,
    /// More variables for every process (e.g. OTEL_EXPORTER_OTLP_ENDPOINT).
    extra: Vec<(String, String)>,
}

/// The agencies in the order of their simulator ports, with their env names.
const AGENCIES: [(&str, &str); 6] = [
    ("interior", "INTERIOR"),
    ("health", "HEALTH"),
    ("labor", "LABOR"),
    ("municipal", "MUNICIPAL"),
    ("chambers", "CHAMBERS"),
    ("saudi-post", "SAUDI_POST"),
];

/// Fresh credentials for every agency, as a deployment's environment.
fn agency_secrets() -> Vec<(&'static str, String)> {
    let mut secrets = vec![
        ("RABT_AGENCY_INTERIOR_USER_NAME", "rabt".to_owned()),
        ("RABT_AGENCY_INTERIOR_PASSWORD", unique("pw-")),
        ("RABT_AGENCY_INTERIOR_CHARGE_CODE", unique("charge-")),
        ("RABT_AGENCY_INTERIOR_APP_ID", "rabt-e2e".to_owned()),
        ("RABT_AGENCY_INTERIOR_APP_KEY", unique("app-")),
        ("RABT_AGENCY_INTERIOR_SERVICE_KEY", unique("svc-")),
        (
            "RABT_AGENCY_INTERIOR_ORGANIZATION_NUMBER",
            "7000000100".to_owned(),
        ),
        ("RABT_AGENCY_LABOR_CLIENT_ID", "rabt-e2e".to_owned()),
        ("RABT_AGENCY_LABOR_CLIENT_SECRET", unique("client-")),
        (
            "RABT_AGENCY_MUNICIPAL_CALLBACK_SECRETS",
            rabt_webhook::Secret::generate().expose(),
        ),
        (
            "RABT_AGENCY_HEALTH_CALLBACK_SECRETS",
            rabt_webhook::Secret::generate().expose(),
        ),
    ];
    secrets.extend(audit_keys());
    for name in [
        "RABT_AGENCY_HEALTH_API_KEY",
        "RABT_AGENCY_MUNICIPAL_API_KEY",
        "RABT_AGENCY_CHAMBERS_API_KEY",
        "RABT_AGENCY_SAUDI_POST_API_KEY",
    ] {
        secrets.push((name, unique("key-")));
    }
    secrets
}

/// A fresh checkpoint signing key and personal-data key, as a deployment's environment
/// (every process may seal; one at a time does).
pub fn audit_keys() -> Vec<(&'static str, String)> {
    let seed = |hex: String| -> [u8; 16] {
        let bytes: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect();
        bytes.try_into().unwrap_or([7; 16])
    };
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&seed(unique("")));
    bytes[16..].copy_from_slice(&seed(unique("")));
    let key = rabt_audit::SigningKey::from_seed(AUDIT_ORIGIN, bytes)
        .map(|k| k.to_secret_text())
        .unwrap_or_default();
    vec![
        ("RABT_AUDIT_SIGNING_KEY", key),
        ("RABT_AUDIT_ORIGIN", AUDIT_ORIGIN.to_owned()),
        ("RABT_PII_KEY", unique("pii-key-of-the-e2e-deployment-")),
    ]
}

/// The origin of every test deployment's audit log.
pub const AUDIT_ORIGIN: &str = "rabt.e2e.test/audit";

impl Wiring {
    /// The environment every `rabt` process of this deployment gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let pki = self.dir.join("pki");
        let fixed = [
            ("RABT_DATABASE_URL", self.database_url.clone()),
            ("RABT_AMQP_URL", self.amqp_url.clone()),
            ("RABT_LISTEN", format!("127.0.0.1:{}", self.api_port)),
            ("RABT_OPS_LISTEN", format!("127.0.0.1:{}", self.ops_port)),
            (
                "RABT_SIMULATE_CALLBACK_URL",
                format!("http://127.0.0.1:{}", self.api_port),
            ),
            ("RABT_SIMULATE_PKI_DIR", pki.display().to_string()),
            (
                "RABT_AGENCY_CHAMBERS_CLIENT_CERT_FILE",
                pki.join("client.pem").display().to_string(),
            ),
            (
                "RABT_AGENCY_CHAMBERS_CLIENT_KEY_FILE",
                pki.join("client-key.pem").display().to_string(),
            ),
            (
                "RABT_AGENCY_CHAMBERS_SERVER_CA_FILE",
                pki.join("server-ca.pem").display().to_string(),
            ),
        ];
        let urls = AGENCIES.iter().map(|(agency, env_name)| {
            (
                format!("RABT_AGENCY_{env_name}_URL"),
                self.agency_url(agency),
            )
        });
        fixed
            .into_iter()
            .chain(self.secrets.iter().cloned())
            .map(|(k, v)| (k.to_owned(), v))
            .chain(urls)
            .chain(self.extra.iter().cloned())
            .collect()
    }

    /// The arguments of every command: the configuration file, if any, then `args`.
    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = Vec::new();
        if let Some(config) = &self.config {
            all.push("--config");
            all.push(config.to_str().unwrap_or_default());
        }
        all.extend_from_slice(args);
        all
    }

    /// Starts `rabt <args>` with this deployment's environment.
    pub fn spawn(&self, name: &str, args: &[&str]) -> anyhow::Result<Rabt> {
        self.spawn_with(name, args, &[])
    }

    /// Starts `rabt <args>` with this deployment's environment and some variables
    /// overridden (e.g. a second API on another `RABT_LISTEN`).
    pub fn spawn_with(
        &self,
        name: &str,
        args: &[&str],
        overrides: &[(&str, String)],
    ) -> anyhow::Result<Rabt> {
        let mut env = self.env();
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), value.clone()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Rabt::spawn(name, &self.args(args), &env, &self.dir)
    }

    /// Runs `rabt <args>` to completion with this deployment's environment.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_rabt(&self.args(args), &env)
    }

    /// An agency simulator's base URL (`chambers` speaks mutual TLS).
    pub fn agency_url(&self, agency: &str) -> String {
        let index = AGENCIES
            .iter()
            .position(|(a, _)| *a == agency)
            .unwrap_or_else(|| panic!("no simulator for agency `{agency}`"))
            as u16;
        let scheme = if agency == "chambers" {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.simulate_base + index)
    }

    /// The first api process's operators' base URL (`/ops/v1`, `/metrics`, `/console/`).
    pub fn ops_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ops_port)
    }

    /// The Saudi Post simulator's base URL.
    pub fn saudi_post_url(&self) -> String {
        self.agency_url("saudi-post")
    }
}

impl Wiring {
    /// The wiring of a deployment in `dir` on free ports: `config` written to
    /// `rabt.toml` there, `env` given to every process.
    pub(super) fn new(
        dir: PathBuf,
        database_url: String,
        vhost: &TempVhost,
        config: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Wiring> {
        let config = match config {
            Some(text) => {
                let path = dir.join("rabt.toml");
                std::fs::write(&path, text)?;
                Some(path)
            }
            None => None,
        };
        Ok(Wiring {
            dir,
            database_url,
            amqp_url: cluster_urls(&vhost.amqp_url),
            simulate_base: free_base_port(),
            api_port: free_port(),
            ops_port: free_port(),
            secrets: agency_secrets(),
            config,
            extra: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    /// Onboards the test cooperative with `services` (`rabt coop add`) and returns its
    /// API key.
    pub(super) fn onboard(&self, services: &str) -> anyhow::Result<String> {
        let out = self.run(&[
            "coop",
            "add",
            "--name",
            "Test Cooperative",
            "--unified-number",
            "7000000001",
            "--services",
            services,
        ])?;
        let printed = |label: &str, what: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(label))
                .map(|value| value.trim().to_owned())
                .ok_or_else(|| anyhow!("no {what} in `rabt coop add` output: {out}"))
        };
        let key = printed("api key:", "api key")?;
        let cooperative = printed("cooperative:", "cooperative id")?;
        // The test cooperative sends the tests' volume (a thousand requests at once in
        // the kill drill): a limit of its own above it, as an operator would give a
        // cooperative with a large batch. The limits themselves have tests of their own.
        self.run(&[
            "coop",
            "set-limit",
            &cooperative,
            "--rate",
            "5000/s",
            "--burst",
            "5000",
            "--operator",
            "tests",
        ])?;
        Ok(key)
    }
}

/// The vhost's URL on every node of the cluster of tests/cluster.sh
/// (`RABT_TEST_AMQP_URLS`, the nodes' URLs separated by commas), as one
/// `RABT_AMQP_URL`; the URL itself without a cluster.
fn cluster_urls(vhost_url: &str) -> String {
    let Ok(nodes) = std::env::var("RABT_TEST_AMQP_URLS") else {
        return vhost_url.to_owned();
    };
    let Some((scheme_auth, path)) = vhost_url.rsplit_once('/') else {
        return vhost_url.to_owned();
    };
    let authority = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_owned())
    };
    let Some(first) = authority(scheme_auth.trim_end_matches('/')).or_else(|| authority(vhost_url))
    else {
        return vhost_url.to_owned();
    };
    nodes
        .split(',')
        .filter_map(|node| authority(node.trim()))
        .map(|node| format!("{}/{path}", scheme_auth.replace(&first, &node)))
        .collect::<Vec<_>>()
        .join(",")
}
