//! What every adapter's constructor does, written once: check the base URL and the
//! credentials, build the one HTTP client, keep the configured timeout. An adapter crate
//! then holds only its agency's wire types, their mapping and the calls that use them.
//!
//! - [`AgencyClient`]: a checked base URL, one HTTP client and the timeout, for any
//!   agency (OAuth2, mutual TLS and SOAP adapters build on it).
//! - [`ApiKeyClient`]: the same with one API key in one header, the shape of the
//!   agencies that want nothing else ([`ApiKeyConfig`] is their whole configuration).
//! - [`ConfigError`]: why an adapter's configuration is refused, before any call.
//! - [`constructor_tests!`](crate::constructor_tests): the constructor's tests, which
//!   every adapter needs and no adapter should write again.

use std::time::Duration;

use rabt_core::Agency;
use reqwest::header::HeaderName;
use reqwest::{RequestBuilder, Url};

use crate::ServiceCall;
use crate::http::{
    BaseUrl, CallContext, ClientConfigError, HeaderSecret, HttpClientConfig, Secret, build_client,
};
use crate::oauth2::OAuth2ConfigError;
use crate::registry::Settings;

/// Why an adapter could not be built. Nothing in it shows a credential: URLs show only
/// scheme, host and path, credentials only their name.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The base URL cannot be the agency's: another scheme (only `https` for an agency
    /// reached over mutual TLS), or a query or a fragment.
    #[error("the {agency} base URL must be {schemes} without query or fragment, got `{shown}`")]
    BaseUrl {
        /// Whose URL.
        agency: Agency,
        /// The schemes allowed: `http(s)` or `https`.
        schemes: &'static str,
        /// The URL's scheme, host and path (never its user info or query).
        shown: String,
    },
    /// The API key is empty or cannot travel in an HTTP header.
    #[error("the {agency} API key must be non-empty visible ASCII")]
    ApiKey {
        /// Whose key.
        agency: Agency,
    },
    /// Another credential is empty or cannot travel where the agency wants it.
    #[error("the {agency} {name} must be non-empty visible ASCII")]
    Credential {
        /// Whose credential.
        agency: Agency,
        /// The agency's own name for it (`token`, `Yakeen password`…).
        name: &'static str,
    },
    /// The HTTP client could not be built (a zero timeout, a bad client certificate or
    /// CA bundle).
    #[error(transparent)]
    Client(#[from] ClientConfigError),
    /// The OAuth2 client credentials are unusable.
    #[error(transparent)]
    OAuth2(#[from] OAuth2ConfigError),
    /// A setting the adapter needs is missing or unreadable in the deployment's
    /// configuration (see [`crate::registry::Settings`], whose implementation words it).
    #[error(transparent)]
    Setting(Box<dyn std::error::Error + Send + Sync>),
}

/// An agency's API as every adapter reaches it: a checked base URL, one HTTP client
/// (it pools connections: build one per adapter) and the configured timeout.
#[derive(Debug, Clone)]
pub struct AgencyClient {
    agency: Agency,
    http: reqwest::Client,
    base: BaseUrl,
    timeout: Duration,
}

impl AgencyClient {
    /// An agency reached over `http` or `https`. `client.timeout` is the configured
    /// timeout: the ceiling of every call.
    pub fn new(
        agency: Agency,
        base_url: Url,
        client: HttpClientConfig,
    ) -> Result<Self, ConfigError> {
        let base = checked_base(agency, base_url, false)?;
        Self::with_base(agency, base, client)
    }

    /// An agency reached over `https` only: over plain HTTP a client certificate is
    /// never presented and a bearer token travels in clear.
    pub fn https_only(
        agency: Agency,
        base_url: Url,
        client: HttpClientConfig,
    ) -> Result<Self, ConfigError> {
        let base = checked_base(agency, base_url, true)?;
        Self::with_base(agency, base, client)
    }

    fn with_base(
        agency: Agency,
        base: BaseUrl,
        client: HttpClientConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            agency,
            http: build_client(&client)?,
            base,
            timeout: client.timeout,
        })
    }

    /// The agency.
    pub fn agency(&self) -> Agency {
        self.agency
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// `path` under the base URL (see [`BaseUrl::join`]).
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path)
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The context of one call: its task, trace and the smaller of its own timeout and
    /// the configured one.
    pub fn context<'a>(&self, call: &ServiceCall<'a>) -> CallContext<'a> {
        CallContext::of(call, self.timeout)
    }
}

/// A second base URL of an agency (an API on another host), checked as
/// [`AgencyClient::new`] checks the first: `http(s)`, no query, no fragment.
pub fn check_base_url(agency: Agency, url: Url) -> Result<BaseUrl, ConfigError> {
    checked_base(agency, url, false)
}

/// A base URL checked for `agency`; refused with only its scheme, host and path shown.
fn checked_base(agency: Agency, url: Url, https_only: bool) -> Result<BaseUrl, ConfigError> {
    let (checked, schemes) = if https_only {
        (BaseUrl::https_only(url), "https")
    } else {
        (BaseUrl::new(url), "http(s)")
    };
    checked.map_err(|bad| ConfigError::BaseUrl {
        agency,
        schemes,
        shown: bad.into_shown(),
    })
}

/// A credential that can travel in an XML text node or an HTTP header: non-empty,
/// visible ASCII (spaces allowed inside); refused as [`ConfigError::Credential`].
pub fn check_credential(
    agency: Agency,
    value: &str,
    name: &'static str,
) -> Result<(), ConfigError> {
    let visible = value.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if value.trim().is_empty() || !visible {
        return Err(ConfigError::Credential { agency, name });
    }
    Ok(())
}

/// The whole configuration of an agency reached with one API key.
#[derive(Debug, Clone)]
pub struct ApiKeyConfig {
    /// The agency's API root in production; a simulator's root URL in tests.
    pub base_url: Url,
    /// The agency's API key.
    pub api_key: Secret,
    /// The longest one call may take; a task's own timeout may be shorter.
    pub timeout: Duration,
}

impl ApiKeyConfig {
    /// The configuration in a deployment's settings: its URL, `api_key` and timeout.
    pub fn from_settings(settings: &dyn Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: settings.url().clone(),
            api_key: settings.api_key()?,
            timeout: settings.timeout(),
        })
    }
}

/// An agency's API behind one API key sent in one header on every request.
#[derive(Debug, Clone)]
pub struct ApiKeyClient {
    agency: AgencyClient,
    header: HeaderName,
    key: HeaderSecret,
}

impl ApiKeyClient {
    /// Checks the base URL, then the key (refused when empty or not a header value), and
    /// builds the client; the key goes in `header` on every request.
    pub fn new(
        agency: Agency,
        header: HeaderName,
        config: ApiKeyConfig,
    ) -> Result<Self, ConfigError> {
        let base = checked_base(agency, config.base_url, false)?;
        let key = HeaderSecret::new(&config.api_key).ok_or(ConfigError::ApiKey { agency })?;
        let client =
            AgencyClient::with_base(agency, base, HttpClientConfig::with_timeout(config.timeout))?;
        Ok(Self {
            agency: client,
            header,
            key,
        })
    }

    /// The agency's client: base URL, HTTP client, timeout.
    pub fn agency(&self) -> &AgencyClient {
        &self.agency
    }

    /// A `GET` of `url` with the key.
    pub fn get(&self, url: Url) -> RequestBuilder {
        self.keyed(self.agency.http.get(url))
    }

    /// A `POST` to `path` under the base URL, with the key.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.keyed(self.agency.http.post(self.agency.url(path)))
    }

    /// The context of one call (see [`AgencyClient::context`]).
    pub fn context<'a>(&self, call: &ServiceCall<'a>) -> CallContext<'a> {
        self.agency.context(call)
    }

    fn keyed(&self, request: RequestBuilder) -> RequestBuilder {
        request.header(&self.header, self.key.value())
    }
}

/// The tests every adapter's constructor needs, generated: bad base URLs are refused
/// without showing credentials, every credential made unusable is refused, a zero
/// timeout is refused, and neither the configuration's nor the adapter's `Debug` output
/// shows a secret.
///
/// `config` is a function from a base URL to a valid configuration holding the
/// `secrets` listed; each of `breakers` makes one credential of it unusable. The
/// configuration must have a `timeout: Duration` field.
///
/// ```ignore
/// fn config(base_url: Url) -> ApiKeyConfig {
///     ApiKeyConfig { base_url, api_key: Secret::new("super-secret-key"), timeout: Duration::from_secs(5) }
/// }
///
/// rabt_adapter::constructor_tests! {
///     new: HealthAdapter::new,
///     config: config,
///     base: "https://moh.example/gateway",
///     https_only: false,
///     secrets: ["super-secret-key"],
///     breakers: [|c| c.api_key = Secret::new(""), |c| c.api_key = Secret::new("line\nbreak")],
/// }
/// ```
#[macro_export]
macro_rules! constructor_tests {
    (
        new: $new:expr,
        config: $config:expr,
        base: $base:expr,
        https_only: $https_only:expr,
        secrets: [$($secret:expr),* $(,)?],
        breakers: [$($breaker:expr),* $(,)?] $(,)?
    ) => {
        mod constructor {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn base_urls_are_checked_without_showing_credentials() {
                $crate::agency::testing::base_urls($new, $config, $base, $https_only);
            }

            #[test]
            fn unusable_credentials_are_configuration_errors() {
                $crate::agency::testing::credentials($new, $config, $base, &[$($breaker),*]);
            }

            #[test]
            fn a_zero_timeout_is_a_configuration_error() {
                $crate::agency::testing::zero_timeout($new, $config, $base, |c| {
                    c.timeout = ::std::time::Duration::ZERO;
                });
            }

            #[test]
            fn debug_output_hides_every_secret() {
                $crate::agency::testing::secrets_hidden($new, $config, $base, &[$($secret),*]);
            }
        }
    };
}

/// What [`constructor_tests!`](crate::constructor_tests) runs. Public for the macro
/// only; they panic, as tests do.
#[doc(hidden)]
#[allow(clippy::unwrap_used)] // test helpers: a panic is how they report a failure
pub mod testing {
    use std::fmt::Debug;

    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    /// A valid configuration builds; bad URLs are refused as `BaseUrl`, showing no
    /// user info.
    pub fn base_urls<C, A, E>(
        new: impl Fn(C) -> Result<A, E>,
        config: fn(Url) -> C,
        base: &str,
        https_only: bool,
    ) where
        A: Debug,
        E: Into<ConfigError> + Debug,
    {
        assert!(new(config(url(base))).is_ok(), "{base} is refused");
        let mut bad = vec![
            "ftp://example.com/",
            "https://example.com/?api_key=x",
            "https://example.com/#top",
            "mailto:someone@example.com",
        ];
        if https_only {
            bad.push("http://example.com/");
        }
        for text in bad {
            let err: ConfigError = new(config(url(text))).unwrap_err().into();
            assert!(
                matches!(err, ConfigError::BaseUrl { .. }),
                "{text}: {err:?}"
            );
        }
        let err: ConfigError = new(config(url("https://user:pw@example.com/?q=1")))
            .unwrap_err()
            .into();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    /// Each breaker's configuration is refused for a credential, naming no secret.
    pub fn credentials<C, A, E>(
        new: impl Fn(C) -> Result<A, E>,
        config: fn(Url) -> C,
        base: &str,
        breakers: &[fn(&mut C)],
    ) where
        A: Debug,
        E: Into<ConfigError> + Debug,
    {
        assert!(
            !breakers.is_empty(),
            "an adapter has at least one credential"
        );
        for (index, break_it) in breakers.iter().enumerate() {
            let mut bad = config(url(base));
            break_it(&mut bad);
            let err: ConfigError = new(bad).unwrap_err().into();
            assert!(
                matches!(
                    err,
                    ConfigError::ApiKey { .. }
                        | ConfigError::Credential { .. }
                        | ConfigError::OAuth2(_)
                ),
                "breaker #{index}: {err:?}"
            );
        }
    }

    /// A zero timeout (set by `zero`) is refused by the client builder.
    pub fn zero_timeout<C, A, E>(
        new: impl Fn(C) -> Result<A, E>,
        config: fn(Url) -> C,
        base: &str,
        zero: fn(&mut C),
    ) where
        A: Debug,
        E: Into<ConfigError> + Debug,
    {
        let mut bad = config(url(base));
        zero(&mut bad);
        let err: ConfigError = new(bad).unwrap_err().into();
        assert!(
            matches!(err, ConfigError::Client(ClientConfigError::ZeroTimeout(_))),
            "{err:?}"
        );
    }

    /// No secret shows in the `Debug` output of the configuration or the adapter.
    pub fn secrets_hidden<C, A, E>(
        new: impl Fn(C) -> Result<A, E>,
        config: fn(Url) -> C,
        base: &str,
        secrets: &[&str],
    ) where
        C: Debug,
        A: Debug,
        E: Debug,
    {
        assert!(
            !secrets.is_empty(),
            "name the secrets the configuration holds"
        );
        let shown_config = format!("{:?}", config(url(base)));
        let shown_adapter = format!("{:?}", new(config(url(base))).unwrap());
        for secret in secrets {
            for shown in [&shown_config, &shown_adapter] {
                assert!(!shown.contains(secret), "{secret} shows in {shown}");
            }
        }
    }
}
