//! The gateway's OAuth2 token endpoint (RFC 6749 §4.4, as API Connect serves it) and
//! the ledger of the tokens it issued.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rabt_sandbox::simulator::InjectedFault;
use serde_json::json;

use super::{Sim, rate_limited};
use crate::SCOPE;
use crate::wire::{TokenError, TokenResponse};

/// The tokens the simulator issued: their lifetime, how many, which are live. Cloning
/// shares. Tests keep one to choose the lifetime (short, to cross an expiry), count the
/// tokens the adapter asked for, or revoke them all.
#[derive(Clone)]
pub struct TokenIssuer {
    ledger: Arc<Mutex<Ledger>>,
}

struct Ledger {
    lifetime: Duration,
    issued: u64,
    /// Token → when it expires.
    live: HashMap<String, Instant>,
}

impl fmt::Debug for TokenIssuer {
    // Never the tokens themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ledger = self.ledger();
        f.debug_struct("TokenIssuer")
            .field("lifetime", &ledger.lifetime)
            .field("issued", &ledger.issued)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer whose tokens live `lifetime` (whole seconds, as `expires_in` says; at
    /// least one).
    pub fn new(lifetime: Duration) -> Self {
        Self {
            ledger: Arc::new(Mutex::new(Ledger {
                lifetime: whole_seconds(lifetime),
                issued: 0,
                live: HashMap::new(),
            })),
        }
    }

    /// How many tokens it has issued.
    pub fn issued(&self) -> u64 {
        self.ledger().issued
    }

    /// How many of them are still live.
    pub fn live(&self) -> usize {
        let now = Instant::now();
        self.ledger().live.values().filter(|&&e| now < e).count()
    }

    /// The lifetime of the tokens issued from now on.
    pub fn set_lifetime(&self, lifetime: Duration) {
        self.ledger().lifetime = whole_seconds(lifetime);
    }

    /// Forgets every token: the next API call with one is refused with a 401.
    pub fn revoke_all(&self) {
        self.ledger().live.clear();
    }

    /// Whether `token` is live.
    pub fn accepts(&self, token: &str) -> bool {
        self.ledger()
            .live
            .get(token)
            .is_some_and(|&expires| Instant::now() < expires)
    }

    /// Issues a token: its value and lifetime.
    pub(super) fn issue(&self) -> (String, Duration) {
        let token = format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        let now = Instant::now();
        let mut ledger = self.ledger();
        // Expired tokens are dropped as new ones come, so the ledger stays small.
        ledger.live.retain(|_, expires| now < *expires);
        let lifetime = ledger.lifetime;
        ledger.live.insert(token.clone(), now + lifetime);
        ledger.issued += 1;
        (token, lifetime)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // The ledger is replaced field by field; a panic mid-update loses one token.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn whole_seconds(lifetime: Duration) -> Duration {
    Duration::from_secs(lifetime.as_secs().max(1))
}

/// `POST /oauth2/token`.
pub(super) async fn token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = sim.knobs.intercept(&headers).await {
        return token_fault(fault);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials",
            );
        }
        None => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
    }
    let Some((id, secret)) = basic_credentials(&headers).or_else(|| form_credentials(&form)) else {
        return unauthorized("client authentication is required");
    };
    if id != sim.client_id || secret != sim.client_secret.expose() {
        return unauthorized("client authentication failed");
    }
    let scope = form.get("scope").map_or(SCOPE, String::as_str);
    if scope.split(' ').any(|s| s != SCOPE) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the client may ask for IntegrationScope only",
        );
    }
    let (access_token, lifetime) = sim.tokens.issue();
    let body = TokenResponse {
        token_type: "Bearer".to_owned(),
        access_token,
        expires_in: lifetime.as_secs(),
        consented_on: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        scope: SCOPE.to_owned(),
    };
    // RFC 6749 §5.1: token responses must not be cached.
    let no_store = [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ];
    (StatusCode::OK, no_store, Json(body)).into_response()
}

/// `client_id:client_secret` from HTTP Basic, each form-decoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("v={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `client_id` and `client_secret` as form fields, which RFC 6749 also allows.
fn form_credentials(form: &HashMap<String, String>) -> Option<(String, String)> {
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let body = TokenError {
        error: error.to_owned(),
        error_description: description.to_owned(),
    };
    (status, Json(body)).into_response()
}

fn unauthorized(description: &str) -> Response {
    let mut response = refuse(StatusCode::UNAUTHORIZED, "invalid_client", description);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"gw-apic\""),
    );
    response
}

/// The injected faults as the token endpoint renders them.
fn token_fault(fault: InjectedFault) -> Response {
    fault.render(
        || {
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the authorization server failed",
            )
        },
        rate_limited,
    )
}

/// `GET /_sim/tokens`.
pub(super) async fn stats(State(sim): State<Arc<Sim>>) -> Json<serde_json::Value> {
    let lifetime = sim.tokens.ledger().lifetime.as_secs();
    Json(json!({
        "issued": sim.tokens.issued(),
        "live": sim.tokens.live(),
        "lifetime_s": lifetime,
    }))
}

/// `DELETE /_sim/tokens`.
pub(super) async fn revoke(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.tokens.revoke_all();
    StatusCode::NO_CONTENT
}
