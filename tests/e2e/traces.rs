//! One request is one trace: `rabt serve` (an api and a worker process) exports its
//! spans with OTLP/HTTP to a real receiver (tests/otlp_receiver.py, decoding with
//! OpenTelemetry's own protobuf types from PyPI), and the test follows a single-service
//! request and the composite through the API, the outbox relay, RabbitMQ, the worker,
//! the agencies, the municipal callback and the notification: every span in one trace,
//! each with the parent (or link) and attributes of the semantic conventions. A second
//! test points the exporter at an endpoint that never answers: requests are served as
//! usual and the spans that do not fit the queue are counted as dropped in /metrics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rabt_test_support::{TempDir, eventually, python, unique};
use rabt_tests::{Deployment, free_port};
use serde_json::{Value, json};

/// The Python receiver, killed by its PID when dropped.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Receiver {
    async fn start(dir: &Path, hang: bool) -> Receiver {
        let probe = Command::new(python())
            .args([
                "-c",
                "import opentelemetry.proto.collector.trace.v1.trace_service_pb2",
            ])
            .output()
            .unwrap_or_else(|e| panic!("python3 is required for the traces test: {e}"));
        assert!(
            probe.status.success(),
            "the traces test needs Python with the opentelemetry-proto package (tests/run.sh \
             installs tests/requirements.txt into a venv and sets RABT_TEST_PYTHON): {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let port = free_port();
        let out = dir.join(format!("spans-{port}.jsonl"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("otlp_receiver.py");
        let mut command = Command::new(python());
        command
            .arg(&script)
            .args(["--port", &port.to_string()])
            .arg("--out")
            .arg(&out);
        if hang {
            command.arg("--hang");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let receiver = Receiver { child, port, out };
        eventually(
            Duration::from_secs(20),
            "the OTLP receiver to listen",
            || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
            },
        )
        .await
        .unwrap();
        receiver
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every span received for `trace`.
    fn trace(&self, trace: &str) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|span| span["trace_id"] == trace)
            .collect()
    }

    /// Waits until `trace` has every span `done` asks for; returns them.
    async fn wait_for(&self, trace: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let found = eventually(Duration::from_secs(60), "the trace's spans", || async {
            let spans = self.trace(trace);
            done(&spans).then_some(spans)
        })
        .await;
        found.unwrap_or_else(|e| panic!("{e}; received: {:#?}", self.trace(trace)))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The spans of one trace by name, and their family relations.
struct Trace<'a>(&'a [Value]);

impl<'a> Trace<'a> {
    fn named(&self, name: &str) -> Vec<&'a Value> {
        self.0.iter().filter(|s| s["name"] == name).collect()
    }

    fn one(&self, name: &str) -> &'a Value {
        let found = self.named(name);
        assert_eq!(found.len(), 1, "one `{name}` span: {:#?}", self.0);
        found[0]
    }

    fn parent(&self, span: &Value) -> Option<&'a Value> {
        self.0
            .iter()
            .find(|s| s["span_id"] == span["parent_span_id"])
    }

    fn parent_name(&self, span: &Value) -> String {
        self.parent(span)
            .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| format!("<none: {}>", span["parent_span_id"]))
    }
}

fn has(spans: &[Value], name: &str, n: usize) -> bool {
    spans.iter().filter(|s| s["name"] == name).count() >= n
}

const SERVICES: &str = "post.address.verify,cooperative.establishment.check";

#[tokio::test]
async fn one_request_is_one_trace_from_the_api_through_the_queue_to_the_agency() {
    let dir = TempDir::create("rabt-traces-").unwrap();
    let receiver = Receiver::start(dir.path(), false).await;
    let endpoint = receiver.endpoint();
    let config = "[notifications]\nallow_private_targets = true\npoll_ms = 100\n";
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let deployment = Deployment::start_with_env(1, SERVICES, Some(config), &env)
        .await
        .unwrap();
    let client = &deployment.client;

    // A caller that sends its own trace context: Rabt's spans join its trace.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let body = json!({
        "service": "post.address.verify",
        "input": {"shortAddress": "RRRD2929"},
        "notify_url": format!("{endpoint}/hooks/coop"),
    });
    let response = client
        .http()
        .post(format!("{}/v1/requests", client.base_url))
        .bearer_auth(client.api_key())
        .header("Idempotency-Key", unique("key-"))
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let view = client
        .completed(&id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(view["traceId"], trace, "the view names the trace: {view}");

    let spans = receiver
        .wait_for(trace, |s| {
            has(s, "POST /v1/requests", 1)
                && has(s, "accept request", 1)
                && has(s, "publish rabt.tasks", 1)
                && has(s, "process rabt.tasks", 1)
                && has(s, "call saudi-post", 1)
                && has(s, "POST", 1)
        })
        .await;
    let t = Trace(&spans);
    let server = t.one("POST /v1/requests");
    assert_eq!(server["kind"], "server");
    assert_eq!(
        server["parent_span_id"], caller_span,
        "the caller's span is the parent"
    );
    assert_eq!(server["service"], "rabt-api");
    assert_eq!(server["attributes"]["http.request.method"], "POST");
    assert_eq!(server["attributes"]["http.route"], "/v1/requests");
    assert_eq!(server["attributes"]["http.response.status_code"], 202);

    let accept = t.one("accept request");
    assert_eq!(t.parent_name(accept), "POST /v1/requests");
    assert_eq!(accept["attributes"]["rabt.request.id"], id.as_str());

    let publish = t
        .named("publish rabt.tasks")
        .into_iter()
        .find(|s| s["attributes"]["messaging.rabbitmq.destination.routing_key"] == "saudi-post")
        .unwrap_or_else(|| panic!("a publish to saudi-post: {spans:#?}"));
    assert_eq!(publish["kind"], "producer");
    assert_eq!(t.parent_name(publish), "accept request");
    assert_eq!(publish["attributes"]["messaging.system"], "rabbitmq");
    assert_eq!(
        publish["attributes"]["messaging.destination.name"],
        "rabt.tasks"
    );

    let process = t.one("process rabt.tasks");
    assert_eq!(process["kind"], "consumer");
    assert_eq!(
        process["service"], "rabt-worker",
        "the worker process sent it"
    );
    assert_eq!(process["parent_span_id"], publish["span_id"]);
    assert_eq!(process["attributes"]["messaging.system"], "rabbitmq");
    assert_eq!(
        process["attributes"]["messaging.rabbitmq.destination.routing_key"],
        "saudi-post"
    );

    let call = t.one("call saudi-post");
    assert_eq!(call["kind"], "client");
    assert_eq!(call["parent_span_id"], process["span_id"]);
    let attributes = &call["attributes"];
    assert_eq!(attributes["rabt.agency"], "saudi-post");
    assert_eq!(attributes["rabt.service"], "post.address.verify");
    assert_eq!(attributes["rabt.attempt"], 1);
    assert_eq!(attributes["rabt.outcome"], "OK");
    assert_eq!(attributes["http.request.method"], "GET");
    assert_eq!(attributes["http.response.status_code"], 200);
    assert_eq!(attributes["server.address"], "127.0.0.1");

    let notification = t.one("POST");
    assert_eq!(notification["kind"], "client");
    assert_eq!(notification["service"], "rabt-worker");
    assert_eq!(notification["attributes"]["http.response.status_code"], 204);
    assert_eq!(t.parent_name(notification), "accept request");

    // The trace id is in the log lines of that work, in both processes.
    let line_of = |log: &Path, text: &str| {
        std::fs::read_to_string(log)
            .unwrap()
            .lines()
            .any(|l| l.contains(text) && l.contains("trace_id") && l.contains(trace))
    };
    assert!(
        line_of(&deployment.api.log, "request accepted"),
        "{}",
        deployment.api.tail(20)
    );
    assert!(
        line_of(&deployment.workers[0].log, "task completed"),
        "{}",
        deployment.workers[0].tail(20)
    );

    // A refused request names its trace in its problem document.
    let refused = client
        .http()
        .post(format!("{}/v1/requests", client.base_url))
        .bearer_auth(client.api_key())
        .header("Idempotency-Key", unique("key-"))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&json!({"service": "post.address.verify", "input": {"shortAddress": "nope"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(
        problem["traceId"], "0af7651916cd43dd8448eb211c80319c",
        "{problem}"
    );
}

#[tokio::test]
async fn the_composite_with_its_callback_is_one_trace() {
    let dir = TempDir::create("rabt-traces-").unwrap();
    let receiver = Receiver::start(dir.path(), false).await;
    let endpoint = receiver.endpoint();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let deployment = Deployment::start_with_env(1, SERVICES, None, &env)
        .await
        .unwrap();
    let body = json!({
        "service": "cooperative.establishment.check",
        "input": {
            "unifiedNumber": "7000000001",
            "board": [{"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}],
        },
    });
    // No traceparent: the request gets a trace of its own.
    let (status, accepted) = deployment.client.submit(&body, None).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap();
    let view = deployment
        .client
        .completed(id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(view["verdict"], "PASS", "{view}");
    let trace = view["traceId"].as_str().expect("a trace id").to_owned();
    assert_eq!(trace.len(), 32);

    let agencies = ["labor", "interior", "saudi-post", "municipal", "chambers"];
    // Spans arrive from two processes in batches, in no particular order: wait until
    // every span named below, and the parents and grandparents of the agency calls, are
    // in.
    let spans = receiver
        .wait_for(&trace, |s| {
            let t = Trace(s);
            agencies.iter().all(|a| has(s, &format!("call {a}"), 1))
                && has(s, "callback municipal", 1)
                && has(s, "process rabt.tasks", 7)
                && t.named("decide composite")
                    .iter()
                    .any(|d| d["attributes"]["rabt.released"].as_i64().unwrap_or(0) >= 4)
                && s.iter()
                    .filter(|c| c["kind"] == "client" || c["name"] == "process rabt.tasks")
                    .all(|c| t.parent(c).is_some_and(|p| t.parent(p).is_some()))
        })
        .await;
    let t = Trace(&spans);
    let server = t.one("POST /v1/requests");
    assert_eq!(
        server["parent_span_id"], "",
        "a new trace starts at the API"
    );

    // Every agency call is the child of a delivery, itself the child of a publish.
    for call in spans
        .iter()
        .filter(|s| s["kind"] == "client" && s["name"] != "POST")
    {
        let process = t.parent(call).unwrap_or_else(|| panic!("parent of {call}"));
        assert_eq!(process["name"], "process rabt.tasks", "{call}");
        let publish = t
            .parent(process)
            .unwrap_or_else(|| panic!("parent of {process}"));
        assert_eq!(publish["kind"], "producer", "{process}");
        assert_eq!(
            process["attributes"]["messaging.rabbitmq.destination.routing_key"],
            call["attributes"]["rabt.agency"]
        );
    }
    // The registry check's completion decides the checks waiting for it.
    let decisions = t.named("decide composite");
    assert!(
        decisions
            .iter()
            .any(|d| d["attributes"]["rabt.released"].as_i64().unwrap_or(0) >= 4),
        "a decision released the checks after the registry: {decisions:#?}"
    );
    // The municipal callback joins the request's trace, linked to the HTTP call it came
    // in, and its application by the worker is a delivery of that trace too.
    let callback = t.one("callback municipal");
    assert_eq!(callback["service"], "rabt-api");
    assert_eq!(t.parent_name(callback), "accept request");
    assert_eq!(
        callback["links"].as_array().map(Vec::len),
        Some(1),
        "{callback}"
    );
    let applied = spans
        .iter()
        .filter(|s| s["name"] == "process rabt.tasks")
        .filter_map(|s| t.parent(s))
        .filter_map(|publish| t.parent(publish))
        .any(|written_by| written_by["span_id"] == callback["span_id"]);
    assert!(
        applied,
        "the callback's message is processed in its trace: {spans:#?}"
    );
    let services: BTreeMap<String, usize> = spans.iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s["service"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
        m
    });
    assert!(
        services.contains_key("rabt-api") && services.contains_key("rabt-worker"),
        "{services:?}"
    );
}

#[tokio::test]
async fn an_exporter_that_never_answers_costs_requests_nothing() {
    let dir = TempDir::create("rabt-traces-").unwrap();
    let receiver = Receiver::start(dir.path(), true).await;
    let endpoint = receiver.endpoint();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let deployment = Deployment::start_with_env(1, "post.address.verify", None, &env)
        .await
        .unwrap();
    for _ in 0..10 {
        let body = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
        let (status, done) = deployment.client.submit(&body, Some(20)).await.unwrap();
        assert_eq!(status, 200, "served while the exporter hangs: {done}");
        assert_eq!(done["outcome"], "OK");
    }
    let (status, _) = deployment.client.get("/healthz").await.unwrap();
    assert_eq!(status, 200);
    let metrics = deployment
        .client
        .http()
        .get(format!("{}/metrics", deployment.wiring.ops_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dropped: f64 = metrics
        .lines()
        .find(|l| l.starts_with("rabt_trace_spans_total{outcome=\"dropped\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(
        dropped > 0.0,
        "spans that did not fit were counted: {metrics}"
    );
}
