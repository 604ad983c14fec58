use axum::body::Body;
use axum::http::Request;
use rabt_sandbox::conformance::{oneshot, wire_fixture};
use rabt_sandbox::simulator::{Fault, Knobs};
use serde_json::Value;

use super::*;

const KEY: &str = "sim-key";

fn app() -> (Router, KnobsHandle) {
    let knobs = KnobsHandle::new();
    let router = router(Arc::new(World::standard()), Secret::new(KEY), knobs.clone());
    (router, knobs)
}

async fn get_raw(app: &Router, uri: &str, key: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::get(uri);
    if let Some(key) = key {
        request = request.header("api_key", key);
    }
    oneshot(app, request.body(Body::empty()).unwrap()).await
}

async fn get_json(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = get_raw(app, uri, Some(KEY)).await;
    (status, serde_json::from_slice(&body).unwrap())
}

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

const SHORT: &str = "/NationalAddressByShortAddress/NationalAddressByShortAddress";

#[tokio::test]
async fn golden_short_addresses_answer_exactly_the_fixtures() {
    let (app, _) = app();
    for (lang, file) in [
        ("A", "short-address-rrrd2929-ar.json"),
        ("E", "short-address-rrrd2929-en.json"),
    ] {
        let uri = format!("{SHORT}?shortaddress=RRRD2929&language={lang}&format=json&encode=utf8");
        assert_eq!(get_json(&app, &uri).await, (StatusCode::OK, fixture(file)));
    }
    let uri = format!("{SHORT}?shortaddress=ZZZZ9999&language=E&format=json&encode=utf8");
    assert_eq!(
        get_json(&app, &uri).await,
        (StatusCode::OK, fixture("short-address-zzzz9999.json"))
    );
}

#[tokio::test]
async fn without_encode_utf8_the_answer_is_windows_1256() {
    let (app, _) = app();
    let uri = format!("{SHORT}?shortaddress=RRRD2929&language=A&format=json");
    let (status, headers, body) = get_raw(&app, &uri, Some(KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-type"],
        "application/json; charset=windows-1256"
    );
    assert!(
        std::str::from_utf8(&body).is_err(),
        "Arabic in windows-1256 is not UTF-8"
    );
    let (decoded, _, had_errors) = encoding_rs::WINDOWS_1256.decode(&body);
    assert!(!had_errors);
    let value: Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(value, fixture("short-address-rrrd2929-ar.json"));
}

#[tokio::test]
async fn the_key_is_checked_in_header_or_query() {
    let (app, _) = app();
    let uri = format!("{SHORT}?shortaddress=RRRD2929&encode=utf8");
    let (status, _, body) = get_raw(&app, &uri, Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        fixture("error-401.json")
    );
    assert_eq!(get_raw(&app, &uri, None).await.0, StatusCode::UNAUTHORIZED);
    let with_query = format!("{uri}&api_key={KEY}");
    assert_eq!(get_raw(&app, &with_query, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_parameters_are_400_in_spl_style() {
    let (app, _) = app();
    for uri in [
        format!("{SHORT}?encode=utf8"),
        format!("{SHORT}?shortaddress=RRRD29&encode=utf8"),
        format!("{SHORT}?shortaddress=RRRD2929&language=F"),
        format!("{SHORT}?shortaddress=RRRD2929&format=xml"),
        format!("{SHORT}?shortaddress=RRRD2929&encode=latin1"),
        "/v3.1/address/address-verify?buildingnumber=2929&zipcode=1221".to_owned(),
        "/v4/address/address-free-text?addressstring=%20".to_owned(),
        "/v4/address/address-free-text?addressstring=2929&page=0".to_owned(),
    ] {
        let (status, body) = get_json(&app, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["statusdescription"], "INVALID_PARAMETER", "{uri}");
        assert_eq!(body["success"], false);
    }
}

#[tokio::test]
async fn verify_by_numbers_and_find_by_free_text() {
    let (app, _) = app();
    let verify = "/v3.1/address/address-verify?format=json&encode=utf8&buildingnumber=2929";
    let (status, body) = get_json(
        &app,
        &format!("{verify}&zipcode=12211&additionalnumber=7788"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["addressfound"], true);
    let (_, body) = get_json(
        &app,
        &format!("{verify}&zipcode=12211&additionalnumber=1000"),
    )
    .await;
    assert_eq!(body["addressfound"], false);

    let search =
        "/v4/address/address-free-text?encode=utf8&language=E&addressstring=2929%207788%2012211";
    let (status, body) = get_json(&app, search).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalSearchResults"], "1");
    assert_eq!(body["Addresses"][0]["Street"], "King Fahd Road");

    let (_, body) = get_json(
        &app,
        "/v4/address/address-free-text?encode=utf8&language=E&addressstring=riyadh",
    )
    .await;
    let total: usize = body["totalSearchResults"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > PAGE_SIZE);
    assert_eq!(body["Addresses"].as_array().unwrap().len(), PAGE_SIZE);
}

#[tokio::test]
async fn faults_come_first_and_rate_limits_are_403() {
    let (app, knobs) = app();
    knobs.set(Knobs {
        fault: Fault::RateLimit { retry_after: 11 },
        ..Knobs::default()
    });
    // Even a wrong key sees the fault first: SPL's gateway throttles before it checks.
    let uri = format!("{SHORT}?shortaddress=RRRD2929&encode=utf8");
    let (status, headers, _) = get_raw(&app, &uri, Some("wrong")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["retry-after"], "11");
    knobs.set(Knobs {
        fault: Fault::ServerError,
        ..Knobs::default()
    });
    assert_eq!(
        get_raw(&app, &uri, Some(KEY)).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(knobs.stats().calls, 2);

    let (status, body) = get_json(&app, "/_sim/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["calls"], 2);
}
