//! Bad input gets a precise 4xx problem and writes nothing.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Harness, pointers, problem_type};

const ADDRESS: &str = r#"{"service":"post.address.verify","input":{"shortAddress":"RRRD2929"}}"#;

#[tokio::test]
async fn authentication_is_required_and_checked() {
    let h = Harness::new().await;
    let none = h
        .send(
            Method::POST,
            "/v1/requests",
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "k"),
            ],
            ADDRESS.into(),
        )
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem_type(&none), "unauthorized");
    assert!(none.headers.get("www-authenticate").is_some());
    for header in ["Bearer rabt_nope", "Basic abc", "Bearer", "bearer  "] {
        let reply = h
            .send(
                Method::GET,
                "/v1/requests",
                &[("authorization", header)],
                Vec::new(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header}");
    }
}

#[tokio::test]
async fn every_malformed_request_is_refused_precisely_and_nothing_is_written() {
    let h = Harness::new().await;
    let auth = format!("Bearer {}", h.key);
    let std = |key: &'static str| {
        vec![
            ("authorization", auth.clone()),
            ("content-type", "application/json".to_owned()),
            ("idempotency-key", key.to_owned()),
        ]
    };
    // (what, headers, body, expected status, expected problem type, expected pointer)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, String)>,
        Vec<u8>,
        StatusCode,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        ("no idempotency key", vec![("authorization", auth.clone()), ("content-type", "application/json".into())], ADDRESS.into(), StatusCode::BAD_REQUEST, "idempotency-key-missing", None),
        ("idempotency key with a space", std("has space"), ADDRESS.into(), StatusCode::BAD_REQUEST, "idempotency-key-invalid", None),
        ("not JSON", std("k1"), b"{\"service\":".to_vec(), StatusCode::BAD_REQUEST, "malformed-json", None),
        ("form body", vec![("authorization", auth.clone()), ("content-type", "application/x-www-form-urlencoded".into()), ("idempotency-key", "k2".into())], b"service=x".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", None),
        ("array body", std("k3"), b"[]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("")),
        ("missing service", std("k4"), json!({"input": {}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("/service")),
        ("input not an object", std("k5"), json!({"service": "post.address.verify", "input": "RRRD2929"}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("/input")),
        ("unknown top-level field", std("k6"), json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "callback": "x"}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("/callback")),
        ("bad notify_url", std("k7"), json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "notify_url": "javascript:alert(1)"}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("/notify_url")),
        ("unknown input field", std("k8"), json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929", "zip": "1"}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("/input/zip")),
        ("bad short address", std("k9"), json!({"service": "post.address.verify", "input": {"shortAddress": "RR2929"}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("/input/shortAddress")),
        ("both address forms", std("k10"), json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929", "buildingNumber": "2929", "postalCode": "12211", "additionalNumber": "7788"}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", None),
        ("unknown service", std("k11"), json!({"service": "post.address.teleport", "input": {}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "unknown-service", Some("/service")),
        ("not a service name", std("k12"), json!({"service": "DROP TABLE", "input": {}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "unknown-service", Some("/service")),
        ("service without access", std("k13"), json!({"service": "chambers.membership.verify", "input": {"unifiedNumber": "7000000001"}}).to_string().into(), StatusCode::FORBIDDEN, "service-forbidden", Some("/service")),
        ("Luhn-failing national ID", std("k14"), json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000009", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", Some("/input/idNumber")),
        ("valid input, agency not connected", std("k15"), json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}}).to_string().into(), StatusCode::UNPROCESSABLE_ENTITY, "service-not-available", Some("/service")),
        ("body over the limit", std("k16"), json!({"service": "post.address.verify", "input": {"shortAddress": "x".repeat(300 * 1024)}}).to_string().into(), StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", None),
    ];
    for (what, headers, body, status, kind, pointer) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = h.send(Method::POST, "/v1/requests", &headers, body).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        assert_eq!(problem_type(&reply), kind, "{what}");
        assert_eq!(reply.body["status"], status.as_u16(), "{what}");
        if let Some(pointer) = pointer {
            assert!(
                pointers(&reply).contains(&pointer.to_owned()),
                "{what}: {}",
                reply.body
            );
        }
    }
    assert_eq!(h.stored_requests().await, 0, "a refused request was stored");
    assert_eq!(h.audit_entries().await, 0, "a refused request was audited");
}

#[tokio::test]
async fn malformed_json_says_where() {
    let h = Harness::new().await;
    let reply = h
        .post_with(
            "k",
            &[],
            b"{\n  \"service\": \"post.address.verify\",\n  \"input\": {,}\n}",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 3, column"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn problems_speak_arabic_when_asked() {
    let h = Harness::new().await;
    let reply = h.post_with("k", &[("accept-language", "ar-SA, en;q=0.5")], json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000009", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}}).to_string()).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.headers["content-language"], "ar");
    assert_eq!(reply.body["title"], "الطلب غير صالح");
    let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
        "{detail}"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let h = Harness::new().await;
    let reply = h.send(Method::GET, "/v2/nothing", &[], Vec::new()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(problem_type(&reply), "not-found");
    let reply = h
        .send(Method::DELETE, "/v1/requests", &[], Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(problem_type(&reply), "method-not-allowed");
}

#[tokio::test]
async fn bad_list_parameters_are_named() {
    let h = Harness::new().await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("status=DONE", "status"),
        ("cursor=x", "cursor"),
        ("colour=red", "colour"),
    ] {
        let reply = h.get(&format!("/v1/requests?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(problem_type(&reply), "invalid-query");
        assert_eq!(reply.body["errors"][0]["parameter"], parameter, "{query}");
    }
}

#[tokio::test]
async fn identifiers_in_arabic_digits_and_e164_mobiles_are_accepted_and_stored_canonical() {
    let h = Harness::with(
        &["post.address.verify", "interior.identity.verify"],
        rabt_api::ApiSettings::default(),
    )
    .await;
    let reply = h
        .post(
            "arabic-digits",
            &json!({"service": "interior.identity.verify", "input": {
                "idNumber": "١٠٠٠٠٠٠٠٠٨",
                "birthDate": {"calendar": "hijri", "year": 1400.0, "month": 7}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().parse().unwrap();
    let stored = h.stored(id).await;
    assert_eq!(
        stored.input,
        json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}})
    );
    assert_eq!(stored.tasks.len(), 1);
}

#[tokio::test]
async fn no_problem_shows_a_regular_expression_to_a_person() {
    let h = Harness::with(
        &["post.address.verify", "interior.identity.verify"],
        rabt_api::ApiSettings::default(),
    )
    .await;
    for language in ["ar", "en"] {
        let reply = h
            .post_with(
                "regex",
                &[("accept-language", language)],
                json!({"service": "interior.identity.verify", "input": {"idNumber": "3000000001",
                    "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}})
                .to_string(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let detail = reply.body["errors"][0]["detail"].as_str().unwrap();
        assert!(!detail.contains('^') && !detail.contains("\\d"), "{detail}");
        assert!(detail.contains("10"), "says how many digits: {detail}");
    }
}
