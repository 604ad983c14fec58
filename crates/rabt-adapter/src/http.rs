//! The HTTP client every adapter shares, and the classification of what goes wrong on
//! the wire into [`AdapterError`]s.
//!
//! One `reqwest::Client` per adapter (it pools connections), built from a validated
//! [`HttpClientConfig`] with rustls only. Agencies that require mutual TLS get a client
//! identity (PEM certificate chain and key) and, for private PKIs, extra root CAs.
//!
//! An adapter checks its configuration into a [`BaseUrl`] and [`HeaderSecret`]s before
//! it builds anything, and makes each call with a [`CallContext`] through [`send`]: the
//! task id, the trace and the timeout ride on every request, transport failures are
//! classified here, and the adapter classifies the statuses its agency answers.
//!
//! Layout: this file, the client, secrets and the classification of failures;
//! `base_url`, [`BaseUrl`]; `exchange`, one request and its answer.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::AdapterError;

mod base_url;
mod exchange;

pub use base_url::{BadBaseUrl, BaseUrl};
pub(crate) use exchange::execute;
pub use exchange::{
    CallContext, MAX_ANSWER_BYTES, NO_READABLE_REASON, Reply, quote_code, read_json, send,
};

/// The header that carries the task id on every call to an agency, so the agency (and
/// its simulator) can recognise a retried call.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The W3C trace context header, forwarded so one trace spans Rabt and the agency.
pub const TRACEPARENT: HeaderName = HeaderName::from_static(rabt_core::message::TRACEPARENT);

/// A credential (API key, password, client secret). Its `Debug` and `Display` print
/// `***`, so it cannot leak into a log line or an error message by accident; the value
/// is reachable only through [`Secret::expose`], which reads as what it is.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, to put on the wire and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A credential checked, when the adapter is configured, to travel in an HTTP header,
/// and marked sensitive so that reqwest and hyper leave it out of their `Debug` output.
/// Its own `Debug` prints `***`.
#[derive(Clone)]
pub struct HeaderSecret(HeaderValue);

impl HeaderSecret {
    /// `secret` as a header value, or `None` when it is empty or cannot be one (it
    /// holds a control character).
    pub fn new(secret: &Secret) -> Option<Self> {
        Self::from_text(secret.expose())
    }

    /// `Bearer <token>`, for an `Authorization` header; `None` as for [`HeaderSecret::new`].
    pub fn bearer(token: &Secret) -> Option<Self> {
        if token.expose().is_empty() {
            return None;
        }
        Self::from_text(&format!("Bearer {}", token.expose()))
    }

    fn from_text(text: &str) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        let mut value = HeaderValue::from_str(text).ok()?;
        value.set_sensitive(true);
        Some(Self(value))
    }

    /// The header value, to put on the wire.
    pub fn value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl fmt::Debug for HeaderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A client certificate for mutual TLS: the PEM certificate chain (leaf first) and its
/// PEM private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Clone, Debug)]
pub struct ClientIdentity {
    /// The certificate chain, PEM.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM; never printed.
    pub key_pem: SecretBytes,
}

/// Secret bytes (a private key) whose `Debug` prints `***`.
#[derive(Clone)]
pub struct SecretBytes(pub Vec<u8>);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to build an adapter's HTTP client.
#[derive(Clone, Debug)]
pub struct HttpClientConfig {
    /// The longest a whole call may take. Each call may ask for less (its
    /// `ServiceCall::timeout`); this is the ceiling.
    pub timeout: Duration,
    /// The longest the TCP and TLS handshakes may take: kept short so that an agency
    /// that is down is reported as such quickly instead of using the whole timeout.
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept for reuse.
    pub pool_idle_timeout: Duration,
    /// The `User-Agent` sent to the agency.
    pub user_agent: String,
    /// A client certificate, for agencies that require mutual TLS.
    pub identity: Option<ClientIdentity>,
    /// Extra root CAs (PEM bundles) trusted besides the system's, for agencies on a
    /// private PKI.
    pub extra_root_certs_pem: Vec<Vec<u8>>,
}

impl HttpClientConfig {
    /// The defaults, with this call timeout: what an agency without client
    /// certificates needs.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            pool_idle_timeout: Duration::from_secs(90),
            user_agent: concat!("rabt/", env!("CARGO_PKG_VERSION")).to_owned(),
            identity: None,
            extra_root_certs_pem: Vec::new(),
        }
    }
}

/// Why a client could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// A timeout of zero would fail every call.
    #[error("{0} must be greater than zero")]
    ZeroTimeout(&'static str),
    /// The client certificate or its key is not valid PEM.
    #[error("the client identity (certificate and key PEM) is invalid")]
    Identity(#[source] reqwest::Error),
    /// A root CA bundle is not valid PEM.
    #[error("extra root certificate bundle #{index} is invalid")]
    RootCertificate {
        /// Which bundle, counting from 0.
        index: usize,
        /// What the parser said.
        #[source]
        source: reqwest::Error,
    },
    /// A root CA bundle holds no certificate.
    #[error("extra root certificate bundle #{index} holds no certificate")]
    EmptyRootBundle {
        /// Which bundle, counting from 0.
        index: usize,
    },
    /// reqwest refused the configuration (TLS backend setup).
    #[error("the HTTP client could not be built")]
    Build(#[source] reqwest::Error),
}

/// Builds the shared client (rustls, no OpenSSL) from a configuration.
pub fn build_client(config: &HttpClientConfig) -> Result<reqwest::Client, ClientConfigError> {
    if config.timeout.is_zero() {
        return Err(ClientConfigError::ZeroTimeout("timeout"));
    }
    if config.connect_timeout.is_zero() {
        return Err(ClientConfigError::ZeroTimeout("connect timeout"));
    }
    let mut builder = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .pool_idle_timeout(config.pool_idle_timeout)
        .user_agent(config.user_agent.clone())
        // Agencies answer; they do not send us elsewhere. A redirect would carry our
        // credentials to a host we did not choose.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(identity) = &config.identity {
        let mut pem = identity.cert_pem.clone();
        pem.push(b'\n');
        pem.extend_from_slice(&identity.key_pem.0);
        let identity = reqwest::Identity::from_pem(&pem).map_err(ClientConfigError::Identity)?;
        builder = builder.identity(identity);
    }
    let mut roots = Vec::new();
    for (index, bundle) in config.extra_root_certs_pem.iter().enumerate() {
        let certs = reqwest::Certificate::from_pem_bundle(bundle)
            .map_err(|source| ClientConfigError::RootCertificate { index, source })?;
        // reqwest accepts a bundle with no certificate in it; surely a mistake here.
        if certs.is_empty() {
            return Err(ClientConfigError::EmptyRootBundle { index });
        }
        roots.extend(certs);
    }
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots);
    }
    builder.build().map_err(ClientConfigError::Build)
}

/// Classifies a failure to get a response (no status code came back).
///
/// A timeout becomes [`AdapterError::Timeout`] with the call's `timeout`; a refused,
/// reset or otherwise broken connection becomes a retryable
/// [`AdapterError::Unavailable`]. Whatever else reqwest reports (a body it could not
/// read, a TLS failure) is also `Unavailable`: another node may behave.
pub fn classify_send_error(err: reqwest::Error, timeout: Duration) -> AdapterError {
    if err.is_timeout() {
        return AdapterError::Timeout(timeout);
    }
    let reason = if err.is_connect() {
        "could not connect to the agency"
    } else if err.is_body() || err.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "the request to the agency failed"
    };
    AdapterError::Unavailable {
        reason: reason.to_owned(),
        retry_after: None,
        // reqwest's error names the URL; strip it, since some agencies take credentials
        // in the query string.
        source: Some(Box::new(err.without_url())),
    }
}

/// The agency's `Retry-After`, as delta-seconds or as an HTTP-date (RFC 9110 §10.2.3).
/// A date in the past means "now" (zero); an unreadable value is ignored.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An [`AdapterError::Unavailable`] for an answer with a status that means "try again
/// later" (429, 503, or an agency's own rate-limit status), honouring `Retry-After`.
pub fn unavailable(status: StatusCode, headers: &HeaderMap, reason: &str) -> AdapterError {
    AdapterError::Unavailable {
        reason: format!("HTTP {}: {reason}", status.as_u16()),
        retry_after: retry_after(headers),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("s3cr3t-key");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "s3cr3t-key");
        let identity = ClientIdentity {
            cert_pem: b"cert".to_vec(),
            key_pem: SecretBytes(b"PRIVATE KEY".to_vec()),
        };
        assert!(!format!("{identity:?}").contains("PRIVATE"));
    }

    #[test]
    fn header_secrets_are_checked_and_never_print() {
        let key = HeaderSecret::new(&Secret::new("k3y value")).unwrap();
        assert_eq!(key.value(), "k3y value");
        assert!(key.value().is_sensitive());
        assert_eq!(format!("{key:?}"), "***");
        for bad in ["", "line\nbreak", "del\u{7f}"] {
            assert!(HeaderSecret::new(&Secret::new(bad)).is_none(), "{bad:?}");
        }
        let bearer = HeaderSecret::bearer(&Secret::new("t0ken")).unwrap();
        assert_eq!(bearer.value(), "Bearer t0ken");
        assert!(bearer.value().is_sensitive());
        assert!(HeaderSecret::bearer(&Secret::new("")).is_none());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        let future = SystemTime::now() + Duration::from_secs(3600);
        let date = httpdate::fmt_http_date(future);
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(3000) && wait <= Duration::from_secs(3600));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn unavailable_carries_status_and_hint() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        let err = unavailable(StatusCode::TOO_MANY_REQUESTS, &headers, "rate limited");
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
        assert!(err.to_string().contains("429"));
    }

    #[test]
    fn zero_timeouts_and_bad_pem_are_refused() {
        let zero = HttpClientConfig {
            timeout: Duration::ZERO,
            ..HttpClientConfig::default()
        };
        assert!(matches!(
            build_client(&zero),
            Err(ClientConfigError::ZeroTimeout(_))
        ));
        let bad_root = HttpClientConfig {
            extra_root_certs_pem: vec![b"not a certificate".to_vec()],
            ..HttpClientConfig::default()
        };
        assert!(matches!(
            build_client(&bad_root),
            Err(ClientConfigError::RootCertificate { index: 0, .. }
                | ClientConfigError::EmptyRootBundle { index: 0 })
        ));
        let bad_identity = HttpClientConfig {
            identity: Some(ClientIdentity {
                cert_pem: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                    .to_vec(),
                key_pem: SecretBytes(Vec::new()),
            }),
            ..HttpClientConfig::default()
        };
        assert!(matches!(
            build_client(&bad_identity),
            Err(ClientConfigError::Identity(_))
        ));
    }

    #[test]
    fn default_config_builds() {
        assert!(build_client(&HttpClientConfig::default()).is_ok());
    }

    #[tokio::test]
    async fn refused_connection_is_unavailable_and_retryable() {
        // Bind then drop a listener: its port is now (almost surely) closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = build_client(&HttpClientConfig::default()).unwrap();
        let err = client
            .get(format!("http://{addr}/?api_key=secret"))
            .send()
            .await
            .unwrap_err();
        let classified = classify_send_error(err, Duration::from_secs(1));
        assert!(matches!(classified, AdapterError::Unavailable { .. }));
        assert!(classified.is_retryable());
        let chain = format!("{classified:?}");
        assert!(!chain.contains("secret"), "{chain}");
    }
}
