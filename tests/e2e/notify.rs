//! Notifications to cooperatives, end to end and interoperable: the receiver is a small
//! Python server (tests/notify_receiver.py) that verifies every notification with the
//! Standard Webhooks reference library, `standardwebhooks` from PyPI, as a
//! cooperative's developers would. Without python3 or the package these tests fail,
//! saying what to install; they never skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rabt_test_support::{TempDir, eventually, python};
use rabt_tests::{Client, Deployment, Rabt, free_port};
use serde_json::{Value, json};

/// The Python receiver, killed by its PID when dropped.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Receiver {
    /// Starts it on a free port, verifying with `secret`, answering 503 to the first
    /// `fail_first` deliveries of each webhook-id.
    async fn start(secret: &str, fail_first: u32, dir: &Path) -> Receiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("notify_receiver.py");
        let probe = Command::new(python())
            .args(["-c", "import standardwebhooks.webhooks"])
            .output()
            .unwrap_or_else(|e| {
                panic!("python3 is required for the Standard Webhooks interop test: {e}")
            });
        assert!(
            probe.status.success(),
            "the Standard Webhooks interop test needs Python with the standardwebhooks package \
             (tests/run.sh installs tests/requirements.txt into a venv and sets RABT_TEST_PYTHON): {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let port = free_port();
        let out = dir.join(format!("received-{port}.jsonl"));
        let child = Command::new(python())
            .arg(&script)
            .args(["--port", &port.to_string(), "--secret", secret])
            .args(["--fail-first", &fail_first.to_string()])
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 starts");
        let receiver = Receiver { child, port, out };
        eventually(
            Duration::from_secs(20),
            "the Python receiver to listen",
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

    /// The notify URL (with a token in its query, as cooperatives often have).
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/rabt?token=coop-t0k3n", self.port)
    }

    /// Every delivery it recorded.
    fn seen(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Waits until a delivery was accepted (answered 204), then returns all of them.
    async fn accepted(&self) -> Vec<Value> {
        eventually(
            Duration::from_secs(60),
            "a notification accepted by the receiver",
            || async {
                let seen = self.seen();
                seen.iter().any(|d| d["answered"] == 204).then_some(seen)
            },
        )
        .await
        .unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A value after `label` in `rabt coop add`'s output.
fn printed(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no `{label}` in: {out}"))
}

const ADDRESS: &str = "RRRD2929";

#[tokio::test]
async fn serve_notifies_with_signatures_the_reference_library_verifies() {
    let config =
        "[notifications]\nallow_private_targets = true\nschedule = [\"300ms\"]\npoll_ms = 100\n";
    let deployment = Deployment::start_with(1, "post.address.verify", Some(config))
        .await
        .unwrap();
    let out = deployment
        .wiring
        .run(&[
            "coop",
            "add",
            "--name",
            "Notified Cooperative",
            "--unified-number",
            "7000000009",
            "--services",
            "post.address.verify",
        ])
        .unwrap();
    let secret = printed(&out, "webhook secret:");
    assert!(secret.starts_with("whsec_"), "{out}");
    let client = Client::new(&deployment.client.base_url, &printed(&out, "api key:"));
    let dir = TempDir::create("rabt-notify-").unwrap();
    // The receiver refuses the first delivery: Rabt must retry with the same webhook-id.
    let receiver = Receiver::start(&secret, 1, dir.path()).await;

    let body = json!({"service": "post.address.verify", "input": {"shortAddress": ADDRESS}, "reference": "inv-42", "notify_url": receiver.url()});
    let (status, accepted) = client.submit(&body, None).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();

    let seen = receiver.accepted().await;
    assert_eq!(seen.len(), 2, "one refused, one accepted: {seen:?}");
    for delivery in &seen {
        assert_eq!(
            delivery["verified"], true,
            "the reference library refused: {delivery}"
        );
        assert_eq!(delivery["path"], "/hooks/rabt?token=coop-t0k3n");
    }
    assert_eq!(
        (seen[0]["answered"].as_u64(), seen[1]["answered"].as_u64()),
        (Some(503), Some(204))
    );
    assert_eq!(
        seen[0]["webhook_id"], seen[1]["webhook_id"],
        "stable across retries"
    );
    assert!(seen[0]["webhook_id"].as_str().unwrap().starts_with("ntf_"));
    let event = &seen[1]["event"];
    assert_eq!(event["type"], "request.completed");
    assert_eq!(event["data"]["id"], id.as_str());
    assert_eq!(event["data"]["verdict"], "PASS");
    assert_eq!(event["data"]["reference"], "inv-42");
    assert!(
        !event.to_string().contains(ADDRESS),
        "no input in the event: {event}"
    );

    // The link in the event leads to the result.
    let (status, result) = client
        .get(event["data"]["links"]["self"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!((status, result["outcome"].as_str()), (200, Some("OK")));
    let worker_log = std::fs::read_to_string(&deployment.workers[0].log).unwrap_or_default();
    assert!(
        worker_log.contains("notification delivered"),
        "{worker_log}"
    );
    assert!(
        !worker_log.contains("coop-t0k3n"),
        "the notify URL's token was logged"
    );
    assert!(
        !worker_log.contains(&secret),
        "the webhook secret was logged"
    );
}

#[tokio::test]
async fn the_demo_gives_the_webhook_secret_and_notifies_locally() {
    let dir = TempDir::create("rabt-notify-demo-").unwrap();
    let state = dir.path().join("state");
    let mut demo = Rabt::demo("demo", "127.0.0.1:0", &state, dir.path()).unwrap();
    let file = state.join("demo-credentials.json");
    let credentials: Value = demo
        .until(Duration::from_secs(60), "demo-credentials.json", || async {
            serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let secret = credentials["webhook_secret"]
        .as_str()
        .expect("webhook_secret")
        .to_owned();
    let client = Client::new(
        credentials["base_url"].as_str().unwrap(),
        credentials["api_key"].as_str().unwrap(),
    );
    client
        .ready(&mut demo, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let receiver = Receiver::start(&secret, 0, dir.path()).await;

    let body = json!({"service": "post.address.verify", "input": {"shortAddress": ADDRESS}, "notify_url": receiver.url()});
    let (status, done) = client.submit(&body, Some(10)).await.unwrap();
    assert_eq!(status, 200, "{done}");
    let seen = receiver.accepted().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["verified"], true, "{}", seen[0]);
    assert_eq!(seen[0]["event"]["data"]["id"], done["id"]);
}
