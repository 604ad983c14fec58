//! Cached API keys across api processes (issue 12): a key revoked, or a cooperative
//! deactivated, by another process (here `rabt coop`) is refused by an api process that
//! had the key cached, long before its cache's bound: the key generation, not the
//! bound, ends the entry.

use std::time::Duration;

use rabt_test_support::eventually;
use rabt_tests::{Client, Deployment, free_port};

/// The cache's bound in this deployment: far longer than the test waits.
const CONFIG: &str = "[api]\nkey_cache_ttl_ms = 300000\n";
/// How long a refusal may take: far below the bound, far above the generation's
/// check interval (a quarter of a second) on a busy machine.
const DEADLINE: Duration = Duration::from_secs(30);

async fn status(client: &Client) -> u16 {
    client.get("/v1/requests").await.unwrap().0
}

fn with_key(client: &Client, key: &str) -> Client {
    Client::new(&client.base_url, key)
}

/// `rabt coop rotate-key` with an hour's overlap: the new key and its id.
fn new_key(deployment: &Deployment) -> (String, String) {
    let out = deployment
        .wiring
        .run(&[
            "coop",
            "rotate-key",
            "7000000001",
            "--overlap-seconds",
            "3600",
            "--operator",
            "huda",
        ])
        .unwrap();
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("api key:"))
        .unwrap_or_else(|| panic!("no key in: {out}"));
    let mut parts = line.split_whitespace();
    let key = parts.next().unwrap().to_owned();
    let id = parts.next().unwrap().trim_matches(['(', ')']).to_owned();
    (key, id)
}

async fn until_status(client: &Client, wanted: u16, what: &str) {
    eventually(DEADLINE, what, || async {
        (status(client).await == wanted).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn another_api_process_refuses_a_revoked_key_and_a_deactivated_cooperative() {
    let mut deployment = Deployment::start_with(0, "post.address.verify", Some(CONFIG))
        .await
        .unwrap();
    let (port, ops_port) = (free_port(), free_port());
    let mut second = deployment
        .wiring
        .spawn_with(
            "api-b",
            &["serve", "--role", "api"],
            &[
                ("RABT_LISTEN", format!("127.0.0.1:{port}")),
                ("RABT_OPS_LISTEN", format!("127.0.0.1:{ops_port}")),
            ],
        )
        .unwrap();
    let first_key = deployment.client.api_key().to_owned();
    let b = Client::new(&format!("http://127.0.0.1:{port}"), &first_key);
    b.ready(&mut second, Duration::from_secs(60)).await.unwrap();

    let (second_key, second_id) = new_key(&deployment);
    let b_second = with_key(&b, &second_key);
    assert_eq!(status(&b).await, 200);
    assert_eq!(status(&b_second).await, 200);

    // The first key revoked behind every process's back (no generation moves): B
    // still accepts it from memory, so the binary does cache keys.
    let pool = database(&deployment).await;
    let prefix = format!("{}%", second_id.trim_start_matches("key_"));
    let tampered = sqlx::query("UPDATE api_keys SET revoked_at = 1 WHERE key_hash NOT LIKE $1")
        .bind(&prefix)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(tampered.rows_affected(), 1);
    assert_eq!(status(&b).await, 200, "served from B's cache");

    // Revoked by another process: B refuses it, and now the tampered one too.
    deployment
        .wiring
        .run(&[
            "coop",
            "revoke-key",
            "7000000001",
            &second_id,
            "--reason",
            "leaked",
            "--operator",
            "huda",
        ])
        .unwrap();
    until_status(&b_second, 401, "B refusing the revoked key").await;
    assert_eq!(status(&b).await, 401);
    assert_eq!(
        status(&with_key(&deployment.client, &second_key)).await,
        401
    );

    // Deactivated by another process: B answers 403 to a key it had cached.
    let (third_key, _) = new_key(&deployment);
    let b_third = with_key(&b, &third_key);
    assert_eq!(status(&b_third).await, 200);
    deployment
        .wiring
        .run(&[
            "coop",
            "deactivate",
            "7000000001",
            "--reason",
            "unpaid",
            "--operator",
            "huda",
        ])
        .unwrap();
    until_status(&b_third, 403, "B refusing the deactivated cooperative").await;

    second.kill();
    deployment.api.kill();
}

async fn database(deployment: &Deployment) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&deployment.wiring.database_url)
        .await
        .unwrap()
}
