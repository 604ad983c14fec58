use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use tower::ServiceExt;

use super::*;

/// A toy agency: one endpoint that applies the knobs and answers `ok`.
fn toy(handle: KnobsHandle) -> Router {
    let agency = Router::new()
        .route(
            "/ping",
            get(
                |State(knobs): State<KnobsHandle>, headers: HeaderMap| async move {
                    match knobs.intercept(&headers).await {
                        Some(fault) => fault.default_response(),
                        None => "ok".into_response(),
                    }
                },
            ),
        )
        .with_state(handle.clone());
    agency.merge(knobs_routes(handle))
}

fn ping(request_id: Option<&str>) -> Request<Body> {
    let mut builder = Request::get("/ping");
    if let Some(id) = request_id {
        builder = builder.header("x-request-id", id);
    }
    builder.body(Body::empty()).unwrap()
}

async fn body_json(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn knobs_round_trip_over_http() {
    let handle = KnobsHandle::new();
    let app = toy(handle.clone());
    let put = Request::put("/_sim/knobs")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"latency_ms": 25, "fault": {"kind": "rate_limit", "retry_after": 4}}"#,
        ))
        .unwrap();
    let response = app.clone().oneshot(put).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let expected = Knobs {
        latency: Duration::from_millis(25),
        error_rate: 0.0,
        fault: Fault::RateLimit { retry_after: 4 },
        ..Knobs::default()
    };
    assert_eq!(handle.knobs(), expected);

    let get = Request::get("/_sim/knobs").body(Body::empty()).unwrap();
    let json = body_json(app.oneshot(get).await.unwrap()).await;
    assert_eq!(
        json,
        serde_json::json!({"latency_ms": 25, "error_rate": 0.0,
                           "fault": {"kind": "rate_limit", "retry_after": 4},
                           "callback_delay_ms": 0, "never_call_back": false})
    );
}

#[tokio::test]
async fn invalid_knobs_are_refused_and_change_nothing() {
    let handle = KnobsHandle::new();
    let app = toy(handle.clone());
    for body in [
        r#"{"error_rate": 1.5}"#,
        r#"{"latency_ms": 99999999}"#,
        r#"{"fault": {"kind": "explode"}}"#,
        r#"{"latency": 5}"#,
    ] {
        let put = Request::put("/_sim/knobs")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let status = app.clone().oneshot(put).await.unwrap().status();
        assert!(status.is_client_error(), "{body} gave {status}");
    }
    assert_eq!(handle.knobs(), Knobs::default());
}

#[tokio::test]
async fn stats_count_calls_and_distinct_request_ids() {
    let handle = KnobsHandle::new();
    let app = toy(handle.clone());
    for id in [Some("task_a"), Some("task_a"), Some("task_b"), None] {
        let response = app.clone().oneshot(ping(id)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let stats_request = Request::get("/_sim/stats").body(Body::empty()).unwrap();
    let json = body_json(app.clone().oneshot(stats_request).await.unwrap()).await;
    assert_eq!(
        json,
        serde_json::json!({"calls": 4, "distinct_request_ids": 2, "calls_without_request_id": 1})
    );
    assert!(handle.saw_request_id("task_b"));
    assert!(!handle.saw_request_id("task_c"));

    let reset = Request::delete("/_sim/stats").body(Body::empty()).unwrap();
    assert_eq!(
        app.oneshot(reset).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(handle.stats().calls, 0);
}

#[tokio::test]
async fn faults_render_by_default_as_plain_http() {
    let handle = KnobsHandle::new();
    let app = toy(handle.clone());
    let cases = [
        (Fault::ServerError, StatusCode::INTERNAL_SERVER_ERROR),
        (
            Fault::RateLimit { retry_after: 9 },
            StatusCode::TOO_MANY_REQUESTS,
        ),
        (Fault::Malformed, StatusCode::OK),
    ];
    for (fault, status) in cases {
        handle.set(Knobs {
            fault,
            ..Knobs::default()
        });
        let response = app.clone().oneshot(ping(Some("t"))).await.unwrap();
        assert_eq!(response.status(), status, "{fault:?}");
        if let Fault::RateLimit { .. } = fault {
            assert_eq!(response.headers()["retry-after"], "9");
        }
        if fault == Fault::Malformed {
            let bytes = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_err());
        }
    }
}

#[tokio::test]
async fn error_rate_is_seeded_and_proportional() {
    async fn failures(seed: u64, rate: f64, calls: usize) -> Vec<bool> {
        let handle = KnobsHandle::with_seed(seed);
        handle.set(Knobs {
            error_rate: rate,
            ..Knobs::default()
        });
        let mut out = Vec::with_capacity(calls);
        for _ in 0..calls {
            out.push(handle.intercept(&HeaderMap::new()).await.is_some());
        }
        out
    }
    assert!(failures(1, 0.0, 200).await.iter().all(|f| !f));
    assert!(failures(1, 1.0, 200).await.iter().all(|f| *f));
    let a = failures(7, 0.3, 1000).await;
    assert_eq!(a, failures(7, 0.3, 1000).await, "same seed, same draws");
    let share = a.iter().filter(|f| **f).count();
    assert!((200..400).contains(&share), "{share} of 1000 at rate 0.3");
}

#[tokio::test]
async fn latency_is_added_before_the_answer() {
    let handle = KnobsHandle::new();
    handle.set(Knobs {
        latency: Duration::from_millis(150),
        ..Knobs::default()
    });
    let started = tokio::time::Instant::now();
    assert_eq!(handle.intercept(&HeaderMap::new()).await, None);
    // A lower bound only: the simulator sleeps at least this long, however noisy the
    // machine.
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn setting_out_of_range_knobs_in_code_clamps_them() {
    let handle = KnobsHandle::new();
    handle.set(Knobs {
        latency: Duration::from_secs(100_000),
        error_rate: f64::NAN,
        fault: Fault::None,
        ..Knobs::default()
    });
    assert_eq!(handle.knobs().latency, MAX_LATENCY);
    assert_eq!(handle.knobs().error_rate, 0.0);
}

#[tokio::test]
async fn spawned_simulator_serves_and_shuts_down() {
    let handle = KnobsHandle::new();
    let (addr, shutdown) = spawn(toy(handle.clone())).await.unwrap();
    assert!(addr.ip().is_loopback());
    let client = reqwest::Client::new();
    let body = client
        .get(format!("http://{addr}/ping"))
        .header("x-request-id", "task_x")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
    assert!(handle.saw_request_id("task_x"));

    // A hanging call must not hold the shutdown for the whole hang.
    handle.set(Knobs {
        fault: Fault::Timeout,
        ..Knobs::default()
    });
    let hanging = tokio::spawn({
        let client = client.clone();
        async move { client.get(format!("http://{addr}/ping")).send().await }
    });
    wait_until(|| handle.stats().calls == 2).await;
    shutdown.shutdown().await;
    match hanging.await.unwrap() {
        Ok(response) => assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE),
        Err(err) => assert!(!err.is_timeout(), "{err}"),
    }
    assert!(
        client
            .get(format!("http://{addr}/ping"))
            .send()
            .await
            .is_err()
    );
}

/// Polls `done` until it holds, for at most 10 seconds.
async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn faults_render_in_an_agency_style_with_retry_after() {
    let agency = |status: StatusCode| move || (status, "agency body").into_response();
    let server = InjectedFault::ServerError.render(
        agency(StatusCode::INTERNAL_SERVER_ERROR),
        agency(StatusCode::FORBIDDEN),
    );
    assert_eq!(server.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(server.headers().get(header::RETRY_AFTER).is_none());
    let limited = InjectedFault::RateLimit { retry_after: 9 }.render(
        agency(StatusCode::INTERNAL_SERVER_ERROR),
        agency(StatusCode::FORBIDDEN),
    );
    assert_eq!(limited.status(), StatusCode::FORBIDDEN);
    assert_eq!(limited.headers()[header::RETRY_AFTER], "9");
    let malformed = InjectedFault::Malformed.render(
        agency(StatusCode::INTERNAL_SERVER_ERROR),
        agency(StatusCode::FORBIDDEN),
    );
    assert_eq!(malformed.status(), StatusCode::OK);
    let body = axum::body::to_bytes(malformed.into_body(), 1 << 10)
        .await
        .unwrap();
    assert_eq!(body, MALFORMED_BODY.as_bytes());
}

#[test]
fn request_ids_and_keys_are_read_from_headers() {
    let mut headers = HeaderMap::new();
    assert_eq!(request_id(&headers), None);
    assert!(!carries(&headers, "x-api-key", &Secret::new("k")));
    headers.insert("x-request-id", HeaderValue::from_static("task_1"));
    headers.insert("x-api-key", HeaderValue::from_static("k"));
    assert_eq!(request_id(&headers), Some("task_1"));
    assert!(carries(&headers, "x-api-key", &Secret::new("k")));
    assert!(!carries(&headers, "x-api-key", &Secret::new("k2")));
    assert!(!carries(&headers, "api_key", &Secret::new("k")));
}
