//! Checks by tools that no one here wrote (issue 14), against `rabt serve` on PostgreSQL
//! and RabbitMQ:
//!
//! - **Schemathesis** (PyPI) drives the running API from `schemas/openapi.json` with all
//!   its checks (server errors, status codes, content types, response schemas and
//!   headers, negative data rejected, positive data accepted, ignored auth, use after
//!   free…) in every phase (examples, coverage, fuzzing, stateful through the
//!   document's links), as a cooperative (`/v1`, on the public listener) and as an
//!   operator (`/ops/v1`, on the operators' listener), with a bounded number of examples
//!   so that it fits the suite: zero failures.
//!   tests/conformance/ holds its configuration (a credential per security scheme) and
//!   hooks (the catalogue's formats; a key of its own per distinct request, as the
//!   Idempotency-Key header's description asks).
//! - **promtool check metrics** (Debian's prometheus package) on `/metrics` after that
//!   traffic: no complaints.

use std::process::Command;
use std::time::Duration;

use rabt_tests::Deployment;
use serde_json::json;

/// Examples per operation and phase: enough to reach every operation's branches
/// (thousands of requests in all), few enough for the suite's time.
const MAX_EXAMPLES: &str = "15";

const ALL_SERVICES: &str = "post.address.verify,interior.identity.verify,interior.mobile.verify,labor.establishment.compliance,labor.cooperative.registration,chambers.membership.verify,municipal.license.verify,health.certificates.verify,cooperative.establishment.check";

fn conformance_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/conformance").to_owned()
}

#[tokio::test]
async fn schemathesis_finds_nothing_and_promtool_accepts_the_metrics() {
    let deployment = Deployment::start(1, ALL_SERVICES).await.unwrap();
    // The operator API sets limits on a cooperative of its own: one hour-long limit set
    // on the calling cooperative would leave the rest of the run 429s.
    let out = deployment
        .wiring
        .run(&[
            "coop",
            "add",
            "--name",
            "Limits Cooperative",
            "--unified-number",
            "7000000099",
            "--services",
            "post.address.verify",
        ])
        .unwrap();
    let cooperative = out
        .lines()
        .find_map(|l| l.strip_prefix("cooperative:"))
        .map(str::trim)
        .unwrap()
        .to_owned();
    let out = deployment
        .wiring
        .run(&[
            "operator",
            "add",
            "--name",
            "conformance",
            "--role",
            "admin",
        ])
        .unwrap();
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("token:"))
        .map(str::trim)
        .unwrap()
        .to_owned();
    // A dead letter for the operator API to list, read, replay (refused: it names no
    // task) and purge.
    let vhost = deployment.vhost();
    vhost
        .post(
            &["exchanges", &vhost.name, "rabt.tasks", "publish"],
            json!({"properties": {"delivery_mode": 2, "message_id": "conformance-poison"},
                   "routing_key": "saudi-post", "payload": "not json", "payload_encoding": "string"}),
        )
        .await
        .unwrap();

    let base = deployment.client.base_url.clone();
    let ops = deployment.wiring.ops_url();
    let seed = std::env::var("RABT_ST_SEED").unwrap_or_else(|_| "20261207".to_owned());
    let credentials = Credentials {
        api_key: deployment.client.api_key().to_owned(),
        operator_token: token,
        cooperative,
    };
    // The public API on its listener, the operator API on the operators' one (each is
    // answered 404 on the other's): one run each, from the same document.
    for (url, filter) in [
        (&base, "--exclude-path-regex"),
        (&ops, "--include-path-regex"),
    ] {
        let (ok, report, errors) = schemathesis(&base, url, filter, &seed, &credentials);
        println!("{report}");
        assert!(
            ok,
            "schemathesis found failures on {url} (seed {seed}):\n{report}\n{errors}\napi log:\n{}",
            deployment.api.tail(40)
        );
        assert!(report.contains("Tested: "), "{report}");
    }

    // /metrics after all that traffic, as Prometheus's own checker reads it. A new
    // client: the test's own connection sat idle past the server's idle timeout while
    // this thread waited for schemathesis, and its runtime never saw it closed.
    let metrics = reqwest::Client::new()
        .get(format!("{ops}/metrics"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    promtool_accepts(&metrics);
}

/// Who schemathesis calls as.
struct Credentials {
    api_key: String,
    operator_token: String,
    /// The cooperative the operator API's cooperative routes act on.
    cooperative: String,
}

/// Runs schemathesis from `{base}/openapi.json` against `url`, on the operations that
/// `filter` (`--include-path-regex` or `--exclude-path-regex`) picks with `^/ops/`:
/// whether it passed, its report and its standard error.
fn schemathesis(
    base: &str,
    url: &str,
    filter: &str,
    seed: &str,
    credentials: &Credentials,
) -> (bool, String, String) {
    let output = Command::new(rabt_test_support::python())
        .args([
            "-m",
            "schemathesis.cli",
            "--config-file",
            &format!("{}/schemathesis.toml", conformance_dir()),
            "run",
            &format!("{base}/openapi.json"),
            "--url",
            url,
            filter,
            "^/ops/",
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            // One worker: Hypothesis's strategy validation is not thread-safe (a lambda
            // source cache raced with two, an error of the tool, not of the API).
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--seed",
            seed,
            "--suppress-health-check",
            "all",
        ])
        .env("RABT_ST_API_KEY", &credentials.api_key)
        .env("RABT_ST_OPERATOR_TOKEN", &credentials.operator_token)
        .env("RABT_ST_COOPERATIVE", &credentials.cooperative)
        .env("PYTHONPATH", conformance_dir())
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("NO_COLOR", "1")
        .output()
        .expect("the suite's Python with schemathesis (tests/run.sh: tests/requirements.txt)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `promtool check metrics` reads the text on standard input and prints its lint
/// findings; it exits non-zero on any.
fn promtool_accepts(metrics: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; tests/services.sh install puts it there)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && findings.trim().is_empty(),
        "promtool check metrics complains:\n{findings}"
    );
    assert!(metrics.contains("rabt_http_requests_total"), "{metrics}");
}
