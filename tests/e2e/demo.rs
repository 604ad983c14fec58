//! `rabt demo`: the quickstart a newcomer runs, end to end.

use std::path::Path;
use std::time::{Duration, Instant};

use rabt_test_support::{TempDir, unique};
use rabt_tests::{Client, Rabt};
use serde_json::{Value, json};

struct Demo {
    _process: Rabt,
    client: Client,
    credentials: Value,
    state: std::path::PathBuf,
    _dir: TempDir,
}

async fn start_demo() -> Demo {
    let dir = TempDir::create("rabt-demo-").unwrap();
    let state = dir.path().join("state");
    let mut process = Rabt::demo("demo", "127.0.0.1:0", &state, dir.path()).unwrap();
    let file = state.join("demo-credentials.json");
    let credentials = process
        .until(Duration::from_secs(60), "demo-credentials.json", || async {
            read_json(&file)
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let client = Client::new(
        credentials["base_url"].as_str().unwrap(),
        credentials["api_key"].as_str().unwrap(),
    );
    client
        .ready(&mut process, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    Demo {
        _process: process,
        client,
        credentials,
        state,
        _dir: dir,
    }
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

#[tokio::test]
async fn demo_writes_its_credentials() {
    let demo = start_demo().await;
    for field in ["base_url", "ops_base_url", "api_key", "operator_token"] {
        assert!(
            demo.credentials[field]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert!(
        demo.credentials["api_key"]
            .as_str()
            .unwrap()
            .starts_with("rabt_")
    );
    assert_eq!(demo.credentials["operator"], "demo-admin");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["demo-credentials.json", "rabt.db"] {
            let mode = std::fs::metadata(demo.state.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}: {mode:o}");
        }
    }
}

/// Operators' surfaces are on the ops listener only; the public one does not have them.
#[tokio::test]
async fn demo_serves_operators_on_their_own_listener() {
    let demo = start_demo().await;
    let ops = demo.credentials["ops_base_url"].as_str().unwrap();
    let public = demo.credentials["base_url"].as_str().unwrap();
    assert_ne!(ops, public);
    let token = demo.credentials["operator_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let letters = http
        .get(format!("{ops}/ops/v1/dead-letters"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(letters.status(), 200);
    assert_eq!(
        reqwest::get(format!("{ops}/metrics"))
            .await
            .unwrap()
            .status(),
        200
    );
    for path in ["/ops/v1/dead-letters", "/metrics"] {
        let response = http
            .get(format!("{public}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path} on the public listener");
    }
    // And the public API is not on the operators' listener.
    let services = http
        .get(format!("{ops}/v1/services"))
        .bearer_auth(demo.credentials["api_key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(services.status(), 404);
}

#[tokio::test]
async fn demo_verifies_a_known_short_address_within_the_wait() {
    let demo = start_demo().await;
    let started = Instant::now();
    let (status, body) = demo
        .client
        .submit(
            &json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}}),
            Some(5),
        )
        .await
        .unwrap();
    let elapsed = started.elapsed();
    println!("demo answer time for RRRD2929: {elapsed:?}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["outcome"], "OK", "{body}");
    assert_eq!(body["verdict"], "PASS");
    let data = &body["data"];
    assert_eq!(data["found"], true);
    assert_eq!(data["buildingNumber"], "2929");
    assert_eq!(data["city"]["en"], "Riyadh");
    assert_eq!(data["city"]["ar"], "الرياض");
    for field in ["district", "street"] {
        assert!(
            data[field]["ar"].as_str().is_some_and(|s| !s.is_empty()),
            "{field} in Arabic: {data}"
        );
        assert!(
            data[field]["en"].as_str().is_some_and(|s| !s.is_empty()),
            "{field} in English: {data}"
        );
    }
    assert_eq!(data["postalCode"].as_str().map(str::len), Some(5), "{data}");
    assert_eq!(
        data["additionalNumber"].as_str().map(str::len),
        Some(4),
        "{data}"
    );
    assert_eq!(body["checks"][0]["attempts"], 1);
}

#[tokio::test]
async fn demo_answers_not_found_for_an_unknown_short_address() {
    let demo = start_demo().await;
    let (status, body) = demo
        .client
        .submit(
            &json!({"service": "post.address.verify", "input": {"shortAddress": "ZZZZ9999"}}),
            Some(5),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "NOT_FOUND");
    assert_eq!(body["verdict"], "FAIL");
    assert_eq!(body["data"]["found"], false);
    // Without waiting, the same question is accepted and can be polled.
    let (status, accepted) = demo
        .client
        .submit(
            &json!({"service": "post.address.verify", "input": {"shortAddress": "ZZZZ9999"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap();
    let done = demo
        .client
        .completed(id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done["outcome"], "NOT_FOUND");
}

/// One malformed call and what the API must answer.
struct Bad {
    what: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    status: u16,
    pointer: Option<&'static str>,
}

fn bad_cases(key: &str) -> Vec<Bad> {
    let auth = ("Authorization", format!("Bearer {key}"));
    let json_type = ("Content-Type", "application/json".to_owned());
    let idem = || ("Idempotency-Key", unique("k-"));
    let good = |input: Value| {
        json!({"service": "post.address.verify", "input": input})
            .to_string()
            .into_bytes()
    };
    let std_headers = || vec![auth.clone(), json_type.clone(), idem()];
    vec![
        Bad { what: "no API key", body: good(json!({"shortAddress": "RRRD2929"})), headers: vec![json_type.clone(), idem()], status: 401, pointer: None },
        Bad { what: "wrong API key", body: good(json!({"shortAddress": "RRRD2929"})), headers: vec![("Authorization", "Bearer rabt_wrong".into()), json_type.clone(), idem()], status: 401, pointer: None },
        Bad { what: "no Idempotency-Key", body: good(json!({"shortAddress": "RRRD2929"})), headers: vec![auth.clone(), json_type.clone()], status: 400, pointer: None },
        Bad { what: "not JSON", body: b"{\"service\": ".to_vec(), headers: std_headers(), status: 400, pointer: None },
        Bad { what: "wrong content type", body: good(json!({"shortAddress": "RRRD2929"})), headers: vec![auth.clone(), ("Content-Type", "text/plain".into()), idem()], status: 415, pointer: None },
        Bad { what: "missing input", body: json!({"service": "post.address.verify"}).to_string().into_bytes(), headers: std_headers(), status: 422, pointer: Some("/input") },
        Bad { what: "extra top-level field", body: json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "extra": 1}).to_string().into_bytes(), headers: std_headers(), status: 422, pointer: Some("/extra") },
        Bad { what: "extra input field", body: good(json!({"shortAddress": "RRRD2929", "colour": "red"})), headers: std_headers(), status: 422, pointer: Some("/input/colour") },
        Bad { what: "missing input field", body: good(json!({})), headers: std_headers(), status: 422, pointer: None },
        Bad { what: "wrong short address format", body: good(json!({"shortAddress": "RRR2929"})), headers: std_headers(), status: 422, pointer: Some("/input/shortAddress") },
        Bad { what: "wrong type", body: good(json!({"shortAddress": 2929})), headers: std_headers(), status: 422, pointer: Some("/input/shortAddress") },
        Bad { what: "unknown service", body: json!({"service": "post.address.teleport", "input": {}}).to_string().into_bytes(), headers: std_headers(), status: 422, pointer: Some("/service") },
        Bad { what: "national ID failing Luhn", body: json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000009", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}}).to_string().into_bytes(), headers: std_headers(), status: 422, pointer: Some("/input/idNumber") },
        Bad { what: "huge body", body: good(json!({"shortAddress": "x".repeat(400 * 1024)})), headers: std_headers(), status: 413, pointer: None },
    ]
}

async fn stored_requests(client: &Client) -> usize {
    let (status, body) = client.get("/v1/requests?limit=100").await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test]
async fn demo_rejects_every_malformed_input_precisely_and_writes_nothing() {
    let demo = start_demo().await;
    let before = stored_requests(&demo.client).await;
    let key = demo.credentials["api_key"].as_str().unwrap();
    for case in bad_cases(key) {
        let mut request = demo
            .client
            .http()
            .post(format!("{}/v1/requests", demo.client.base_url))
            .body(case.body);
        for (name, value) in &case.headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, case.status, "{}: {body}", case.what);
        assert_eq!(content_type, "application/problem+json", "{}", case.what);
        assert_eq!(body["status"], case.status, "{}", case.what);
        assert!(
            body["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:rabt:problem:"),
            "{}",
            case.what
        );
        assert!(
            body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{}",
            case.what
        );
        if let Some(pointer) = case.pointer {
            let none = Vec::new();
            let errors = body["errors"].as_array().unwrap_or(&none);
            let pointers: Vec<&str> = errors
                .iter()
                .filter_map(|e| e["pointer"].as_str())
                .collect();
            assert!(
                pointers.contains(&pointer),
                "{}: expected pointer {pointer} in {body}",
                case.what
            );
        }
    }
    let after = stored_requests(&demo.client).await;
    assert_eq!(before, after, "a rejected request was stored");
}

#[tokio::test]
async fn demo_idempotency_replays_and_refuses_a_different_body() {
    let demo = start_demo().await;
    let key = demo.credentials["api_key"].as_str().unwrap();
    let post = |body: Value, idem: &'static str| {
        demo.client
            .http()
            .post(format!("{}/v1/requests", demo.client.base_url))
            .bearer_auth(key)
            .header("Idempotency-Key", idem)
            .json(&body)
            .send()
    };
    let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let first = post(body.clone(), "same-key-1").await.unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let first: Value = first.json().await.unwrap();
    let again = post(body, "same-key-1").await.unwrap();
    assert_eq!(again.status().as_u16(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let other = post(
        json!({"service": "post.address.verify", "input": {"shortAddress": "ZZZZ9999"}}),
        "same-key-1",
    )
    .await
    .unwrap();
    assert_eq!(other.status().as_u16(), 422);
    let problem: Value = other.json().await.unwrap();
    assert_eq!(problem["type"], "urn:rabt:problem:idempotency-key-reused");
    let (_, listed) = demo.client.get("/v1/requests?limit=100").await.unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "one request for one key"
    );
}

#[tokio::test]
async fn demo_speaks_arabic_when_asked_and_hides_other_ids() {
    let demo = start_demo().await;
    let response = demo
        .client
        .http()
        .get(format!(
            "{}/v1/requests/req_0193b3c1e6f87c2a9d4e5f60718293a4",
            demo.client.base_url
        ))
        .bearer_auth(demo.credentials["api_key"].as_str().unwrap())
        .header("Accept-Language", "ar-SA,ar;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.headers()["content-language"], "ar");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "غير موجود");
}

/// The harness notices a process that exits while it waits (here a port already taken)
/// and says how it ended and what it logged, instead of waiting out its deadline.
#[tokio::test]
async fn a_process_that_exits_while_awaited_is_reported_with_its_status_and_log() {
    let dir = TempDir::create("rabt-demo-taken-").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let state = dir.path().join("state");
    let listen = format!("127.0.0.1:{port}");
    let mut process = Rabt::demo("demo-taken", &listen, &state, dir.path()).unwrap();
    let error = Client::new(&format!("http://127.0.0.1:{port}"), "")
        .ready(&mut process, Duration::from_secs(60))
        .await
        .expect_err("the port is taken: the demo cannot serve");
    let error = format!("{error:#}");
    assert!(
        error.contains("rabt demo-taken exited (exit status: 1) before the API to be ready"),
        "{error}"
    );
    assert!(
        error.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "the end of its log: {error}"
    );
    assert!(!process.is_running());
}
