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
//!   token request, and the other forty-nine wait for its result, success or failure
//!   (a refused client or a failing endpoint is asked once, not fifty times in a row).
//!   A fetch that times out or is cancelled with its task is not shared: the next
//!   waiter fetches for itself.
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
//!
//! Layout: this file, the cache; `grant`, the token request and the reading of the
//! endpoint's answer.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, Response, StatusCode, Url};
use tokio::sync::RwLock;

use crate::AdapterError;
use crate::http::{BaseUrl, Secret};

/// What one call shares with the token requests it causes: the context of every
/// exchange, re-exported where the token cache's callers have always found it.
pub use crate::http::CallContext;

mod grant;

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
    /// The last fetch, if it failed, for the callers that were waiting for it.
    failure: Option<Failure>,
}

/// A failed fetch: which one (counting finished fetches) and its error.
#[derive(Debug)]
struct Failure {
    fetch: u64,
    error: AdapterError,
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

    /// The error of a fetch that failed after the caller came (`seen` fetches had
    /// finished then): the caller waited for that fetch, and shares its result.
    fn failed_since(&self, seen: u64, timeout: Duration) -> Option<AdapterError> {
        self.failure
            .as_ref()
            .filter(|f| f.fetch > seen)
            .map(|f| duplicate(&f.error, timeout))
    }
}

/// A copy of a shared error (sources are not `Clone`, and are dropped).
fn duplicate(err: &AdapterError, timeout: Duration) -> AdapterError {
    match err {
        AdapterError::Unavailable {
            reason,
            retry_after,
            ..
        } => AdapterError::Unavailable {
            reason: reason.clone(),
            retry_after: *retry_after,
            source: None,
        },
        AdapterError::Timeout(_) => AdapterError::Timeout(timeout),
        AdapterError::Malformed(reason) => AdapterError::Malformed(reason.clone()),
        AdapterError::Refused { outcome, reason } => AdapterError::Refused {
            outcome: *outcome,
            reason: reason.clone(),
        },
        AdapterError::UnsupportedService(service) => {
            AdapterError::UnsupportedService(service.clone())
        }
        AdapterError::BadCallback(reason) => AdapterError::BadCallback(reason.clone()),
    }
}

/// The access token of one client, shared by every task of an adapter.
pub struct TokenCache {
    http: reqwest::Client,
    credentials: ClientCredentials,
    state: RwLock<State>,
    requests: AtomicU64,
    /// Fetches finished (succeeded or failed); read without the lock by callers about
    /// to wait for it.
    finished: AtomicU64,
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
        BaseUrl::new(credentials.token_url.clone())
            .map_err(|bad| OAuth2ConfigError::TokenUrl(bad.into_shown()))?;
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
            finished: AtomicU64::new(0),
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
        let seen = self.finished.load(Ordering::Acquire);
        if let Some(token) = self.state.read().await.fresh() {
            return Ok(token);
        }
        let mut state = self.state.write().await;
        // Whoever held the lock before us may have fetched one already, or failed to.
        if let Some(token) = state.fresh() {
            return Ok(token);
        }
        if let Some(err) = state.failed_since(seen, ctx.timeout) {
            return Err(err);
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
        let seen = self.finished.load(Ordering::Acquire);
        let mut state = self.state.write().await;
        if let Some(token) = state.fresh()
            && token.generation != stale.generation
        {
            return Ok(token);
        }
        if let Some(err) = state.failed_since(seen, ctx.timeout) {
            return Err(err);
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
        crate::http::execute(build().bearer_auth(token.expose()), ctx).await
    }

    /// Fetches a token and caches it. On failure the token is left as it was, and the
    /// error kept for the callers already waiting (a timeout excepted: it says more
    /// about the caller's time left than about the endpoint).
    async fn fetch_into(
        &self,
        state: &mut State,
        ctx: CallContext<'_>,
    ) -> Result<AccessToken, AdapterError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        // Counted from before the request: the server's clock starts later, so the
        // cache gives the token up first.
        let requested_at = Instant::now();
        let result = grant::request_token(&self.http, &self.credentials, ctx).await;
        // A cancelled fetch never comes here: it is neither counted nor shared.
        let fetch = self.finished.fetch_add(1, Ordering::AcqRel) + 1;
        let grant = match result {
            Ok(grant) => grant,
            Err(error) => {
                state.failure = (!matches!(error, AdapterError::Timeout(_))).then(|| Failure {
                    fetch,
                    error: duplicate(&error, ctx.timeout),
                });
                return Err(error);
            }
        };
        state.failure = None;
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

#[cfg(test)]
#[path = "oauth2/tests.rs"]
mod tests;
