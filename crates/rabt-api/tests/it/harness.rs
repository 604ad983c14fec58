//! One API with two onboarded cooperatives, and helpers to call it.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use rabt_api::auth::{API_KEY_PREFIX, generate_secret, hash_secret};
use rabt_api::{ApiSettings, AppState};
use rabt_catalogue::Catalogue;
use rabt_core::{CooperativeId, RequestId, ServiceName, UnifiedNumber};
use rabt_queue::{Settings, Transport};
use rabt_store::{NewCooperative, RequestRecord, Store};
use serde_json::Value;
use tokio::sync::Notify;
use tower::ServiceExt;

pub(crate) struct Harness {
    pub(crate) state: AppState,
    pub(crate) store: Store,
    pub(crate) transport: Transport,
    /// Cooperative A: post.address.verify and interior.identity.verify.
    pub(crate) key: String,
    pub(crate) cooperative: CooperativeId,
    /// Cooperative B: post.address.verify only.
    pub(crate) other_key: String,
    /// A PostgreSQL database of the test's own, dropped with the harness.
    _database: Option<rabt_test_support::TempAnyDatabase>,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Harness {
    pub(crate) async fn new() -> Harness {
        Harness::with(&["post.address.verify"], ApiSettings::default()).await
    }

    /// A harness where `callable` services have adapters, with these settings.
    pub(crate) async fn with(callable: &[&str], settings: ApiSettings) -> Harness {
        let store = Store::connect("sqlite::memory:", 1).await.unwrap();
        Harness::on(store, None, callable, settings).await
    }

    /// [`Harness::new`] on a PostgreSQL database of its own (`RABT_TEST_DATABASE_URL`):
    /// for what only PostgreSQL refuses (a NUL character in a text column).
    pub(crate) async fn on_postgres() -> Harness {
        let database = rabt_test_support::TempAnyDatabase::create(
            rabt_test_support::Backend::Postgres,
            "rabt_api_test_",
        )
        .await
        .unwrap();
        let store = Store::connect(database.url(), 4).await.unwrap();
        Harness::on(
            store,
            Some(database),
            &["post.address.verify"],
            ApiSettings::default(),
        )
        .await
    }

    async fn on(
        store: Store,
        database: Option<rabt_test_support::TempAnyDatabase>,
        callable: &[&str],
        settings: ApiSettings,
    ) -> Harness {
        store.migrate().await.unwrap();
        let transport = Transport::embedded(Settings::default());
        let catalogue = Arc::new(Catalogue::bundled().unwrap());
        let (cooperative, key) = onboard(
            &store,
            "7000000001",
            &["post.address.verify", "interior.identity.verify"],
        )
        .await;
        let (_, other_key) = onboard(&store, "7000000002", &["post.address.verify"]).await;
        let callable: BTreeSet<ServiceName> = callable
            .iter()
            .map(|s| ServiceName::parse(s).unwrap())
            .collect();
        let state = AppState::new(
            store.clone(),
            catalogue,
            callable,
            transport.clone(),
            Arc::new(Notify::new()),
            settings,
        );
        Harness {
            state,
            store,
            transport,
            key,
            cooperative,
            other_key,
            _database: database,
        }
    }

    /// Onboards another cooperative with these services; its id and key.
    pub(crate) async fn onboard(
        &self,
        unified: &str,
        services: &[&str],
    ) -> (CooperativeId, String) {
        onboard(&self.store, unified, services).await
    }

    /// `POST /v1/requests` with this key.
    pub(crate) async fn post_as(&self, key: &str, idempotency_key: &str, body: &Value) -> Reply {
        self.send(
            Method::POST,
            "/v1/requests",
            &[
                ("authorization", &format!("Bearer {key}")),
                ("idempotency-key", idempotency_key),
                ("content-type", "application/json"),
            ],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// The public router (`api.listen`).
    pub(crate) fn app(&self) -> Router {
        rabt_api::app(self.state.clone())
    }

    /// The operators' router (`api.ops_listen`).
    pub(crate) fn ops_app(&self) -> Router {
        rabt_api::ops_app(self.state.clone())
    }

    /// The router that serves `uri`: operators' paths are on their own listener.
    fn app_for(&self, uri: &str) -> Router {
        if uri.starts_with("/ops/") || uri.starts_with("/metrics") || uri.starts_with("/console") {
            self.ops_app()
        } else {
            self.app()
        }
    }

    /// Sends a request; `body` is sent as given, with `headers`.
    pub(crate) async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .app_for(uri)
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        // Every answer a test gets must keep the contract (RFC 9457, openapi.json).
        crate::contract::check(&method, uri, status, &headers, &body);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends a request and reads the answer as text (for `text/plain` answers).
    pub(crate) async fn send_text(
        &self,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = Request::builder().method(Method::GET).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .app()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// `POST /v1/requests` as cooperative A with an idempotency key.
    pub(crate) async fn post(&self, idempotency_key: &str, body: &Value) -> Reply {
        self.post_with(idempotency_key, &[], body.to_string()).await
    }

    /// `POST /v1/requests` as cooperative A with an idempotency key, `extra` headers
    /// (`prefer`, `accept-language`…) and the body as given, valid JSON or not.
    pub(crate) async fn post_with(
        &self,
        idempotency_key: &str,
        extra: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Reply {
        let bearer = format!("Bearer {}", self.key);
        let mut headers = vec![
            ("authorization", bearer.as_str()),
            ("idempotency-key", idempotency_key),
            ("content-type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        self.send(Method::POST, "/v1/requests", &headers, body.into())
            .await
    }

    /// Cooperative A's request `id` as the store holds it, with its tasks.
    pub(crate) async fn stored(&self, id: RequestId) -> RequestRecord {
        self.store
            .get_request(self.cooperative, id)
            .await
            .unwrap()
            .unwrap()
    }

    /// `GET` as cooperative A.
    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.get_as(&self.key.clone(), uri).await
    }

    /// `GET` with a given key.
    pub(crate) async fn get_as(&self, key: &str, uri: &str) -> Reply {
        self.send(
            Method::GET,
            uri,
            &[("authorization", &format!("Bearer {key}"))],
            Vec::new(),
        )
        .await
    }

    /// An operator with `role`; their token (only its digest is stored).
    pub(crate) async fn operator(&self, name: &str, role: rabt_store::OperatorRole) -> String {
        let token = generate_secret(rabt_api::auth::OPERATOR_TOKEN_PREFIX);
        self.store
            .create_operator(name, role, &hash_secret(&token))
            .await
            .unwrap();
        token
    }

    /// Sends to the operators' API as the operator of `token`, with a JSON body when
    /// given.
    pub(crate) async fn ops(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![("authorization", bearer.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(method, uri, &headers, body).await
    }

    /// `GET` from the operators' API as the operator of `token`.
    pub(crate) async fn ops_get(&self, uri: &str, token: &str) -> Reply {
        self.ops(Method::GET, uri, token, None).await
    }

    /// `POST` to the operators' API as the operator of `token`, with a JSON body.
    pub(crate) async fn ops_post(&self, uri: &str, token: &str, body: Value) -> Reply {
        self.ops(Method::POST, uri, token, Some(body)).await
    }

    /// How many requests cooperative A has.
    pub(crate) async fn stored_requests(&self) -> usize {
        let reply = self.get("/v1/requests?limit=100").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["items"].as_array().unwrap().len()
    }

    /// How many audit entries exist in all.
    pub(crate) async fn audit_entries(&self) -> usize {
        self.store
            .audit_log(&rabt_store::AuditQuery {
                request: None,
                task: None,
                action: None,
                after_seq: None,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    }
}

async fn onboard(store: &Store, unified: &str, services: &[&str]) -> (CooperativeId, String) {
    let id = CooperativeId::new();
    store
        .create_cooperative(&NewCooperative {
            id,
            name: format!("Cooperative {unified}"),
            unified_number: UnifiedNumber::parse(unified).unwrap(),
            services: services
                .iter()
                .map(|s| ServiceName::parse(s).unwrap())
                .collect(),
        })
        .await
        .unwrap();
    let key = generate_secret(API_KEY_PREFIX);
    store
        .add_api_key(id, &hash_secret(&key), "test")
        .await
        .unwrap();
    (id, key)
}

/// The item of `agency` in a list of agencies (`{"agency": "saudi-post", …}`).
pub(crate) fn agency_item(items: &Value, agency: &str) -> Value {
    items
        .as_array()
        .unwrap_or_else(|| panic!("a list of agencies: {items}"))
        .iter()
        .find(|a| a["agency"] == agency)
        .unwrap_or_else(|| panic!("no {agency} in {items}"))
        .clone()
}

/// The problem type slug of a reply.
pub(crate) fn problem_type(reply: &Reply) -> &str {
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{}",
        reply.body
    );
    reply.body["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:rabt:problem:")
}

/// The JSON Pointers of a problem's errors.
pub(crate) fn pointers(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["pointer"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
