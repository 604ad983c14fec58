//! Per-cooperative rate limits across api processes (issue 14): two `rabt serve --role
//! api` processes on one PostgreSQL, a cooperative limited to 10/s with `rabt coop
//! set-limit`, flooded through both: together they admit the limit (within 10 %), every
//! refusal is a 429 with `Retry-After` and the `RateLimit` fields, and nothing is stored
//! for a refused request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rabt_tests::Deployment;
use rabt_tests::free_port;
use serde_json::json;
use sqlx::Row;
use tokio::sync::Mutex;

const RATE: f64 = 10.0;
const BURST: f64 = 5.0;

#[derive(Debug, Default)]
struct Seen {
    /// When each request was admitted (202), from the start.
    admitted: Vec<Duration>,
    refused: usize,
    other: Vec<u16>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_processes_admit_a_cooperatives_limit_together() {
    let deployment = Deployment::start(0, "post.address.verify").await.unwrap();
    let coop = cooperative_id(&deployment).await;
    deployment
        .wiring
        .run(&[
            "coop",
            "set-limit",
            &coop,
            "--rate",
            "10/s",
            "--burst",
            "5",
            "--operator",
            "e2e",
        ])
        .unwrap();
    let second_port = free_port();
    let mut second = deployment
        .wiring
        .spawn_with(
            "api-2",
            &["serve", "--role", "api"],
            &[
                ("RABT_LISTEN", format!("127.0.0.1:{second_port}")),
                // Its own operators' port: the first api process has the wiring's.
                ("RABT_OPS_LISTEN", format!("127.0.0.1:{}", free_port())),
            ],
        )
        .unwrap();
    let second_client = rabt_tests::Client::new(
        &format!("http://127.0.0.1:{second_port}"),
        deployment.client.api_key(),
    );
    second_client
        .ready(&mut second, Duration::from_secs(60))
        .await
        .unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut senders = Vec::new();
    // Four callers per process, each as fast as its answers come: far above 10/s.
    for (n, client) in [&deployment.client, &second_client]
        .into_iter()
        .cycle()
        .take(8)
        .enumerate()
    {
        let (client, seen, stop) = (client.clone(), seen.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let response = client
                    .http()
                    .post(format!("{}/v1/requests", client.base_url))
                    .bearer_auth(client.api_key())
                    .header("idempotency-key", format!("flood-{n}-{i}"))
                    .json(&json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let at = started.elapsed();
                let mut seen = seen.lock().await;
                match status {
                    202 => seen.admitted.push(at),
                    429 => {
                        assert!(headers.get("retry-after").is_some(), "429 without Retry-After");
                        let policy = headers.get("ratelimit-policy").unwrap().to_str().unwrap();
                        assert_eq!(policy, "\"rate\";q=5;w=1");
                        let state = headers.get("ratelimit").unwrap().to_str().unwrap();
                        assert!(state.starts_with("\"rate\";r=0;t="), "{state}");
                        seen.refused += 1;
                    }
                    other => seen.other.push(other),
                }
            }
        }));
    }
    // Both processes read the new limit within 2 s of the change; count from then.
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let seen = seen.lock().await;
    assert!(
        seen.other.is_empty(),
        "unexpected statuses: {:?}",
        seen.other
    );
    let (from, to) = (Duration::from_secs(3), Duration::from_secs(8));
    let window = (to - from).as_secs_f64();
    let in_window = seen
        .admitted
        .iter()
        .filter(|t| (from..to).contains(*t))
        .count() as f64;
    let expected = RATE * window;
    eprintln!(
        "admitted {in_window} in {window} s (limit {RATE}/s: {expected}); {} admitted, {} refused in all",
        seen.admitted.len(),
        seen.refused
    );
    assert!(
        in_window <= 1.1 * expected + BURST && in_window >= 0.9 * expected,
        "{in_window} admitted in {window} s through two processes; the limit is {RATE}/s"
    );
    assert!(seen.refused > 100, "only {} refused", seen.refused);

    // Nothing is stored for a refused request: the database holds the admitted ones.
    let pool = sqlx::PgPool::connect(&deployment.wiring.database_url)
        .await
        .unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM requests")
        .fetch_one(&pool)
        .await
        .unwrap();
    let stored: i64 = row.get("n");
    assert_eq!(
        stored as usize,
        seen.admitted.len(),
        "{} refused",
        seen.refused
    );
    let keys: i64 = sqlx::query("SELECT COUNT(*) AS n FROM idempotency_keys")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get("n");
    assert_eq!(keys as usize, seen.admitted.len());
    second.kill();
}

/// The cooperative's id, from `rabt coop list`.
async fn cooperative_id(deployment: &Deployment) -> String {
    let list = deployment.wiring.run(&["coop", "list"]).unwrap();
    list.lines()
        .find_map(|line| line.split_whitespace().find(|w| w.starts_with("coop_")))
        .unwrap_or_else(|| panic!("no cooperative in {list}"))
        .to_owned()
}
