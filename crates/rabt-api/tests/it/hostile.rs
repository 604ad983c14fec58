//! Input an attacker sends (issue 14, "Found by probing it as an attacker would"): each
//! is refused with a precise 4xx, writes nothing, and answers with a body no larger than
//! need be. Run on SQLite and on PostgreSQL, which refuses a NUL character in text and
//! used to answer it with a 500.

use axum::http::{Method, StatusCode};
use rabt_core::RequestId;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply, pointers, problem_type};

macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::harness::Harness::new().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::harness::Harness::on_postgres().await).await
            }
        }
    };
}

async fn post_raw(h: &Harness, key: &str, body: &str) -> Reply {
    h.send(
        Method::POST,
        "/v1/requests",
        &[
            ("authorization", &format!("Bearer {}", h.key)),
            ("idempotency-key", key),
            ("content-type", "application/json"),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

/// Asserts `reply` is a problem of `status` and `slug` naming `pointer`.
fn refused(reply: &Reply, status: StatusCode, slug: &str, pointer: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(problem_type(reply), slug, "{}", reply.body);
    assert_eq!(pointers(reply), [pointer], "{}", reply.body);
}

async fn nothing_written(h: &Harness) {
    assert_eq!(h.stored_requests().await, 0, "a request was stored");
    assert_eq!(h.audit_entries().await, 0, "an audit entry was written");
}

async fn a_nul_character_is_refused_where_it_is(h: Harness) {
    let address = r#""service":"post.address.verify","input":{"shortAddress":"RRRD2929"}"#;
    let cases = [
        (
            format!(r#"{{{address},"reference":"a\u0000b"}}"#),
            "/reference",
        ),
        (
            format!(r#"{{{address},"notify_url":"https://erp.example.sa/\u0000"}}"#),
            "/notify_url",
        ),
        (
            r#"{"service":"post.address.verify","input":{"shortAddress":"RRRD\u00002929"}}"#
                .to_owned(),
            "/input/shortAddress",
        ),
        (
            r#"{"service":"post.address\u0000.verify","input":{}}"#.to_owned(),
            "/service",
        ),
    ];
    for (i, (body, pointer)) in cases.iter().enumerate() {
        let reply = post_raw(&h, &format!("nul-{i}"), body).await;
        refused(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
            pointer,
        );
        assert!(
            reply.body["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("NUL")
        );
    }
    let listed = h.get("/v1/requests?reference=a%00b").await;
    assert_eq!(listed.status, StatusCode::BAD_REQUEST, "{}", listed.body);
    assert_eq!(problem_type(&listed), "invalid-query");
    assert_eq!(listed.body["errors"][0]["parameter"], "reference");
    nothing_written(&h).await;
}
both_backends!(a_nul_character_is_refused_where_it_is);

/// The operators' searches take free text (an operator's name, an action): a NUL in it
/// was a 500 on PostgreSQL (schemathesis found it); now a 400 naming the parameter.
async fn a_nul_character_in_an_operators_search_is_refused(h: Harness) {
    let token = h.operator("nul", rabt_store::OperatorRole::Viewer).await;
    let bearer = format!("Bearer {token}");
    for (uri, parameter) in [
        ("/ops/v1/audit?operator=a%00b", "operator"),
        ("/ops/v1/audit?action=a%00b", "action"),
        ("/ops/v1/requests?service=a%00b", "service"),
    ] {
        let reply = h
            .send(Method::GET, uri, &[("authorization", &bearer)], Vec::new())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            reply.body
        );
        assert_eq!(problem_type(&reply), "invalid-query");
        assert_eq!(reply.body["errors"][0]["parameter"], parameter, "{uri}");
    }
}
both_backends!(a_nul_character_in_an_operators_search_is_refused);

async fn saying_one_thing_twice_is_ambiguous(h: Harness) {
    // "Last wins" would run the second service: refused instead.
    let twice = r#"{"service":"interior.identity.verify","input":{"shortAddress":"RRRD2929"},"service":"post.address.verify"}"#;
    let reply = post_raw(&h, "dup-1", twice).await;
    refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "ambiguous-request",
        "/service",
    );
    let nested = r#"{"service":"post.address.verify","input":{"shortAddress":"RRRD2929","shortAddress":"ZZZZ9999"}}"#;
    let reply = post_raw(&h, "dup-2", nested).await;
    refused(
        &reply,
        StatusCode::BAD_REQUEST,
        "ambiguous-request",
        "/input/shortAddress",
    );
    let reply = h
        .send(
            Method::POST,
            "/v1/requests",
            &[
                ("authorization", &format!("Bearer {}", h.key)),
                ("idempotency-key", "first"),
                ("idempotency-key", "second"),
                ("content-type", "application/json"),
            ],
            br#"{"service":"post.address.verify","input":{"shortAddress":"RRRD2929"}}"#.to_vec(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(problem_type(&reply), "ambiguous-request");
    nothing_written(&h).await;
}
both_backends!(saying_one_thing_twice_is_ambiguous);

async fn deep_and_long_json_is_refused_naming_the_field(h: Harness) {
    let deep = format!(
        r#"{{"service":"post.address.verify","input":{{"x":{}1{}}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let reply = post_raw(&h, "deep", &deep).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert!(
        pointers(&reply)[0].starts_with("/input/x/0/0/0"),
        "{}",
        reply.body
    );
    let long = json!({"service": "post.address.verify",
        "input": {"shortAddress": "R".repeat(10_000)}});
    let reply = post_raw(&h, "long", &long.to_string()).await;
    refused(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
        "/input/shortAddress",
    );
    nothing_written(&h).await;
}
both_backends!(deep_and_long_json_is_refused_naming_the_field);

/// 20,000 unknown keys in a 249 KB body used to get a 2.58 MB answer, and a 200 KB key
/// was echoed twice. Now an answer lists 20 errors at most and echoes 200 characters of
/// a name at most, and an object of more than 1,000 members is refused as it is read.
async fn error_bodies_stay_smaller_than_the_request(h: Harness) {
    let mut input = serde_json::Map::new();
    input.insert("shortAddress".to_owned(), json!("RRRD2929"));
    // 999 unknown keys: as many as an object may hold (1,000 members).
    for i in 0..999 {
        input.insert(format!("k{i:05}"), json!(1));
    }
    let body = json!({"service": "post.address.verify", "input": input}).to_string();
    assert!(body.len() < 256 * 1024, "{} bytes", body.len());
    let reply = post_raw(&h, "many", &body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer = reply.body.to_string().len();
    assert!(answer < 10_000, "a {answer}-byte answer");
    assert_eq!(reply.body["errors"].as_array().unwrap().len(), 20);
    assert_eq!(reply.body["errorsOmitted"], 999 - 20);
    // 20,000 are refused while reading, at the object that holds them.
    let mut input = serde_json::Map::new();
    for i in 0..20_000 {
        input.insert(format!("k{i:05}"), json!(1));
    }
    let body = json!({"service": "post.address.verify", "input": input}).to_string();
    let reply = post_raw(&h, "very-many", &body).await;
    refused(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
        "/input",
    );

    let key = "k".repeat(200_000);
    let body =
        json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, key: 1});
    // Refused by the default limit on the length of a key, which it names (cut short).
    let reply = post_raw(&h, "long-key", &body.to_string()).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    let answer = reply.body.to_string().len();
    assert!(answer < 2_000, "a {answer}-byte answer echoing the key");
    nothing_written(&h).await;
}
both_backends!(error_bodies_stay_smaller_than_the_request);

async fn post_traced(h: &Harness, key: &str, traceparents: &[&str]) -> Reply {
    let authorization = format!("Bearer {}", h.key);
    let mut headers = vec![
        ("authorization", authorization.as_str()),
        ("idempotency-key", key),
        ("content-type", "application/json"),
    ];
    headers.extend(traceparents.iter().map(|t| ("traceparent", *t)));
    h.send(
        Method::POST,
        "/v1/requests",
        &headers,
        br#"{"service":"post.address.verify","input":{"shortAddress":"RRRD2929"}}"#.to_vec(),
    )
    .await
}

async fn stored_traceparent(h: &Harness, reply: &Reply) -> Option<String> {
    let id = RequestId::parse(reply.body["id"].as_str().unwrap()).unwrap();
    let record = h.stored(id).await;
    let task = h
        .store
        .task_for_work(record.tasks[0].id)
        .await
        .unwrap()
        .unwrap();
    task.traceparent
}

/// A `traceparent` travels to the queue and the agencies. What travels is Rabt's own
/// span's context: it continues the caller's trace only when the caller sent one valid
/// W3C value; a forged one, an all-zero one or two of them start a trace of Rabt's own,
/// and nothing the caller wrote is passed on.
async fn only_a_valid_traceparent_is_continued(h: Harness) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    // The exporter-less layer the binary installs, for this thread (the requests below
    // run on it: `send` awaits the router in place).
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let reply = post_traced(&h, "tp-valid", &[valid]).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let stored = stored_traceparent(&h, &reply)
        .await
        .expect("a trace context");
    assert_eq!(
        rabt_trace::trace_id_of(&stored).as_deref(),
        Some(caller_trace)
    );
    assert_ne!(
        stored, valid,
        "Rabt's own span is the parent of what follows"
    );

    // 55 characters of the caller's choosing, an all-zero trace id, two values: a
    // trace of Rabt's own, the request still accepted.
    let forged = "00-<script>alert(1)</script>-00000000000000000000000-01";
    assert_eq!(forged.len(), 55);
    let zeros = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
    for (key, sent) in [
        ("tp-forged", vec![forged]),
        ("tp-zeros", vec![zeros]),
        ("tp-twice", vec![valid, other]),
    ] {
        let reply = post_traced(&h, key, &sent).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{key}: {}", reply.body);
        let stored = stored_traceparent(&h, &reply)
            .await
            .expect("a trace context");
        let trace = rabt_trace::trace_id_of(&stored).expect("a valid traceparent");
        assert!(
            !sent.iter().any(|s| s.contains(&trace)),
            "{key}: continued the caller's {sent:?} as {stored}"
        );
    }
}
both_backends!(only_a_valid_traceparent_is_continued);

/// The unknown key of a large body: a cooperative mistyping a field learns which.
#[tokio::test]
async fn unknown_fields_are_still_named() {
    let h = Harness::new().await;
    let body: Value = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "referense": "x"});
    let reply = post_raw(&h, "typo", &body.to_string()).await;
    refused(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
        "/referense",
    );
}
