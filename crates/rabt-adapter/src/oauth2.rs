//! OAuth2 client credentials (RFC 6749 §4.4) for agencies whose APIs take a bearer token:
//! one [`TokenCache`] per adapter holds the current access token, fetches a new one
//! shortly before it expires, and makes concurrent tasks share every fetch.
//!
//! - **Caching.** A token is reused until [`refresh margin`](refresh_margin) before its
//!   `expires_in` runs out, counted from the moment the token was *requested*, so the
//!   cache always gives a token up before the server does.
//! - **Single flight.** The cache sits behind a `tokio` `RwLock`. Callers read a fresh
//!   token under the read lock; a caller that finds none takes the write lock and checks
//!   again before fetching, so fifty tasks that find the token expired at once cause one
//!   token request, and the other forty-nine wait for its result. A fetch that is
//!   cancelled (its task timed out) releases the lock with the cache unchanged, and the
//!   next waiter fetches.
//! - **Refresh on 401, once.** A token can die before its time (revoked, or the server
//!   restarted). [`TokenCache::send`] answers an API's 401 by refreshing the token and
//!   sending the request again, once. Tokens carry a generation number: a refresh for a
//!   token that was already replaced returns its replacement instead of fetching again,
//!   so fifty tasks refused with the same dead token also cause a single fetch.
//! - **Errors.** The token endpoint's refusal of our client (400, 401, 403: RFC 6749
//!   `invalid_client`, `invalid_scope`, …) is a non-retryable
//!   `Refused(UPSTREAM_ERROR)`: the configuration is wrong. 429 and 5xx are `Unavailable`
//!   with `Retry-After`; an unreadable answer is `Malformed`; transport failures and
//!   timeouts as [`crate::http::classify_send_error`] says.
//! - **Secrets.** The client secret is a [`Secret`] and the access token is printed as
//!   `***`; both travel only in `Authorization` headers marked sensitive. Error reasons
//!   quote the endpoint's RFC 6749 `error` code, never a body.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rabt_core::{Outcome, TaskId};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::AdapterError;
use crate::http::{REQUEST_ID, Secret, TRACEPARENT, classify_send_error, unavailable};

/// The most a token is given up before its `expires_in` runs out.
pub const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// How long a token whose answer states no `expires_in` is kept. RFC 6749 leaves the
/// lifetime to the server's documentation then; a 401 replaces it earlier if need be.
pub const UNSTATED_LIFETIME: Duration = Duration::from_secs(300);

/// The longest a token is kept whatever it states, so that an absurd `expires_in`
/// cannot overflow the clock arithmetic.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long before its stated expiry a token of this lifetime is replaced: a tenth of
/// the lifetime, at most [`MAX_REFRESH_MARGIN`].
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_REFRESH_MARGIN)
}

/// The client and where it asks for tokens.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The token endpoint, e.g. `https://gw-apic.qiwa.info/takamol/oauth2/token`.
    pub token_url: Url,
    /// The client id the agency issued.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// The `scope` to ask for (space-separated), if the agency wants one.
    pub scope: Option<String>,
}

/// Why a [`TokenCache`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum OAuth2ConfigError {
    /// The token URL is not http(s), or carries a query or fragment.
    #[error("the OAuth2 token URL must be http(s) without query or fragment, got `{0}`")]
    TokenUrl(String),
    /// The client id is empty or holds control characters.
    #[error("the OAuth2 client id must be non-empty text without control characters")]
    ClientId,
    /// The client secret is empty.
    #[error("the OAuth2 client secret must not be empty")]
    ClientSecret,
    /// The scope is not a space-separated list of RFC 6749 scope tokens.
    #[error(
        "the OAuth2 scope must be space-separated printable ASCII without quotes or backslashes"
    )]
    Scope,
}

/// What one call shares with the token requests it causes.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// Sent as `X-Request-Id`, on the token request too.
    pub task: TaskId,
    /// The longest one HTTP exchange may take.
    pub timeout: Duration,
    /// Forwarded as `traceparent`.
    pub traceparent: Option<&'a str>,
}

/// An access token. `Debug` prints its generation, never its value.
#[derive(Clone)]
pub struct AccessToken {
    value: Secret,
    generation: u64,
}

impl AccessToken {
    /// The token itself, for the `Authorization` header and nowhere else.
    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// Counts the tokens this cache has fetched: 1 for the first.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("generation", &self.generation)
            .field("value", &"***")
            .finish()
    }
}

#[derive(Debug, Default)]
struct State {
    current: Option<Cached>,
    generation: u64,
}

#[derive(Debug)]
struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

impl State {
    /// The current token, if it is still fresh.
    fn fresh(&self) -> Option<AccessToken> {
        self.current
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }
}

/// The access token of one client, shared by every task of an adapter.
pub struct TokenCache {
    http: reqwest::Client,
    credentials: ClientCredentials,
    state: RwLock<State>,
    requests: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("token_url", &self.credentials.token_url.as_str())
            .field("client_id", &self.credentials.client_id)
            .field("token_requests", &self.token_requests())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// Checks the credentials; `http` is the adapter's shared client
    /// ([`crate::http::build_client`]).
    pub fn new(
        http: reqwest::Client,
        credentials: ClientCredentials,
    ) -> Result<Self, OAuth2ConfigError> {
        let url = &credentials.token_url;
        if !matches!(url.scheme(), "http" | "https")
            || url.cannot_be_a_base()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            // Scheme, host and path only: user info could be a credential.
            let host = url.host_str().unwrap_or("");
            return Err(OAuth2ConfigError::TokenUrl(format!(
                "{}://{host}{}",
                url.scheme(),
                url.path()
            )));
        }
        let id = &credentials.client_id;
        if id.is_empty() || id.chars().any(char::is_control) {
            return Err(OAuth2ConfigError::ClientId);
        }
        if credentials.client_secret.expose().is_empty() {
            return Err(OAuth2ConfigError::ClientSecret);
        }
        if let Some(scope) = &credentials.scope
            && !valid_scope(scope)
        {
            return Err(OAuth2ConfigError::Scope);
        }
        Ok(Self {
            http,
            credentials,
            state: RwLock::new(State::default()),
            requests: AtomicU64::new(0),
        })
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.credentials.token_url
    }

    /// How many token requests this cache has sent (answered or not).
    pub fn token_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Whether a token is cached and not yet due for replacement.
    pub async fn has_fresh_token(&self) -> bool {
        self.state.read().await.fresh().is_some()
    }

    /// A fresh token: the cached one, or one fetched now (once for all concurrent
    /// callers).
    pub async fn token(&self, ctx: CallContext<'_>) -> Result<AccessToken, AdapterError> {
        if let Some(token) = self.state.read().await.fresh() {
            return Ok(token);
        }
        let mut state = self.state.write().await;
        // Whoever held the lock before us may have fetched one already.
        if let Some(token) = state.fresh() {
            return Ok(token);
        }
        self.fetch_into(&mut state, ctx).await
    }

    /// A token to replace `stale`, which the API refused: the replacement another task
    /// already fetched, or a new one.
    pub async fn refresh(
        &self,
        stale: &AccessToken,
        ctx: CallContext<'_>,
    ) -> Result<AccessToken, AdapterError> {
        let mut state = self.state.write().await;
        if let Some(token) = state.fresh()
            && token.generation != stale.generation
        {
            return Ok(token);
        }
        self.fetch_into(&mut state, ctx).await
    }

    /// Sends the request `build` makes with a bearer token, `X-Request-Id`,
    /// `traceparent` and the call's timeout. If the API answers 401, refreshes the token
    /// and sends it once more; whatever comes back then is the caller's to classify (a
    /// second 401 means the client is not allowed this API).
    pub async fn send(
        &self,
        ctx: CallContext<'_>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, AdapterError> {
        let token = self.token(ctx).await?;
        let response = self.send_with(&token, ctx, &build).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        tracing::debug!(
            generation = token.generation,
            "the API refused the access token; refreshing it once"
        );
        let token = self.refresh(&token, ctx).await?;
        self.send_with(&token, ctx, &build).await
    }

    async fn send_with(
        &self,
        token: &AccessToken,
        ctx: CallContext<'_>,
        build: &impl Fn() -> RequestBuilder,
    ) -> Result<Response, AdapterError> {
        // `bearer_auth` marks the header sensitive, out of reqwest's and hyper's Debug.
        let request = with_context(build().bearer_auth(token.expose()), ctx);
        request
            .send()
            .await
            .map_err(|e| classify_send_error(e, ctx.timeout))
    }

    /// Fetches a token and caches it; on failure the cache is left as it was.
    async fn fetch_into(
        &self,
        state: &mut State,
        ctx: CallContext<'_>,
    ) -> Result<AccessToken, AdapterError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        // Counted from before the request: the server's clock starts later, so the
        // cache gives the token up first.
        let requested_at = Instant::now();
        let grant = self.request_token(ctx).await?;
        let lifetime = grant
            .expires_in
            .map_or(UNSTATED_LIFETIME, |s| Duration::from_secs(s.seconds()))
            .min(MAX_LIFETIME);
        state.generation += 1;
        let token = AccessToken {
            value: Secret::new(grant.access_token),
            generation: state.generation,
        };
        state.current = Some(Cached {
            token: token.clone(),
            refresh_at: requested_at + (lifetime - refresh_margin(lifetime)),
        });
        tracing::debug!(
            generation = token.generation,
            lifetime_s = lifetime.as_secs(),
            "fetched an access token"
        );
        Ok(token)
    }

    async fn request_token(&self, ctx: CallContext<'_>) -> Result<Grant, AdapterError> {
        // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined for
        // HTTP Basic.
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
        let id: String = encode(&self.credentials.client_id);
        let secret: String = encode(self.credentials.client_secret.expose());
        let request = self
            .http
            .post(self.credentials.token_url.clone())
            .basic_auth(id, Some(secret))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(grant_form(self.credentials.scope.as_deref()));
        let response = with_context(request, ctx)
            .send()
            .await
            .map_err(|e| classify_send_error(e, ctx.timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| classify_send_error(e, ctx.timeout))?;
        check_token_status(status, &headers, &body)?;
        Grant::parse(&body)
    }
}

/// The form of a client-credentials grant (RFC 6749 §4.4.2).
fn grant_form(scope: Option<&str>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    form.finish()
}

/// Adds what every call to an agency carries.
fn with_context(request: RequestBuilder, ctx: CallContext<'_>) -> RequestBuilder {
    let request = request
        .header(REQUEST_ID, ctx.task.to_string())
        .timeout(ctx.timeout);
    match ctx.traceparent {
        Some(traceparent) => request.header(TRACEPARENT, traceparent),
        None => request,
    }
}

/// RFC 6749 §3.3: scope tokens are printable ASCII except `"` and `\`.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.split(' ').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        })
}

/// Maps the token endpoint's status: 2xx goes on; 400, 401 and 403 refuse our client
/// (RFC 6749 §5.2); 404 means the URL is wrong; 429 and 5xx are "later".
pub(crate) fn check_token_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AdapterError> {
    let refused = |why: &str| AdapterError::Refused {
        outcome: Outcome::UpstreamError,
        reason: format!("{why} ({})", oauth_error_code(body)),
    };
    match status.as_u16() {
        200..=299 => Ok(()),
        400 | 401 | 403 => Err(refused("the token endpoint refused our client credentials")),
        404 => Err(refused("there is no token endpoint at the configured URL")),
        429 => Err(unavailable(status, headers, "token endpoint rate limit")),
        500..=599 => Err(unavailable(status, headers, "the token endpoint failed")),
        0..=199 | 300..=399 | 402 | 405..=428 | 430..=499 | 600.. => Err(AdapterError::Malformed(
            format!("the token endpoint answered HTTP {}", status.as_u16()),
        )),
    }
}

/// The RFC 6749 `error` code of an error body, cut short; never the body itself.
fn oauth_error_code(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    serde_json::from_slice::<ErrorBody>(body)
        .map(|e| e.error.chars().take(40).collect())
        .unwrap_or_else(|_| "no RFC 6749 error code".to_owned())
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Deserialize)]
struct Grant {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<Seconds>,
}

/// `expires_in` as a number, as RFC 6749 says, or as a string, as some servers send it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

impl Seconds {
    fn seconds(&self) -> u64 {
        match self {
            Seconds::Number(n) => *n,
            // Unreadable text is treated as unstated, by `Grant::parse`'s check.
            Seconds::Text(t) => t.trim().parse().unwrap_or(0),
        }
    }
}

impl Grant {
    fn parse(body: &[u8]) -> Result<Grant, AdapterError> {
        let mut grant: Grant = serde_json::from_slice(body).map_err(|e| {
            // serde's message names a field or a position, never the token.
            AdapterError::Malformed(format!("the token endpoint answered unreadable JSON: {e}"))
        })?;
        if !grant.token_type.eq_ignore_ascii_case("bearer") {
            let shown: String = grant.token_type.chars().take(20).collect();
            return Err(AdapterError::Malformed(format!(
                "the token endpoint issued a `{shown}` token, not a Bearer token"
            )));
        }
        let token = grant.access_token.as_bytes();
        if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(AdapterError::Malformed(
                "the token endpoint issued an empty or unprintable access token".to_owned(),
            ));
        }
        if let Some(Seconds::Text(text)) = &grant.expires_in
            && text.trim().parse::<u64>().is_err()
        {
            grant.expires_in = None;
        }
        Ok(grant)
    }
}

#[cfg(test)]
#[path = "oauth2/tests.rs"]
mod tests;
