//! RabbitMQ down and back (issue 4's broker outage), with `rabt serve` on PostgreSQL:
//! while the broker is down `/readyz` says so and the API keeps accepting into the
//! outbox; once it is back the processes reconnect on their own, re-declare the
//! topology, and every request accepted meanwhile completes, once.
//!
//! It stops the suite's own RabbitMQ, so it cannot run beside other tests: it is
//! ignored in the main run, and tests/run.sh runs it alone afterwards.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rabt_test_support::eventually;
use rabt_tests::Deployment;
use serde_json::json;
use sqlx::{PgPool, Row};

const ACCEPTED_WHILE_DOWN: usize = 10;

fn services(command: &str, dir: &PathBuf) {
    let status = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/services.sh"))
        .arg(command)
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "tests/services.sh {command} failed");
}

#[tokio::test]
#[ignore = "stops the suite's RabbitMQ: tests/run.sh runs it alone, after the other tests"]
async fn while_rabbitmq_is_down_requests_are_accepted_and_flow_once_it_is_back() {
    let dir: PathBuf = std::env::var_os("RABT_TEST_SERVICES_DIR")
        .expect("RABT_TEST_SERVICES_DIR: run this through tests/run.sh")
        .into();
    // The outage and RabbitMQ's restart can take a minute on a busy machine: the
    // service's 30 s deadline would end the requests accepted meanwhile TIMEOUT, which is
    // the deadline working, not what this test is about.
    let deployment = Deployment::start_with(
        1,
        "post.address.verify",
        Some("[deadlines]\n\"post.address.verify\" = 300000\n"),
    )
    .await
    .unwrap();
    let client = &deployment.client;
    let address = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let (status, body) = client.submit(&address, Some(10)).await.unwrap();
    assert_eq!(status, 200, "before the outage: {body}");

    services("stop-rabbitmq", &dir);
    let (_, ready) = eventually(
        Duration::from_secs(30),
        "/readyz to report the broker down",
        || async {
            let (status, body) = client.get("/readyz").await.ok()?;
            (status == 503).then_some((status, body))
        },
    )
    .await
    .unwrap();
    assert!(ready.to_string().contains("broker: down"), "{ready}");
    let mut ids = Vec::new();
    for _ in 0..ACCEPTED_WHILE_DOWN {
        let (status, body) = client.submit(&address, None).await.unwrap();
        assert_eq!(status, 202, "accepted while the broker is down: {body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }

    services("start-rabbitmq", &dir);
    eventually(
        Duration::from_secs(90),
        "/readyz to be ready again",
        || async {
            let (status, _) = client.get("/readyz").await.ok()?;
            (status == 200).then_some(())
        },
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}\napi log:\n{}",
            deployment
                .api
                .tail(5000)
                .lines()
                .filter(|l| !l.contains("tower_http"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    for id in &ids {
        let done = client
            .completed(id, Duration::from_secs(120))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{e}\napi log:\n{}\nworker log:\n{}",
                    deployment.api.tail(20),
                    deployment.workers[0].tail(20)
                )
            });
        assert_eq!(done["outcome"], "OK", "{done}");
    }
    let db = PgPool::connect(&deployment.wiring.database_url)
        .await
        .unwrap();
    let twice: i64 = sqlx::query(
        "SELECT count(*) FROM (SELECT task_id FROM audit_log WHERE action = 'task.completed' \
         GROUP BY task_id HAVING count(*) > 1) AS t",
    )
    .fetch_one(&db)
    .await
    .unwrap()
    .get(0);
    assert_eq!(twice, 0, "a task completed twice");
}
