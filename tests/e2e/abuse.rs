//! The abuse run (issue 14, OWASP API4 and friends), against `rabt serve` on PostgreSQL
//! and RabbitMQ with production settings: 1,000 malformed or hostile inputs (bad JSON,
//! wrong types, NUL bytes, huge and deep bodies, duplicate keys, other cooperatives'
//! ids, forged, stale and cross-agency callbacks, bad tokens, SSRF notification URLs in
//! every encoding, abused headers and query strings) while 200 idle and 20 slow
//! connections hang on, and a cooperative keeps sending normal requests.
//!
//! Every hostile input is answered 4xx (an RFC 9457 problem) or cut off, none 5xx;
//! nothing is written for them (the only new rows belong to the normal requests, audit
//! included); nothing connects to the refused addresses; every idle and slow
//! connection is closed; the normal requests are served throughout; and the api
//! process's memory comes back to its baseline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rabt_tests::Deployment;
use serde_json::{Value, json};
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// One hostile request: method, path, headers, body.
struct Hostile {
    what: String,
    method: reqwest::Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

const RFC_9457: &str = include_str!("../conformance/rfc9457-problem.schema.json");

fn post(what: &str, key: Option<&str>, headers: &[(&str, &str)], body: Vec<u8>) -> Hostile {
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if let Some(key) = key {
        all.push(("authorization".into(), format!("Bearer {key}")));
    }
    Hostile {
        what: what.to_owned(),
        method: reqwest::Method::POST,
        path: "/v1/requests".into(),
        headers: all,
        body,
    }
}

/// The SSRF spellings of a loopback/private/metadata target, all at `port`.
fn ssrf_urls(port: u16) -> Vec<String> {
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "[fd00:ec2::254]",
        "100.64.0.1",
        "[fd00::1]",
        "[fe80::1]",
        "localhost",
        "api.localhost",
        "metadata.google.internal",
        "printer.local",
        "router.home.arpa",
        "intranet",
        "LOCALHOST",
        "127.0.0.1.nip.io.localhost",
        "%31%32%37.0.0.1",
        "127。0。0。1",
    ]
    .iter()
    .flat_map(|host| {
        [
            format!("https://{host}:{port}/hook"),
            format!("http://{host}:{port}/hook"),
            format!("https://user:pass@{host}:{port}/hook"),
        ]
    })
    .collect()
}

/// A thousand hostile requests, cycling through their kinds.
fn hostile_inputs(
    key: &str,
    foreign_request: &str,
    secrets: &BTreeMap<String, String>,
    port: u16,
) -> Vec<Hostile> {
    let json = [("content-type", "application/json")];
    let address = |extra: &str| {
        format!(
            r#"{{"service":"post.address.verify","input":{{"shortAddress":"RRRD2929"}}{extra}}}"#
        )
    };
    let mut kinds: Vec<Box<dyn Fn(usize) -> Hostile>> = Vec::new();
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        post(
            "truncated JSON",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("t{i}")),
            ],
            br#"{"service":"post.address"#.to_vec(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        post(
            "not UTF-8",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("u{i}")),
            ],
            vec![b'{', 0xff, 0xfe, b'}'],
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        post(
            "wrong content type",
            Some(&k),
            &[
                ("content-type", "text/plain"),
                ("idempotency-key", &format!("c{i}")),
            ],
            address("").into_bytes(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        post(
            "wrong types",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("w{i}")),
            ],
            br#"{"service":7,"input":[1],"reference":{"a":1},"notify_url":false}"#.to_vec(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        let fields = [
            r#","reference":"a\u0000b""#,
            r#","notify_url":"https://erp.example.sa/\u0000""#,
        ];
        post(
            "NUL byte",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("n{i}")),
            ],
            format!(
                r#"{{"service":"post.address.verify","input":{{"shortAddress":"RRRD2929"}}{}}}"#,
                fields[i % 2]
            )
            .into_bytes(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        post(
            "NUL in the input",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("ni{i}")),
            ],
            br#"{"service":"post.address.verify","input":{"shortAddress":"RRRD\u00002929"}}"#
                .to_vec(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        post(
            "huge body",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("h{i}")),
            ],
            format!(
                r#"{{"service":"post.address.verify","input":{{"x":"{}"}}}}"#,
                "A".repeat(300 * 1024)
            )
            .into_bytes(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        post(
            "deep body",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("d{i}")),
            ],
            format!(
                r#"{{"service":"post.address.verify","input":{{"x":{}1{}}}}}"#,
                "[".repeat(5000),
                "]".repeat(5000)
            )
            .into_bytes(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| {
        let mut body =
            String::from(r#"{"service":"post.address.verify","input":{"shortAddress":"RRRD2929""#);
        for j in 0..20_000 {
            body.push_str(&format!(r#","k{j}":1"#));
        }
        body.push_str("}}");
        post(
            "20,000 unknown keys",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("m{i}")),
            ],
            body.into_bytes(),
        )
    }));
    let k = key.to_owned();
    kinds.push(Box::new(move |i| post("duplicate keys", Some(&k), &[("content-type", "application/json"), ("idempotency-key", &format!("dup{i}"))], br#"{"service":"interior.identity.verify","input":{"shortAddress":"RRRD2929"},"service":"post.address.verify"}"#.to_vec())));
    let k = key.to_owned();
    let body = address("");
    kinds.push(Box::new(move |i| {
        post(
            "Idempotency-Key twice",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("a{i}")),
                ("idempotency-key", &format!("b{i}")),
            ],
            body.clone().into_bytes(),
        )
    }));
    let k = key.to_owned();
    let body = address("");
    kinds.push(Box::new(move |_| {
        post(
            "no Idempotency-Key",
            Some(&k),
            &json,
            body.clone().into_bytes(),
        )
    }));
    let k = key.to_owned();
    let body = address("");
    kinds.push(Box::new(move |_| {
        post(
            "Idempotency-Key too long",
            Some(&k),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &"k".repeat(300)),
            ],
            body.clone().into_bytes(),
        )
    }));
    let body = address("");
    kinds.push(Box::new(move |i| {
        let tokens = [
            "Bearer rabt_nope",
            "Basic Zm9vOmJhcg==",
            "Bearer",
            "bearer  ",
            &format!("Bearer {}", "x".repeat(300)),
            "Bearer rabt_op_notanoperatortoken",
        ];
        post(
            "bad token",
            None,
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &format!("bt{i}")),
                ("authorization", tokens[i % tokens.len()]),
            ],
            body.clone().into_bytes(),
        )
    }));
    let k = key.to_owned();
    let urls = ssrf_urls(port);
    kinds.push(Box::new(move |i| {
        let url = &urls[i % urls.len()];
        post("SSRF notify_url", Some(&k), &[("content-type", "application/json"), ("idempotency-key", &format!("s{i}"))], json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "notify_url": url}).to_string().into_bytes())
    }));
    let k = key.to_owned();
    let foreign = foreign_request.to_owned();
    kinds.push(Box::new(move |i| {
        let paths = [
            format!("/v1/requests/{foreign}"),
            format!("/v1/requests?cursor={foreign}&reference=%00"),
            "/v1/requests?limit=0".to_owned(),
            "/v1/requests?sort=%27%3B--".to_owned(),
            "/v1/requests/..%2F..%2Fetc%2Fpasswd".to_owned(),
            "/ops/v1/dead-letters".to_owned(),
        ];
        Hostile {
            what: format!("a read it may not make #{}", i % paths.len()),
            method: reqwest::Method::GET,
            path: paths[i % paths.len()].clone(),
            headers: vec![("authorization".into(), format!("Bearer {k}"))],
            body: Vec::new(),
        }
    }));
    // Callbacks: forged, stale (an old delivery replayed) and cross-agency.
    let municipal = secrets.get("municipal").cloned().unwrap_or_default();
    let health = secrets.get("health").cloned().unwrap_or_default();
    kinds.push(Box::new(move |i| {
        let body =
            json!({"reference": "BLD-00C0FFEE", "licenseNumber": "4000012345", "status": "ACTIVE"})
                .to_string();
        let now = chrono_now();
        let (agency, headers): (&str, Vec<(String, String)>) = match i % 4 {
            0 => (
                "municipal",
                vec![
                    ("webhook-id".into(), "x".repeat(1024)),
                    ("webhook-timestamp".into(), now.to_string()),
                    ("webhook-signature".into(), "v1,AAAA".into()),
                ],
            ),
            1 => (
                "municipal",
                signed(&municipal, &format!("msg_stale_{i}"), now - 3600, &body),
            ),
            2 => (
                "health",
                signed(&municipal, &format!("msg_cross_{i}"), now, &body),
            ),
            _ => (
                "health",
                signed(&health, &format!("msg_future_{i}"), now + 3600, &body),
            ),
        };
        let mut headers = headers;
        headers.push(("content-type".into(), "application/json".into()));
        Hostile {
            what: "forged, stale or cross-agency callback".into(),
            method: reqwest::Method::POST,
            path: format!("/v1/callbacks/{agency}"),
            headers,
            body: body.into_bytes(),
        }
    }));
    kinds.push(Box::new(|i| Hostile {
        what: "unknown route or method".into(),
        method: [
            reqwest::Method::DELETE,
            reqwest::Method::PUT,
            reqwest::Method::PATCH,
        ][i % 3]
            .clone(),
        path: ["/v1/requests", "/v1/../admin", "/v1/callbacks/nsa"][i % 3].into(),
        headers: Vec::new(),
        body: Vec::new(),
    }));
    // Each kind gets its own count (0, 1, 2…): its variants take turns.
    (0..1000)
        .map(|i| kinds[i % kinds.len()](i / kinds.len()))
        .collect()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn signed(secret: &str, id: &str, timestamp: i64, body: &str) -> Vec<(String, String)> {
    let secret = rabt_webhook::Secret::parse(secret).unwrap();
    let headers = rabt_webhook::sign(&[secret], id, timestamp, body.as_bytes());
    vec![
        ("webhook-id".into(), headers.id),
        ("webhook-timestamp".into(), headers.timestamp),
        ("webhook-signature".into(), headers.signature),
    ]
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_hostile_inputs_and_hanging_connections_change_nothing() {
    let deployment = Deployment::start(1, "post.address.verify,interior.identity.verify")
        .await
        .unwrap();
    let base = deployment.client.base_url.clone();
    let api_port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let pool = sqlx::PgPool::connect(&deployment.wiring.database_url)
        .await
        .unwrap();
    // Another cooperative with a request of its own: its id must stay invisible.
    let other = deployment
        .wiring
        .run(&[
            "coop",
            "add",
            "--name",
            "Other",
            "--unified-number",
            "7000000002",
            "--services",
            "post.address.verify",
        ])
        .unwrap();
    let other_key = other
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap()
        .trim()
        .to_owned();
    let other_client = rabt_tests::Client::new(&base, &other_key);
    let (status, body) = other_client
        .submit(
            &json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{body}");
    let foreign = body["id"].as_str().unwrap().to_owned();
    let secrets: BTreeMap<String, String> = deployment
        .wiring
        .env()
        .into_iter()
        .filter_map(|(k, v)| {
            let agency = k
                .strip_prefix("RABT_AGENCY_")?
                .strip_suffix("_CALLBACK_SECRETS")?;
            Some((agency.to_ascii_lowercase(), v))
        })
        .collect();
    // The refused addresses' listener: nothing may ever connect to it.
    let trap = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_port = trap.local_addr().unwrap().port();
    let trapped = Arc::new(AtomicUsize::new(0));
    let trap_counter = trapped.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = trap.accept().await {
            trap_counter.fetch_add(1, Ordering::SeqCst);
        }
    });

    // Warm up, then the baseline: rows and the api process's memory.
    let mut warm_up = Vec::new();
    for _ in 0..20 {
        let (status, body) = deployment
            .client
            .submit(
                &json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}}),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 202);
        warm_up.push(body["id"].as_str().unwrap().to_owned());
    }
    // Their tasks complete before the baseline, so that every audit entry after it is
    // the hostile inputs' or the normal requests'.
    for id in &warm_up {
        deployment
            .client
            .completed(id, Duration::from_secs(60))
            .await
            .unwrap();
    }
    other_client
        .completed(&foreign, Duration::from_secs(60))
        .await
        .unwrap();
    let api_pid = deployment.api.pid();
    let rss_before = rss_kib(api_pid);
    let tables = [
        "requests",
        "tasks",
        "idempotency_keys",
        "callbacks",
        "notifications",
        "dead_letters",
    ];
    let mut before = BTreeMap::new();
    for table in tables {
        before.insert(
            table,
            count(&pool, &format!("SELECT count(*) FROM {table}")).await,
        );
    }
    let audit_before = count(&pool, "SELECT COALESCE(max(seq), 0) FROM audit_log").await;

    // Normal requests all along: each must be accepted.
    let stop = Arc::new(AtomicBool::new(false));
    let normal_ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let normal_failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let normal = {
        let (client, stop, ids, failures) = (
            deployment.client.clone(),
            stop.clone(),
            normal_ids.clone(),
            normal_failures.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match client.submit(&json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}}), None).await {
                    Ok((202, body)) => ids.lock().await.push(body["id"].as_str().unwrap_or_default().to_owned()),
                    other => failures.lock().await.push(format!("{other:?}")),
                }
                if started.elapsed() > Duration::from_secs(5) {
                    failures
                        .lock()
                        .await
                        .push(format!("a normal request took {:?}", started.elapsed()));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    // 200 idle and 20 slow connections (a request line at a byte a second).
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(("127.0.0.1", api_port)).await.unwrap());
    }
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(("127.0.0.1", api_port)).await.unwrap();
        slow.push(tokio::spawn(async move {
            let started = Instant::now();
            for byte in b"GET /v1/services HTTP/1.1\r\nhost: rabt\r\nx-slow: 1\r\n\r\n" {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let mut rest = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut rest)).await;
            (
                started.elapsed(),
                String::from_utf8_lossy(&rest).into_owned(),
            )
        }));
    }

    // The thousand hostile inputs, four at a time.
    let inputs = hostile_inputs(deployment.client.api_key(), &foreign, &secrets, trap_port);
    assert_eq!(inputs.len(), 1000);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let rfc = jsonschema::options()
        .should_validate_formats(true)
        .build(&serde_json::from_str::<Value>(RFC_9457).unwrap())
        .unwrap();
    let outcomes = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    let bad = Arc::new(Mutex::new(Vec::<String>::new()));
    let inputs = Arc::new(Mutex::new(inputs));
    let mut senders = Vec::new();
    let rfc = Arc::new(rfc);
    for _ in 0..4 {
        let (http, base, inputs, outcomes, bad, rfc) = (
            http.clone(),
            base.clone(),
            inputs.clone(),
            outcomes.clone(),
            bad.clone(),
            rfc.clone(),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let Some(h) = inputs.lock().await.pop() else {
                    break;
                };
                let mut request = http.request(h.method.clone(), format!("{base}{}", h.path));
                for (name, value) in &h.headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                let answer = request.body(h.body.clone()).send().await;
                let label = match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let problem = response
                            .headers()
                            .get("content-type")
                            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
                        let text = response.text().await.unwrap_or_default();
                        if !(400..500).contains(&status) {
                            bad.lock()
                                .await
                                .push(format!("{}: {status} {text:.300}", h.what));
                        } else if status != 431 {
                            // hyper's own 431 has no body; every answer of Rabt is a problem.
                            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                            if !problem || !rfc.is_valid(&body) || body["status"] != status {
                                bad.lock().await.push(format!(
                                    "{}: {status} not an RFC 9457 problem: {text:.300}",
                                    h.what
                                ));
                            }
                            if text.len() > 12_000 {
                                bad.lock().await.push(format!(
                                    "{}: a {}-byte answer",
                                    h.what,
                                    text.len()
                                ));
                            }
                        }
                        status.to_string()
                    }
                    Err(err) if err.is_timeout() => {
                        bad.lock()
                            .await
                            .push(format!("{}: no answer within 30 s", h.what));
                        "timeout".to_owned()
                    }
                    // Cut off (a body refused before it was read, the connection closed).
                    Err(_) => "cut off".to_owned(),
                };
                *outcomes
                    .lock()
                    .await
                    .entry(format!("{} → {label}", h.what))
                    .or_default() += 1;
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }

    // The idle and slow connections are closed by the server (header read timeout).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut open = 0;
    for stream in &mut idle {
        let mut byte = [0u8; 1];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {}
            _ => open += 1,
        }
    }
    assert_eq!(
        open, 0,
        "{open} idle connections were still open after the header timeout"
    );
    for handle in slow {
        let (took, answer) = handle.await.unwrap();
        assert!(
            !answer.contains("200 OK"),
            "a request sent at a byte a second was served"
        );
        assert!(
            took < Duration::from_secs(40),
            "a slow connection held on {took:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    normal.await.unwrap();

    let outcomes = outcomes.lock().await.clone();
    println!("{outcomes:#?}");
    let bad = bad.lock().await.clone();
    assert!(
        bad.is_empty(),
        "{} hostile inputs were not refused cleanly:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let failures = normal_failures.lock().await.clone();
    assert!(
        failures.is_empty(),
        "normal requests failed meanwhile: {failures:?}"
    );
    let normal_ids = normal_ids.lock().await.clone();
    assert!(
        normal_ids.len() >= 10,
        "only {} normal requests served",
        normal_ids.len()
    );

    // Nothing written for them: the new rows are the normal requests', audit included.
    let n = normal_ids.len() as i64;
    let after = |table: &'static str| {
        let pool = pool.clone();
        async move { count(&pool, &format!("SELECT count(*) FROM {table}")).await }
    };
    assert_eq!(after("requests").await - before["requests"], n);
    assert_eq!(after("tasks").await - before["tasks"], n);
    assert_eq!(
        after("idempotency_keys").await - before["idempotency_keys"],
        n
    );
    for table in ["callbacks", "notifications", "dead_letters"] {
        assert_eq!(after(table).await, before[table], "rows written to {table}");
    }
    // Only verified callbacks are audited: not one entry for these inputs.
    let foreign_audit = sqlx::query(
        "SELECT count(*) FROM audit_log WHERE seq > $1 \
         AND (request_id IS NULL OR NOT (request_id = ANY($2)))",
    )
    .bind(audit_before)
    .bind(&normal_ids)
    .fetch_one(&pool)
    .await
    .unwrap()
    .get::<i64, _>(0);
    assert_eq!(foreign_audit, 0, "audit entries written for hostile inputs");
    assert_eq!(
        trapped.load(Ordering::SeqCst),
        0,
        "something connected to a refused address"
    );

    // Memory back to its baseline once the connections are gone (allocator slack: 25 MB).
    let settle = Instant::now() + Duration::from_secs(20);
    let mut rss_after = rss_kib(api_pid);
    while rss_after > rss_before + 25 * 1024 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_after = rss_kib(api_pid);
    }
    println!(
        "api RSS: {} KiB before, {} KiB after",
        rss_before, rss_after
    );
    assert!(
        rss_after <= rss_before + 25 * 1024,
        "api RSS {rss_before} KiB before, {rss_after} KiB after"
    );
}
