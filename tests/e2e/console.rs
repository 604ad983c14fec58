//! The operators' console in a real browser: `tests/console/browser.py` (Playwright
//! driving Debian's chromium, with axe-core from npm's registry: tests/console/fetch_axe.py) against `rabt serve`
//! with two api processes and one worker on PostgreSQL and RabbitMQ, and the agency
//! simulators. The script runs every flow of issue 9 and exits non-zero naming the
//! first that broke; this test starts the deployment, makes the operators, and fails
//! with the script's output.
//!
//! Set `CONSOLE_SCREENSHOTS=<dir>` to keep screenshots of the overview and a request
//! page in Arabic and English (docs/ holds the ones committed).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rabt_test_support::python;
use rabt_tests::{Client, Deployment, free_port};

const SERVICES: &str = "post.address.verify,interior.identity.verify,labor.establishment.compliance,cooperative.establishment.check";

fn token(deployment: &Deployment, name: &str, role: &str) -> String {
    let out = deployment
        .wiring
        .run(&["operator", "add", "--name", name, "--role", role])
        .unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix("token:"))
        .map(str::trim)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_console_works_in_a_browser_against_two_api_processes() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        Path::new(&chromium).exists(),
        "the console's browser test needs Debian's chromium at {chromium} (tests/services.sh install puts it there)"
    );
    let mut deployment = Deployment::start(1, SERVICES).await.unwrap();
    let (second_api, second_ops) = (free_port(), free_port());
    let mut api_b = deployment
        .wiring
        .spawn_with(
            "api-b",
            &["serve", "--role", "api"],
            &[
                ("RABT_LISTEN", format!("127.0.0.1:{second_api}")),
                ("RABT_OPS_LISTEN", format!("127.0.0.1:{second_ops}")),
            ],
        )
        .unwrap();
    let second = format!("http://127.0.0.1:{second_api}");
    Client::new(&second, "")
        .ready(&mut api_b, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    deployment.workers.push(api_b);
    let tokens = [
        ("CONSOLE_TOKEN_VIEWER", token(&deployment, "sara", "viewer")),
        (
            "CONSOLE_TOKEN_OPERATOR",
            token(&deployment, "huda", "operator"),
        ),
        ("CONSOLE_TOKEN_ADMIN", token(&deployment, "amal", "admin")),
    ];
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ops = format!(
        "{},http://127.0.0.1:{second_ops}",
        deployment.wiring.ops_url()
    );
    let apis = format!("{},{second}", deployment.client.base_url);
    let output = Command::new(python())
        .arg(here.join("console/browser.py"))
        .env("CONSOLE_OPS_URLS", ops)
        .env("CONSOLE_API_URLS", apis)
        .env("CONSOLE_API_KEY", deployment.client.api_key())
        .env(
            "CONSOLE_SIM_INTERIOR",
            deployment.wiring.agency_url("interior"),
        )
        .env("CONSOLE_AXE", axe_core(here))
        .env("CHROMIUM", &chromium)
        .envs(tokens.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (tests/run.sh sets RABT_TEST_PYTHON): {e}",
                python()
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{}\napi log:\n{}\nworker log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        deployment.api.tail(30),
        deployment.workers[0].tail(30)
    );
    assert!(stdout.contains("console: every flow passed"), "{stdout}");

    // No log line of any process holds a key or a token: the operators' tokens, the
    // cooperative's key, and the keys the console showed once.
    for entry in std::fs::read_dir(&deployment.wiring.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).unwrap();
            assert!(
                secrets_in(&log).is_empty(),
                "{} logs a secret: {:?}",
                path.display(),
                secrets_in(&log)
            );
        }
    }
}

/// Every `rabt_…` or `rabt_op_…` key-shaped word of `text` (40 letters and digits after
/// the prefix), shown by its last four characters only.
fn secrets_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("rabt_") {
        let after = &text[at + "rabt_".len()..];
        let body = after.strip_prefix("op_").unwrap_or(after);
        let word: String = body
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if word.len() == 40 {
            found.push(format!("rabt_…{}", &word[36..]));
        }
    }
    found
}

#[test]
fn key_shaped_words_are_found() {
    let key = format!("rabt_op_{}", "a".repeat(40));
    assert_eq!(secrets_in(&format!("token={key} x")).len(), 1);
    assert!(secrets_in("rabt_schema_migrations rabt_api::console").is_empty());
}

/// axe-core's script, fetched once from npm's registry and checked against its published
/// integrity (tests/console/fetch_axe.py) into the target folder.
fn axe_core(tests: &Path) -> String {
    let cache = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tests.join("../target"))
        .join("test-axe");
    let output = Command::new(python())
        .arg(tests.join("console/fetch_axe.py"))
        .arg(&cache)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tests/console/fetch_axe.py: {e}"));
    assert!(
        output.status.success(),
        "fetching axe-core failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
