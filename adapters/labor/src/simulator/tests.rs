use axum::body::Body;
use axum::http::Request;
use rabt_sandbox::conformance::{oneshot, wire_fixture};
use rabt_sandbox::simulator::{Fault, Knobs};
use rabt_sandbox::world::{cases, golden};
use serde_json::{Value, json};

use super::*;

const ID: &str = "sim-client";
const SECRET: &str = "sim-secret";
const TRANSACTION: &str = "task_0190f3c4a1b27e3f8c9d0e1f2a3b4c5d";
const GEI: &str = "/qiwa/esb/getestablishmentinformation";
const GCS: &str = "/cooperatives/esb/getcooperativesocietyinformation";

struct App {
    router: Router,
    knobs: KnobsHandle,
    tokens: TokenIssuer,
}

fn app() -> App {
    let knobs = KnobsHandle::new();
    let tokens = TokenIssuer::new(DEFAULT_TOKEN_LIFETIME);
    let router = router_with_tokens(
        Arc::new(World::standard()),
        ID,
        Secret::new(SECRET),
        knobs.clone(),
        tokens.clone(),
    );
    App {
        router,
        knobs,
        tokens,
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, bytes) = oneshot(app, request).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD_B64.encode(format!("{id}:{secret}")))
}

use base64::Engine;
use base64::engine::general_purpose::STANDARD as STANDARD_B64;

fn token_request(authorization: Option<&str>, form: &str) -> Request<Body> {
    let mut request =
        Request::post(TOKEN_PATH).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    request.body(Body::from(form.to_owned())).unwrap()
}

async fn issue(app: &App) -> String {
    let request = token_request(
        Some(&basic(ID, SECRET)),
        "grant_type=client_credentials&scope=IntegrationScope",
    );
    let (status, _, body) = send(&app.router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn envelope(op: &str, service_code: &str, body: Value) -> Value {
    json!({ format!("{op}Rq"): {
        "Header": {
            "TransactionId": TRANSACTION,
            "ChannelId": "Rabt",
            "RequestTime": "2025-03-11 09:30:00.000",
            "ServiceCode": service_code,
        },
        "Body": body,
    }})
}

fn gei(body: Value) -> Value {
    envelope("GetEstablishmentInformation", "GEI00001", body)
}

fn gcs(body: Value) -> Value {
    envelope("GetCooperativeSocietyInformation", "GCS00001", body)
}

fn api_request(path: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(CLIENT_ID_HEADER, ID);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_string())).unwrap()
}

/// The middleware's times are now's; the fixtures hold fixed ones.
fn pin_times(mut answer: Value) -> Value {
    if let Some(outer) = answer.as_object_mut() {
        for content in outer.values_mut() {
            let header = &mut content["Header"];
            if header.get("MWRequestTime").is_some() {
                header["MWRequestTime"] = json!("2025-03-11 09:30:00.120");
                header["MWResponseTime"] = json!("2025-03-11 09:30:00.184");
            }
        }
    }
    answer
}

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

fn same(name: &str, actual: Value) {
    assert_eq!(actual, fixture(name), "{name}");
}

#[tokio::test]
async fn golden_answers_are_exactly_the_fixtures() {
    let app = app();
    let token = issue(&app).await;
    let cases = [
        (
            GEI,
            gei(json!({"SevenHundredNumber": golden::COOP_COMPLIANT})),
            "gei-7000000001.json",
        ),
        (
            GEI,
            gei(json!({"SevenHundredNumber": golden::COOP_RED_BAND})),
            "gei-7000000003.json",
        ),
        (
            GEI,
            gei(json!({"SevenHundredNumber": cases::COOP_NO_LABOR_FILE})),
            "gei-7000000007-e0000949.json",
        ),
        (
            GEI,
            gei(json!({"SevenHundredNumber": cases::COOP_IN_NO_WORLD})),
            "gei-7000000999-e0000142.json",
        ),
        (
            GCS,
            gcs(json!({"SevenHundredNumber": golden::COOP_COMPLIANT})),
            "gcs-7000000001.json",
        ),
        (
            GCS,
            gcs(json!({"SevenHundredNumber": cases::COOP_SUSPENDED})),
            "gcs-7000000008-suspended.json",
        ),
        (
            GCS,
            gcs(json!({"SevenHundredNumber": cases::COOP_IN_NO_WORLD})),
            "gcs-7000000999-e0002001.json",
        ),
    ];
    for (path, body, file) in cases {
        let (status, _, answer) = send(&app.router, api_request(path, Some(&token), &body)).await;
        assert_eq!(status, StatusCode::OK, "{file}: {answer}");
        same(file, pin_times(answer));
    }
    same(
        "gei-request.json",
        gei(json!({"SevenHundredNumber": golden::COOP_COMPLIANT})),
    );
}

#[tokio::test]
async fn establishments_are_found_by_office_and_sequence_too() {
    let app = app();
    let token = issue(&app).await;
    let by_number = gei(json!({
        "LaborOfficeId": golden::COOP_COMPLIANT_LABOR_OFFICE.to_string(),
        "EstablishmentSequanceNumber": golden::COOP_COMPLIANT_LABOR_SEQUENCE.to_string(),
    }));
    let (status, _, answer) = send(&app.router, api_request(GEI, Some(&token), &by_number)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pin_times(answer), fixture("gei-7000000001.json"));
    let unknown = gei(json!({"LaborOfficeId": "1", "EstablishmentSequanceNumber": "1"}));
    let (_, _, answer) = send(&app.router, api_request(GEI, Some(&token), &unknown)).await;
    let status = &answer["GetEstablishmentInformationRs"]["Header"]["ResponseStatus"];
    assert_eq!(status["Code"], codes::ESTABLISHMENT_NOT_FOUND);
}

#[tokio::test]
async fn the_token_endpoint_grants_tokens() {
    let app = app();
    let form = "grant_type=client_credentials&scope=IntegrationScope";
    let (status, headers, body) =
        send(&app.router, token_request(Some(&basic(ID, SECRET)), form)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let mut pinned = body.clone();
    pinned["access_token"] = json!("AAIgN2YzZTk4ZjctOGM0Mi00YzQ1LWE2NDQtMDk2ODk3MTM0ZWNl");
    pinned["consented_on"] = json!(1741674600);
    same("token-200.json", pinned);
    assert_eq!(body["expires_in"], 3600);
    // RFC 6749 also allows the credentials as form fields.
    let with_fields = format!("{form}&client_id={ID}&client_secret={SECRET}");
    assert_eq!(
        send(&app.router, token_request(None, &with_fields)).await.0,
        StatusCode::OK
    );
    assert_eq!(app.tokens.issued(), 2);
}

#[tokio::test]
async fn the_token_endpoint_refuses_as_rfc_6749_says() {
    let app = app();
    let form = "grant_type=client_credentials&scope=IntegrationScope";
    let (status, headers, body) =
        send(&app.router, token_request(Some(&basic(ID, "wrong")), form)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    same("token-401.json", body);
    let refusals = [
        (None, form, StatusCode::UNAUTHORIZED, "invalid_client"),
        (
            Some("Basic !!!"),
            form,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            Some("Bearer x"),
            form,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            None,
            "grant_type=password",
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            None,
            "scope=IntegrationScope",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (None, "%%%", StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (authorization, form, expected, error) in refusals {
        let (status, _, body) = send(&app.router, token_request(authorization, form)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (expected, Some(error)),
            "{form}"
        );
    }
    let scope = "grant_type=client_credentials&scope=IntegrationScope%20admin";
    let (status, _, body) = send(&app.router, token_request(Some(&basic(ID, SECRET)), scope)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    assert_eq!(app.tokens.issued(), 0);
}

#[tokio::test]
async fn api_calls_need_the_client_id_and_a_live_token() {
    let app = app();
    let body = gei(json!({"SevenHundredNumber": golden::COOP_COMPLIANT}));
    let (status, headers, answer) = send(&app.router, api_request(GEI, None, &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    same("apic-401.json", answer);
    let token = issue(&app).await;
    assert_eq!(
        send(&app.router, api_request(GEI, Some(&token), &body))
            .await
            .0,
        StatusCode::OK
    );
    let no_client_id = Request::post(GEI)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, answer) = send(&app.router, no_client_id).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["moreInformation"], "Client id not registered.");
    app.tokens.revoke_all();
    assert_eq!(app.tokens.live(), 0);
    assert_eq!(
        send(&app.router, api_request(GEI, Some(&token), &body))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_envelopes_are_400_e0000001() {
    let app = app();
    let token = issue(&app).await;
    let mut wrong_code = gei(json!({"SevenHundredNumber": golden::COOP_COMPLIANT}));
    wrong_code["GetEstablishmentInformationRq"]["Header"]["ServiceCode"] = json!("GCS00001");
    let mut no_transaction = gei(json!({"SevenHundredNumber": golden::COOP_COMPLIANT}));
    no_transaction["GetEstablishmentInformationRq"]["Header"]["TransactionId"] = json!(" ");
    let mut bad_time = gei(json!({"SevenHundredNumber": golden::COOP_COMPLIANT}));
    bad_time["GetEstablishmentInformationRq"]["Header"]["RequestTime"] = json!("yesterday");
    let bad = [
        (GEI, gei(json!({"SevenHundredNumber": "123"}))),
        (GEI, gei(json!({}))),
        (
            GEI,
            gei(json!({"LaborOfficeId": "x", "EstablishmentSequanceNumber": "1"})),
        ),
        (
            GEI,
            gcs(json!({"SevenHundredNumber": golden::COOP_COMPLIANT})),
        ),
        (GEI, wrong_code),
        (GEI, no_transaction),
        (GEI, bad_time),
        (GEI, json!("not an object")),
        (GCS, gcs(json!({"SevenHundredNumber": "7"}))),
        (GCS, gcs(json!({}))),
    ];
    for (i, (path, body)) in bad.into_iter().enumerate() {
        let (status, _, answer) = send(&app.router, api_request(path, Some(&token), &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{i}: {answer}");
        let rs = answer.as_object().unwrap().values().next().unwrap();
        assert_eq!(
            rs["Header"]["ResponseStatus"]["Code"],
            codes::INVALID_REQUEST,
            "{i}"
        );
        assert_eq!(rs["Header"]["ResponseStatus"]["Status"], "ERROR", "{i}");
        if i == 0 {
            same("gei-400-e0000001.json", pin_times(answer));
        }
    }
    let garbage = api_request(GEI, Some(&token), &json!(null));
    let garbage = Request::from_parts(garbage.into_parts().0, Body::from(vec![0xff, 0x00, 0x7b]));
    assert_eq!(send(&app.router, garbage).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn faults_come_first_in_the_gateway_s_style() {
    let app = app();
    app.knobs.set(Knobs {
        fault: Fault::RateLimit { retry_after: 11 },
        ..Knobs::default()
    });
    let body = gei(json!({"SevenHundredNumber": golden::COOP_COMPLIANT}));
    // No token, wrong credentials: the gateway throttles before it checks.
    let (status, headers, answer) = send(&app.router, api_request(GEI, None, &body)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "11");
    assert_eq!(answer["httpCode"], "429");
    let wrong = token_request(Some(&basic(ID, "wrong")), "grant_type=client_credentials");
    assert_eq!(
        send(&app.router, wrong).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    app.knobs.set(Knobs {
        fault: Fault::ServerError,
        ..Knobs::default()
    });
    let (status, _, answer) = send(&app.router, api_request(GEI, None, &body)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let rs = &answer["GetEstablishmentInformationRs"]["Header"]["ResponseStatus"];
    assert_eq!(rs["Code"], codes::INTERNAL_ERROR);
    let token = token_request(Some(&basic(ID, SECRET)), "grant_type=client_credentials");
    let (status, _, answer) = send(&app.router, token).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("server_error"))
    );
    assert_eq!(app.knobs.stats().calls, 4);
    assert_eq!(app.tokens.issued(), 0);
}

#[tokio::test]
async fn the_token_routes_count_and_revoke() {
    let app = app();
    issue(&app).await;
    let get = Request::get(TOKENS_ROUTE).body(Body::empty()).unwrap();
    let (status, _, body) = send(&app.router, get).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"issued": 1, "live": 1, "lifetime_s": 3600}));
    let delete = Request::delete(TOKENS_ROUTE).body(Body::empty()).unwrap();
    assert_eq!(send(&app.router, delete).await.0, StatusCode::NO_CONTENT);
    assert_eq!((app.tokens.issued(), app.tokens.live()), (1, 0));
    // The simulator's own routes are not agency calls.
    assert_eq!(app.knobs.stats().calls, 1);
}

#[test]
fn every_code_the_simulator_answers_is_known() {
    for code in [
        codes::SUCCESS,
        codes::ESTABLISHMENT_NOT_FOUND,
        codes::NOT_IN_NITAQAT,
        codes::SOCIETY_NOT_FOUND,
        codes::INVALID_REQUEST,
        codes::INTERNAL_ERROR,
    ] {
        assert!(codes::status_code(code).is_some(), "{code}");
    }
    let issuer = TokenIssuer::new(Duration::from_millis(10));
    let (token, lifetime) = issuer.issue();
    assert_eq!(
        lifetime,
        Duration::from_secs(1),
        "whole seconds, at least one"
    );
    assert!(!format!("{issuer:?}").contains(&token));
}
