//! The token cache against a small token server over a real socket.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rabt_core::{Outcome, TaskId};
use serde_json::json;
use tokio::sync::Semaphore;

use super::*;
use crate::http::{HttpClientConfig, build_client};

/// What the token server answers.
#[derive(Debug, Clone)]
enum Mode {
    /// A token valid for this many seconds (`None`: no `expires_in`).
    Issue(Option<u64>),
    /// This status with an RFC 6749 error body, and `Retry-After: 4`.
    Fail(u16, &'static str),
    /// A 200 with this body.
    Body(&'static str),
    /// Never answer in time.
    Hang,
    /// Wait for a permit, then fail with 503.
    Gated(Arc<Semaphore>),
}

#[derive(Debug)]
struct Server {
    mode: Mode,
    issued: u64,
    live: HashSet<String>,
    authorizations: Vec<String>,
    forms: Vec<String>,
    request_ids: Vec<String>,
}

type Shared = Arc<Mutex<Server>>;

async fn token(State(server): State<Shared>, headers: HeaderMap, form: String) -> Response {
    let mode = {
        let mut s = server.lock().unwrap();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        s.authorizations.push(header("authorization"));
        s.request_ids.push(header("x-request-id"));
        s.forms.push(form);
        s.mode.clone()
    };
    match mode {
        Mode::Issue(expires_in) => {
            let mut s = server.lock().unwrap();
            s.issued += 1;
            let token = format!("token-{}", s.issued);
            s.live.insert(token.clone());
            let mut body = json!({"access_token": token, "token_type": "Bearer"});
            if let Some(seconds) = expires_in {
                body["expires_in"] = json!(seconds);
            }
            Json(body).into_response()
        }
        Mode::Fail(status, error) => (
            StatusCode::from_u16(status).unwrap(),
            [(header::RETRY_AFTER, "4")],
            Json(json!({"error": error, "error_description": "secret-ish detail"})),
        )
            .into_response(),
        Mode::Body(body) => (StatusCode::OK, body).into_response(),
        Mode::Gated(gate) => {
            let _permit = gate.acquire().await.unwrap();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "4")],
                Json(json!({"error": "temporarily_unavailable"})),
            )
                .into_response()
        }
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
    }
}

/// An API that takes only live tokens.
async fn api(State(server): State<Shared>, headers: HeaderMap) -> Response {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if server.lock().unwrap().live.contains(presented) {
        (StatusCode::OK, presented.to_owned()).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// The token server's task, stopped with the test (a `Hang` call would otherwise keep
/// it alive).
struct Listening(tokio::task::JoinHandle<()>);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Setup {
    cache: Arc<TokenCache>,
    server: Shared,
    api_url: Url,
    _listening: Listening,
}

async fn setup(mode: Mode) -> Setup {
    let server = Arc::new(Mutex::new(Server {
        mode,
        issued: 0,
        live: HashSet::new(),
        authorizations: Vec::new(),
        forms: Vec::new(),
        request_ids: Vec::new(),
    }));
    let router = Router::new()
        .route("/oauth2/token", post(token))
        .route("/api", get(api))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listening = Listening(tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    }));
    let cache = TokenCache::new(
        build_client(&HttpClientConfig::default()).unwrap(),
        credentials(&format!("http://{addr}/oauth2/token")),
    )
    .unwrap();
    Setup {
        cache: Arc::new(cache),
        server,
        api_url: format!("http://{addr}/api").parse().unwrap(),
        _listening: listening,
    }
}

fn credentials(url: &str) -> ClientCredentials {
    ClientCredentials {
        token_url: url.parse().unwrap(),
        client_id: "client:one".to_owned(),
        client_secret: Secret::new("s3cret&=+"),
        scope: Some("IntegrationScope".to_owned()),
    }
}

fn ctx(task: TaskId) -> CallContext<'static> {
    CallContext {
        task,
        timeout: Duration::from_secs(10),
        traceparent: None,
    }
}

#[tokio::test]
async fn a_token_is_fetched_once_and_reused() {
    let s = setup(Mode::Issue(Some(3600))).await;
    let task = TaskId::new();
    let first = s.cache.token(ctx(task)).await.unwrap();
    let second = s.cache.token(ctx(TaskId::new())).await.unwrap();
    assert_eq!(first.expose(), "token-1");
    assert_eq!(second.expose(), "token-1");
    assert_eq!((first.generation(), s.cache.token_requests()), (1, 1));
    assert!(s.cache.has_fresh_token().await);
    let server = s.server.lock().unwrap();
    // RFC 6749 §2.3.1: both halves form-encoded, then HTTP Basic.
    let expected = format!(
        "Basic {}",
        base64_of("client%3Aone:s3cret%26%3D%2B") // client:one / s3cret&=+
    );
    assert_eq!(server.authorizations, [expected]);
    assert_eq!(
        server.forms,
        ["grant_type=client_credentials&scope=IntegrationScope"]
    );
    assert_eq!(server.request_ids, [task.to_string()]);
}

#[tokio::test]
async fn an_expired_token_is_replaced() {
    // One second: a tenth of it is the margin, so the token is due after 0.9 s.
    let s = setup(Mode::Issue(Some(1))).await;
    let first = s.cache.token(ctx(TaskId::new())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.cache.has_fresh_token().await {
        assert!(Instant::now() < deadline, "the token never became due");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = s.cache.token(ctx(TaskId::new())).await.unwrap();
    assert_eq!((first.generation(), second.generation()), (1, 2));
    assert_eq!(s.cache.token_requests(), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let s = setup(Mode::Issue(Some(3600))).await;
    let calls = (0..50).map(|_| {
        let cache = s.cache.clone();
        tokio::spawn(async move { cache.token(ctx(TaskId::new())).await.unwrap() })
    });
    for call in calls {
        assert_eq!(call.await.unwrap().generation(), 1);
    }
    assert_eq!(s.cache.token_requests(), 1);
    assert_eq!(s.server.lock().unwrap().issued, 1);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_for_all_callers() {
    let s = setup(Mode::Issue(Some(3600))).await;
    let url = s.api_url.clone();
    let http = reqwest::Client::new();
    let send = |cache: Arc<TokenCache>| {
        let (url, http) = (url.clone(), http.clone());
        async move {
            let response = cache
                .send(ctx(TaskId::new()), || http.get(url.clone()))
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    assert_eq!(
        send(s.cache.clone()).await,
        (StatusCode::OK, "token-1".to_owned())
    );
    // The server forgets every token: the cached one is still fresh by the clock.
    s.server.lock().unwrap().live.clear();
    let calls: Vec<_> = (0..50)
        .map(|_| tokio::spawn(send(s.cache.clone())))
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), (StatusCode::OK, "token-2".to_owned()));
    }
    assert_eq!(s.cache.token_requests(), 2);
}

#[tokio::test]
async fn a_second_401_is_handed_back() {
    let s = setup(Mode::Issue(Some(3600))).await;
    let http = reqwest::Client::new();
    let url = s.api_url.clone();
    // Tokens are issued but the API takes none of them.
    let response = s
        .cache
        .send(ctx(TaskId::new()), || {
            s.server.lock().unwrap().live.clear();
            http.get(url.clone())
        })
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.cache.token_requests(), 2, "one refresh, not a loop");
}

#[tokio::test]
async fn token_endpoint_errors_are_classified() {
    let refused = |e: &AdapterError| {
        matches!(
            e,
            AdapterError::Refused {
                outcome: Outcome::UpstreamError,
                ..
            }
        )
    };
    for (status, code) in [
        (401, "invalid_client"),
        (400, "invalid_scope"),
        (403, "x"),
        (404, "x"),
    ] {
        let s = setup(Mode::Fail(status, code)).await;
        let err = s.cache.token(ctx(TaskId::new())).await.unwrap_err();
        assert!(refused(&err) && !err.is_retryable(), "{status}: {err:?}");
        assert!(err.to_string().contains(code), "{err}");
        assert!(!err.to_string().contains("secret-ish"), "{err}");
        assert!(!s.cache.has_fresh_token().await);
    }
    for status in [429, 500, 503] {
        let s = setup(Mode::Fail(status, "server_error")).await;
        let err = s.cache.token(ctx(TaskId::new())).await.unwrap_err();
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{status}: {err:?}"
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(4)));
    }
    for body in [
        "{\"access_tok",
        r#"{"access_token": "t", "token_type": "mac"}"#,
        r#"{"access_token": "", "token_type": "Bearer"}"#,
        r#"{"access_token": "a b", "token_type": "bearer"}"#,
    ] {
        let s = setup(Mode::Body(body)).await;
        let err = s.cache.token(ctx(TaskId::new())).await.unwrap_err();
        assert!(matches!(err, AdapterError::Malformed(_)), "{body}: {err:?}");
    }
    let s = setup(Mode::Fail(302, "x")).await;
    let err = s.cache.token(ctx(TaskId::new())).await.unwrap_err();
    assert!(matches!(err, AdapterError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn callers_waiting_for_a_failed_fetch_share_its_error() {
    let gate = Arc::new(Semaphore::new(0));
    let s = setup(Mode::Gated(gate.clone())).await;
    let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (cache, waiting) = (s.cache.clone(), waiting.clone());
            tokio::spawn(async move {
                // The count and the cache's look at its fetches happen in one poll.
                waiting.fetch_add(1, Ordering::SeqCst);
                cache.token(ctx(TaskId::new())).await
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while waiting.load(Ordering::SeqCst) < 50 {
        assert!(Instant::now() < deadline, "the callers never started");
        tokio::task::yield_now().await;
    }
    gate.add_permits(1);
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(4)));
    }
    assert_eq!(s.cache.token_requests(), 1);
}

#[tokio::test]
async fn a_failed_fetch_leaves_the_next_caller_to_try_again() {
    let s = setup(Mode::Fail(503, "temporarily_unavailable")).await;
    assert!(s.cache.token(ctx(TaskId::new())).await.is_err());
    s.server.lock().unwrap().mode = Mode::Issue(None);
    let token = s.cache.token(ctx(TaskId::new())).await.unwrap();
    // Generations count tokens obtained, not attempts.
    assert_eq!((token.generation(), s.cache.token_requests()), (1, 2));
    // Without `expires_in` the token is kept for the unstated lifetime.
    assert!(s.cache.has_fresh_token().await);
}

#[tokio::test]
async fn expires_in_may_be_a_string() {
    let s = setup(Mode::Body(
        r#"{"access_token": "abc", "token_type": "Bearer", "expires_in": "3600"}"#,
    ))
    .await;
    assert_eq!(
        s.cache.token(ctx(TaskId::new())).await.unwrap().expose(),
        "abc"
    );
    assert!(s.cache.has_fresh_token().await);
}

#[tokio::test]
async fn a_hanging_token_endpoint_is_a_timeout() {
    let s = setup(Mode::Hang).await;
    let short = CallContext {
        timeout: Duration::from_millis(300),
        ..ctx(TaskId::new())
    };
    let err = s.cache.token(short).await.unwrap_err();
    assert!(matches!(err, AdapterError::Timeout(t) if t == Duration::from_millis(300)));
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cache = TokenCache::new(
        build_client(&HttpClientConfig::default()).unwrap(),
        credentials(&format!("http://{addr}/oauth2/token")),
    )
    .unwrap();
    let err = cache.token(ctx(TaskId::new())).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!format!("{err:?}").contains("s3cret"));
}

#[test]
fn configuration_is_checked_without_showing_credentials() {
    let http = || reqwest::Client::new();
    let ok = credentials("https://gw.example.sa/oauth2/token");
    assert!(TokenCache::new(http(), ok.clone()).is_ok());
    for url in [
        "ftp://gw.example.sa/token",
        "https://gw.example.sa/token?x=1",
        "https://user:pw@gw.example.sa/token#f",
    ] {
        let err = TokenCache::new(http(), credentials(url)).unwrap_err();
        assert!(matches!(err, OAuth2ConfigError::TokenUrl(_)), "{url}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
    let bad = |f: fn(&mut ClientCredentials)| {
        let mut c = ok.clone();
        f(&mut c);
        TokenCache::new(http(), c).unwrap_err()
    };
    assert!(matches!(
        bad(|c| c.client_id = String::new()),
        OAuth2ConfigError::ClientId
    ));
    assert!(matches!(
        bad(|c| c.client_id = "a\nb".into()),
        OAuth2ConfigError::ClientId
    ));
    assert!(matches!(
        bad(|c| c.client_secret = Secret::new("")),
        OAuth2ConfigError::ClientSecret
    ));
    for scope in ["", "a  b", "a\"b", "é"] {
        let mut c = ok.clone();
        c.scope = Some(scope.to_owned());
        assert!(matches!(
            TokenCache::new(http(), c),
            Err(OAuth2ConfigError::Scope)
        ));
    }
    let cache = TokenCache::new(http(), ok).unwrap();
    let shown = format!("{cache:?}");
    assert!(
        shown.contains("client:one") && !shown.contains("s3cret"),
        "{shown}"
    );
}

#[test]
fn tokens_never_print_and_margins_stay_small() {
    let token = AccessToken {
        value: Secret::new("very-secret-token"),
        generation: 3,
    };
    let shown = format!("{token:?}");
    assert!(
        !shown.contains("very-secret") && shown.contains('3'),
        "{shown}"
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(1)),
        Duration::from_millis(100)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(3600)),
        MAX_REFRESH_MARGIN
    );
    assert_eq!(refresh_margin(Duration::ZERO), Duration::ZERO);
}

/// Standard base64 with padding, enough for the test's own expectations.
fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
