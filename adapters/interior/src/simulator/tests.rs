use axum::body::Body;
use axum::http::{Request, StatusCode};
use rabt_adapter::http::Secret;
use rabt_core::UnifiedNumber;
use rabt_sandbox::conformance::oneshot;
use rabt_sandbox::simulator::{Fault, Knobs};
use rabt_sandbox::world::{cases, golden};
use serde_json::Value;

use super::*;
use crate::fault::YakeenErrorCode;
use crate::soap;
use crate::wire::{
    AlienInfoByIqamaRequest, CitizenInfoRequest, Credentials, GetAlienInfoByIqama, GetCitizenInfo,
    YakeenRequest, YakeenResponse,
};

const ORG: &str = "7000000001";

fn app() -> (Router, KnobsHandle) {
    let knobs = KnobsHandle::new();
    let yakeen = YakeenCredentials {
        user_name: "rabt".into(),
        password: Secret::new("p&<ss>"),
        charge_code: Secret::new("CC"),
    };
    let lite = YakeenLiteCredentials {
        app_id: "app".into(),
        app_key: Secret::new("key"),
        service_key: Secret::new("service"),
        organization_number: UnifiedNumber::parse(ORG).unwrap(),
    };
    (
        router(Arc::new(World::standard()), yakeen, lite, knobs.clone()),
        knobs,
    )
}

fn credentials() -> Credentials {
    Credentials {
        charge_code: Some("CC".into()),
        password: Some("p&<ss>".into()),
        reference_number: Some("task_1".into()),
        user_name: Some("rabt".into()),
    }
}

fn citizen(id: &str, month: &str, credentials: Credentials) -> YakeenRequest {
    YakeenRequest::CitizenInfo(GetCitizenInfo {
        request: CitizenInfoRequest::new(id, month, credentials),
    })
}

fn resident(id: &str, month: &str) -> YakeenRequest {
    YakeenRequest::AlienInfo(GetAlienInfoByIqama {
        request: AlienInfoByIqamaRequest::new(id, month, credentials()),
    })
}

async fn post_raw(
    app: &Router,
    content_type: &str,
    body: String,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let request = Request::post(crate::YAKEEN_PATH)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let (status, headers, body) = oneshot(app, request).await;
    (status, headers, String::from_utf8(body).unwrap())
}

async fn soap_call(app: &Router, request: YakeenRequest) -> (StatusCode, String) {
    let (status, _, body) = post_raw(
        app,
        crate::soap::CONTENT_TYPE,
        soap::write_request(request).unwrap(),
    )
    .await;
    (status, body)
}

fn fault_code(xml: &str) -> String {
    match soap::read::<YakeenResponse>(xml).unwrap() {
        YakeenResponse::Fault(fault) => fault
            .common_error()
            .map(|e| e.error_code.clone())
            .unwrap_or_else(|| fault.faultcode.clone()),
        other => panic!("not a fault: {other:?}"),
    }
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().trim_end().to_owned()
}

#[tokio::test]
async fn golden_people_answer_exactly_the_fixtures() {
    let cases = [
        (
            citizen(golden::CITIZEN_ID, "07-1400", credentials()),
            StatusCode::OK,
            "citizen-info-1000000008.xml",
        ),
        (
            resident(golden::RESIDENT_ID, "03-1985"),
            StatusCode::OK,
            "alien-info-2000000006.xml",
        ),
        (
            citizen(golden::CITIZEN_ID, "08-1400", credentials()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "fault-birth-date-mismatch.xml",
        ),
        (
            citizen(cases::ID_IN_NO_WORLD, "07-1400", credentials()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "fault-not-found.xml",
        ),
    ];
    for (request, status, file) in cases {
        // A fresh simulator: its first logId is the fixture's.
        let (app, _) = app();
        assert_eq!(
            soap_call(&app, request).await,
            (status, fixture(file)),
            "{file}"
        );
    }
}

#[tokio::test]
async fn credentials_come_before_the_input() {
    let (app, _) = app();
    let wrong = |change: fn(&mut Credentials)| {
        let mut c = credentials();
        change(&mut c);
        c
    };
    for (creds, code) in [
        (
            wrong(|c| c.password = Some("p&amp;<ss>".into())),
            YakeenErrorCode::InvalidCredentials,
        ),
        (
            wrong(|c| c.user_name = None),
            YakeenErrorCode::InvalidCredentials,
        ),
        (
            wrong(|c| c.charge_code = Some("other".into())),
            YakeenErrorCode::InvalidChargeCode,
        ),
        (
            wrong(|c| c.reference_number = Some(" ".into())),
            YakeenErrorCode::MissingField,
        ),
    ] {
        // An invalid ID too: the credentials are checked first.
        let (status, body) = soap_call(&app, citizen("1000000009", "07-1400", creds)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(fault_code(&body), code.code().to_string());
    }
}

#[tokio::test]
async fn input_is_validated_in_yakeen_style() {
    let (app, _) = app();
    for (request, code) in [
        (
            citizen("1000000009", "07-1400", credentials()),
            YakeenErrorCode::InvalidId,
        ),
        (
            citizen("100000000", "07-1400", credentials()),
            YakeenErrorCode::InvalidId,
        ),
        (
            citizen(golden::CITIZEN_ID, "7-1400", credentials()),
            YakeenErrorCode::InvalidBirthDate,
        ),
        (
            citizen(golden::CITIZEN_ID, "13-1400", credentials()),
            YakeenErrorCode::InvalidBirthDate,
        ),
        (
            citizen(golden::CITIZEN_ID, "1400-07", credentials()),
            YakeenErrorCode::InvalidBirthDate,
        ),
        (
            citizen(golden::RESIDENT_ID, "03-1985", credentials()),
            YakeenErrorCode::WrongIdKind,
        ),
        (
            resident(golden::CITIZEN_ID, "07-1400"),
            YakeenErrorCode::WrongIdKind,
        ),
        (
            resident(golden::RESIDENT_ID, "04-1985"),
            YakeenErrorCode::BirthDateMismatch,
        ),
        // A citizen's Gregorian month is not a Hijri one.
        (
            citizen(golden::CITIZEN_ID, "05-1980", credentials()),
            YakeenErrorCode::BirthDateMismatch,
        ),
    ] {
        let (status, body) = soap_call(&app, request).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(fault_code(&body), code.code().to_string());
    }
}

#[tokio::test]
async fn the_soap_stack_refuses_what_is_not_soap_1_1() {
    let (app, _) = app();
    let xml = soap::write_request(citizen(golden::CITIZEN_ID, "07-1400", credentials())).unwrap();
    for content_type in ["application/soap+xml; charset=utf-8", "application/json"] {
        let (status, _, _) = post_raw(&app, content_type, xml.clone()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let soap12 = xml.replace(crate::soap::SOAP11_NS, crate::soap::SOAP12_NS);
    let (status, _, body) = post_raw(&app, "text/xml", soap12).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fault_code(&body), "S:VersionMismatch");
    for garbage in [
        "not xml at all".to_owned(),
        xml.replace("getCitizenInfo", "getCitizenAddressInfo"),
        xml.replace("<nin>", "<nin><x>")
            .replace("</nin>", "</x></nin>"),
        String::new(),
    ] {
        let (status, _, body) = post_raw(&app, "text/xml", garbage.clone()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{garbage}");
        assert_eq!(fault_code(&body), "S:Client", "{garbage}");
    }
}

#[tokio::test]
async fn faults_come_first_in_yakeen_style() {
    let (app, knobs) = app();
    knobs.set(Knobs {
        fault: Fault::RateLimit { retry_after: 11 },
        ..Knobs::default()
    });
    let wrong = Credentials {
        password: Some("wrong".into()),
        ..credentials()
    };
    let xml = soap::write_request(citizen(golden::CITIZEN_ID, "07-1400", wrong)).unwrap();
    let (status, headers, body) = post_raw(&app, "text/xml", xml.clone()).await;
    assert_eq!(
        (status, &headers["retry-after"]),
        (StatusCode::INTERNAL_SERVER_ERROR, &"11".parse().unwrap())
    );
    assert_eq!(fault_code(&body), "13");
    knobs.set(Knobs {
        fault: Fault::ServerError,
        ..Knobs::default()
    });
    let (_, _, body) = post_raw(&app, "text/xml", xml.clone()).await;
    assert_eq!(fault_code(&body), "99");
    knobs.set(Knobs {
        fault: Fault::Malformed,
        ..Knobs::default()
    });
    let (status, _, body) = post_raw(&app, "text/xml", xml).await;
    assert_eq!(status, StatusCode::OK);
    assert!(soap::payload_of(&body).is_err() || soap::read::<YakeenResponse>(&body).is_err());
    assert_eq!(knobs.stats().calls, 3);
}

async fn lite_get(
    app: &Router,
    id: &str,
    mobile: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = Request::get(crate::lite::owns_mobile_path(id, mobile));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, _, body) = oneshot(app, request.body(Body::empty()).unwrap()).await;
    (status, String::from_utf8(body).unwrap())
}

const GOOD: [(&str, &str); 4] = [
    ("APP-ID", "app"),
    ("APP-KEY", "key"),
    ("SERVICE_KEY", "service"),
    ("ORGANIZATION-NUMBER", ORG),
];

#[tokio::test]
async fn lite_answers_ownership_from_the_world() {
    let (app, _) = app();
    let (status, body) = lite_get(&app, golden::CITIZEN_ID, golden::CITIZEN_MOBILE, &GOOD).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, fixture("lite-owns-mobile-1000000008.json"))
    );
    let (_, body) = lite_get(&app, golden::CITIZEN_ID, golden::RESIDENT_MOBILE, &GOOD).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["isOwner"].clone(), body["mobile"].clone()),
        (Value::Bool(false), Value::from("550000006"))
    );
    // The local form of the number is the same number.
    let (_, body) = lite_get(&app, golden::CITIZEN_ID, "0512345678", &GOOD).await;
    assert!(body.contains("\"isOwner\":true"), "{body}");
}

#[tokio::test]
async fn lite_checks_keys_then_ids_in_elm_style() {
    let (app, _) = app();
    let with = |name: &'static str, value: &'static str| {
        GOOD.map(|(n, v)| if n == name { (n, value) } else { (n, v) })
    };
    let (status, body) = lite_get(
        &app,
        golden::CITIZEN_ID,
        golden::CITIZEN_MOBILE,
        &with("APP-KEY", "nope"),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::FORBIDDEN, "Authentication failed")
    );
    for (name, value) in [
        ("SERVICE_KEY", "nope"),
        ("ORGANIZATION-NUMBER", "7000000002"),
    ] {
        let (status, body) = lite_get(
            &app,
            golden::CITIZEN_ID,
            golden::CITIZEN_MOBILE,
            &with(name, value),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("103"), "{body}");
    }
    for (id, mobile, code) in [
        ("1000000009", golden::CITIZEN_MOBILE, "101"),
        (cases::ID_IN_NO_WORLD, golden::CITIZEN_MOBILE, "101"),
        (golden::CITIZEN_ID, "12345", "102"),
    ] {
        let (status, body) = lite_get(&app, id, mobile, &GOOD).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            format!(
                r#"{{"code":{code},"message":"{}"}}"#,
                if code == "101" {
                    "Invalid ID"
                } else {
                    "Invalid mobile number"
                }
            )
        );
    }
}

#[tokio::test]
async fn lite_faults_come_first_in_gateway_style() {
    let (app, knobs) = app();
    knobs.set(Knobs {
        fault: Fault::RateLimit { retry_after: 3 },
        ..Knobs::default()
    });
    let (status, body) = lite_get(&app, golden::CITIZEN_ID, golden::CITIZEN_MOBILE, &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "Usage limit exceeded")
    );
    knobs.set(Knobs {
        fault: Fault::ServerError,
        ..Knobs::default()
    });
    let (status, body) = lite_get(&app, golden::CITIZEN_ID, golden::CITIZEN_MOBILE, &GOOD).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"code":100,"message":"Internal error"}"#
        )
    );
    assert_eq!(knobs.stats().calls, 2);
}
