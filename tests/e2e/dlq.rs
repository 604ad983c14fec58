//! Dead letters end to end on RabbitMQ and PostgreSQL: a task message handed back until
//! RabbitMQ dead-letters it (`delivery_limit`), and an undecodable poison message, are
//! drained into the database by a worker; `rabt dlq list` shows them, `rabt dlq replay`
//! refuses the poison and runs the task again, and the request completes once more; the
//! operator API shows who replayed it.

use std::time::Duration;

use rabt_test_support::{RABBITMQ_API, eventually, required_env};
use rabt_tests::Deployment;
use serde_json::{Value, json};

/// `queue.delivery_limit` of this deployment: the message is handed out three times.
const DELIVERY_LIMIT: u32 = 2;
const TASK_QUEUE: &str = "rabt.tasks.saudi-post";
const WAIT: Duration = Duration::from_secs(60);

/// The RabbitMQ management API, for what a test does by hand: taking a message and
/// handing it back, as a worker that crashes on it would.
struct Management {
    http: reqwest::Client,
    base: reqwest::Url,
    user: String,
    password: Option<String>,
}

impl Management {
    fn from_env() -> Management {
        let mut base = reqwest::Url::parse(&required_env(RABBITMQ_API)).unwrap();
        let user = base.username().to_owned();
        let password = base.password().map(str::to_owned);
        base.set_username("").unwrap();
        base.set_password(None).unwrap();
        Management {
            http: reqwest::Client::new(),
            base,
            user,
            password,
        }
    }

    async fn post(&self, segments: &[&str], body: Value) -> Value {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .unwrap()
            .pop_if_empty()
            .extend(segments);
        let response = self
            .http
            .post(url)
            .basic_auth(&self.user, self.password.as_ref())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// Takes the queue's first message and hands it back (`basic.reject` with requeue):
    /// one delivery. True if there was a message.
    async fn take_and_return(&self, vhost: &str, queue: &str) -> bool {
        let body = json!({"count": 1, "ackmode": "reject_requeue_true", "encoding": "auto"});
        let got = self.post(&["queues", vhost, queue, "get"], body).await;
        got.as_array().is_some_and(|messages| !messages.is_empty())
    }
}

/// The first line of `rabt dlq list` output that mentions `needle`, split in columns.
fn listed(output: &str, needle: &str) -> Vec<String> {
    output
        .lines()
        .find(|line| line.starts_with("dl_") && line.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not listed in:\n{output}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_poison_message_on_rabbitmq_is_listed_and_replayed_with_the_cli() {
    let config = format!("[queue]\ndelivery_limit = {DELIVERY_LIMIT}\n");
    // No worker yet: the task's message waits in its queue for us to poison it.
    let mut deployment = Deployment::start_with(0, "post.address.verify", Some(&config))
        .await
        .unwrap();
    let input = json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}});
    let (status, accepted) = deployment.client.submit(&input, None).await.unwrap();
    assert_eq!(status, 202, "{accepted}");
    let request = accepted["id"].as_str().unwrap().to_owned();

    let management = Management::from_env();
    let vhost = deployment.vhost().name.clone();
    let deliveries = std::cell::Cell::new(0);
    eventually(
        WAIT,
        "the task message handed out past the limit",
        || async {
            if management.take_and_return(&vhost, TASK_QUEUE).await {
                deliveries.set(deliveries.get() + 1);
            }
            (deliveries.get() > DELIVERY_LIMIT).then_some(())
        },
    )
    .await
    .unwrap();
    let poison = json!({
        "routing_key": "saudi-post", "payload": "not a task", "payload_encoding": "string",
        "properties": {"message_id": "poison-e2e", "delivery_mode": 2},
    });
    management
        .post(&["exchanges", &vhost, "rabt.tasks", "publish"], poison)
        .await;

    let worker = deployment
        .wiring
        .spawn("worker-0", &["serve", "--role", "worker"])
        .unwrap();
    deployment.workers.push(worker);
    let client = deployment.client.clone();
    let ended = client
        .completed(&request, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}\nworker log:\n{}", deployment.workers[0].tail(40)));
    assert_eq!(ended["verdict"], "PARTIAL", "{ended}");
    assert_eq!(ended["outcome"], "UPSTREAM_ERROR");
    assert_eq!(ended["checks"][0]["error"], "dead-lettered: delivery_limit");
    let task = ended["checks"][0]["id"].as_str().unwrap().to_owned();

    let wiring = &deployment.wiring;
    let list = eventually(WAIT, "both dead letters listed", || async {
        let out = wiring.run(&["dlq", "list"]).ok()?;
        (out.contains(&task) && out.contains("undecodable message")).then_some(out)
    })
    .await
    .unwrap();
    let row = listed(&list, &task);
    let (dead, replayable) = (row[0].clone(), row[3].clone());
    assert_eq!(
        (row[1].as_str(), row[2].as_str()),
        ("saudi-post", "open"),
        "{list}"
    );
    assert_eq!(replayable, "yes");
    assert!(row.ends_with(&["delivery_limit".to_owned()]), "{list}");
    let poison = listed(&list, "undecodable message")[0].clone();
    let shown = wiring.run(&["dlq", "show", &poison]).unwrap();
    assert!(shown.contains("body:        not a task"), "{shown}");

    let refused = wiring.run(&["dlq", "replay", &poison, "--operator", "e2e"]);
    let refused = refused.expect_err("the poison names no task").to_string();
    assert!(
        refused.contains("names no task or callback of ours"),
        "{refused}"
    );
    let out = wiring
        .run(&["dlq", "replay", &dead, "--operator", "e2e"])
        .unwrap();
    assert!(out.contains(&format!("replayed {dead}")), "{out}");

    let done = eventually(WAIT, "the replayed task to complete", || async {
        let (_, body) = client.get(&format!("/v1/requests/{request}")).await.ok()?;
        (body["status"] == "COMPLETED" && body["outcome"] == "OK").then_some(body)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nworker log:\n{}", deployment.workers[0].tail(40)));
    assert_eq!(done["verdict"], "PASS");
    assert_eq!(done["data"]["city"]["en"], "Riyadh");

    let again = wiring.run(&["dlq", "replay", &dead, "--operator", "e2e"]);
    let again = again.expect_err("replayed once").to_string();
    assert!(again.contains("replayed by e2e"), "{again}");
    let all = wiring.run(&["dlq", "list", "--all"]).unwrap();
    assert_eq!(listed(&all, &task)[2], "replayed", "{all}");

    // The operator API tells the same story.
    let out = wiring
        .run(&["operator", "add", "--name", "auditor"])
        .unwrap();
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("token:"))
        .map(str::trim)
        .unwrap()
        .to_owned();
    let letter: Value = client
        .http()
        .get(format!(
            "{}/ops/v1/dead-letters/{dead}",
            deployment.wiring.ops_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(letter["state"], "replayed", "{letter}");
    assert_eq!(letter["replayedBy"], "e2e");
    assert_eq!(letter["task"], task);
}
