//! The OAuth2 token against the simulator's token endpoint: cached across calls, one
//! token request for fifty tasks that find it expired or revoked at once, and a client
//! the token endpoint does not know refused for good.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use rabt_adapter::http::Secret;
use rabt_adapter::{Adapter, AdapterError, Answer, ServiceCall};
use rabt_adapter_labor::simulator::{TokenIssuer, router_with_tokens};
use rabt_adapter_labor::{ESTABLISHMENT_COMPLIANCE, LaborAdapter, LaborConfig};
use rabt_core::{Outcome, ServiceName, TaskId};
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle, spawn};
use rabt_sandbox::world::{World, golden};
use serde_json::json;

const CLIENT_ID: &str = "token-client";
const SECRET: &str = "token-secret";

async fn start(tokens: &TokenIssuer, client_id: &str) -> (Arc<LaborAdapter>, ShutdownHandle) {
    let router = router_with_tokens(
        Arc::new(World::standard()),
        CLIENT_ID,
        Secret::new(SECRET),
        KnobsHandle::new(),
        tokens.clone(),
    );
    let (addr, server) = spawn(router).await.unwrap();
    let adapter = LaborAdapter::new(LaborConfig {
        base_url: format!("http://{addr}").parse().unwrap(),
        client_id: client_id.to_owned(),
        client_secret: Secret::new(SECRET),
        timeout: Duration::from_secs(60),
    })
    .unwrap();
    (Arc::new(adapter), server)
}

async fn check(adapter: &LaborAdapter) -> Result<Answer, AdapterError> {
    let service = ServiceName::parse(ESTABLISHMENT_COMPLIANCE).unwrap();
    let input = json!({"unifiedNumber": golden::COOP_COMPLIANT});
    adapter
        .call(ServiceCall {
            task: TaskId::new(),
            service: &service,
            input: &input,
            attempt: 1,
            timeout: Duration::from_secs(60),
            traceparent: None,
        })
        .await
}

/// Fifty checks at once, every one `OK`.
async fn fifty_at_once(adapter: &Arc<LaborAdapter>) {
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let adapter = adapter.clone();
            tokio::spawn(async move { check(&adapter).await })
        })
        .collect();
    for call in calls {
        match call.await.unwrap().unwrap() {
            Answer::Final { outcome, .. } => assert_eq!(outcome, Outcome::Ok),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn one_token_serves_many_calls() {
    let tokens = TokenIssuer::new(Duration::from_secs(3600));
    let (adapter, _server) = start(&tokens, CLIENT_ID).await;
    for _ in 0..5 {
        check(&adapter).await.unwrap();
    }
    fifty_at_once(&adapter).await;
    assert_eq!((tokens.issued(), adapter.token_requests()), (1, 1));
}

#[tokio::test]
async fn fifty_calls_with_an_expired_token_cause_one_token_request() {
    // The first token lives one second; the next ones an hour, so that the fifty calls
    // cannot outlive theirs however slow the machine.
    let tokens = TokenIssuer::new(Duration::from_secs(1));
    let (adapter, _server) = start(&tokens, CLIENT_ID).await;
    check(&adapter).await.unwrap();
    tokens.set_lifetime(Duration::from_secs(3600));
    // Once the gateway holds it expired, so does the adapter, which counts the token's
    // lifetime from before it asked.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokens.live() > 0 {
        assert!(Instant::now() < deadline, "the first token never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fifty_at_once(&adapter).await;
    assert_eq!((tokens.issued(), adapter.token_requests()), (2, 2));
}

#[tokio::test]
async fn fifty_calls_refused_with_a_revoked_token_cause_one_token_request() {
    let tokens = TokenIssuer::new(Duration::from_secs(3600));
    let (adapter, _server) = start(&tokens, CLIENT_ID).await;
    check(&adapter).await.unwrap();
    // Still fresh by the adapter's clock: each call learns of it from a 401.
    tokens.revoke_all();
    fifty_at_once(&adapter).await;
    assert_eq!((tokens.issued(), adapter.token_requests()), (2, 2));
}

#[tokio::test]
async fn an_unknown_client_is_refused_at_the_token_endpoint() {
    let tokens = TokenIssuer::new(Duration::from_secs(3600));
    let (adapter, _server) = start(&tokens, "another-client").await;
    let err = check(&adapter).await.unwrap_err();
    assert_eq!(
        (err.final_outcome(), err.is_retryable()),
        (Outcome::UpstreamError, false)
    );
    assert_eq!(
        tokens.issued(),
        0,
        "the token endpoint refused the unknown client"
    );

    let (adapter, _server) = start(&tokens, CLIENT_ID).await;
    check(&adapter).await.unwrap();
    assert_eq!(tokens.issued(), 1);
}
