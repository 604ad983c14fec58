//! Test fixtures: a fresh RabbitMQ vhost per test (through the management API), the
//! transports under test, and deadline helpers.

use std::future::Future;
use std::time::Duration;

use rabt_queue::{Settings, Transport};
use reqwest::{Client, Url};
use serde_json::{Value, json};

/// Every wait in these tests is bounded by this deadline (never a fixed sleep).
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// Settings small enough for tests: a delivery limit of 2 and short retry tiers.
pub(crate) fn test_settings() -> Settings {
    Settings {
        delivery_limit: 2,
        retry_tiers: vec![Duration::from_millis(300), Duration::from_secs(1)],
        ..Settings::default()
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the real RabbitMQ. Run \
             `source /tmp/rabt-dev-services/env.sh` (development) or `tests/services.sh start`."
        )
    })
}

/// Awaits `future`, failing the test if it takes longer than [`DEADLINE`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done within {DEADLINE:?}"))
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// A RabbitMQ vhost of its own, deleted when dropped.
pub(crate) struct Vhost {
    pub(crate) name: String,
    api: Url,
    client: Client,
}

impl Vhost {
    pub(crate) async fn create() -> Vhost {
        let api = Url::parse(&env("RABT_TEST_RABBITMQ_API"))
            .expect("RABT_TEST_RABBITMQ_API is not a URL");
        let vhost = Vhost {
            name: format!("rabt-queue-test-{}", uuid::Uuid::new_v4().simple()),
            api,
            client: Client::new(),
        };
        vhost.put(&["vhosts", &vhost.name], json!({})).await;
        let user = vhost.api.username().to_owned();
        vhost
            .put(
                &["permissions", &vhost.name, &user],
                json!({"configure": ".*", "write": ".*", "read": ".*"}),
            )
            .await;
        vhost
    }

    /// The AMQP URL of this vhost, from RABT_TEST_AMQP_URL.
    pub(crate) fn amqp_url(&self) -> String {
        let mut url =
            Url::parse(&env("RABT_TEST_AMQP_URL")).expect("RABT_TEST_AMQP_URL is not a URL");
        url.set_path("");
        url.path_segments_mut()
            .expect("an amqp URL has a path")
            .push(&self.name);
        url.to_string()
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .expect("the management API URL has a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// GETs a management API resource; `None` while it does not exist (yet). The
    /// future owns its request, so it may outlive `segments`.
    pub(crate) fn get(&self, segments: &[&str]) -> impl Future<Output = Option<Value>> + use<> {
        let request = self.client.get(self.url(segments));
        async move {
            let response = request.send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.json().await.ok()
        }
    }

    pub(crate) async fn put(&self, segments: &[&str], body: Value) {
        let response = self
            .client
            .put(self.url(segments))
            .json(&body)
            .send()
            .await
            .expect("management API unreachable");
        assert!(
            response.status().is_success(),
            "PUT {segments:?}: {}",
            response.status()
        );
    }

    pub(crate) async fn delete(&self, segments: &[&str]) {
        let response = self
            .client
            .delete(self.url(segments))
            .send()
            .await
            .expect("management API unreachable");
        assert!(
            response.status().is_success() || response.status() == 404,
            "DELETE {segments:?}: {}",
            response.status()
        );
    }

    /// A queue's description, once the management API knows it.
    pub(crate) async fn queue(&self, name: &str) -> Value {
        eventually(&format!("queue {name} in the management API"), || {
            self.get(&["queues", &self.name, name])
        })
        .await
    }

    /// The names of the vhost's client connections (waits for at least one).
    pub(crate) async fn connections(&self) -> Vec<String> {
        eventually("a connection in the management API", || async {
            let list = self.get(&["vhosts", &self.name, "connections"]).await?;
            let names: Vec<String> = list
                .as_array()?
                .iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect();
            (!names.is_empty()).then_some(names)
        })
        .await
    }

    /// Force-closes every client connection of the vhost, as a broker restart would.
    pub(crate) async fn kill_connections(&self) {
        for name in self.connections().await {
            self.delete(&["connections", &name]).await;
        }
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        // Drop cannot await: delete on a thread of its own with a small runtime.
        let url = self.url(&["vhosts", &self.name]);
        let client = self.client.clone();
        let deleting = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the vhost cleanup");
            runtime.block_on(async { client.delete(url).send().await.map(|_| ()) })
        });
        if !matches!(deleting.join(), Ok(Ok(()))) {
            eprintln!("could not delete test vhost {}", self.name);
        }
    }
}

/// A transport under test, with its vhost when it is RabbitMQ.
pub(crate) struct Fixture {
    pub(crate) transport: Transport,
    pub(crate) vhost: Option<Vhost>,
}

impl Fixture {
    pub(crate) fn embedded(settings: Settings) -> Fixture {
        Fixture {
            transport: Transport::embedded(settings),
            vhost: None,
        }
    }

    pub(crate) async fn amqp(settings: Settings) -> Fixture {
        let vhost = Vhost::create().await;
        let transport = within("connecting", Transport::amqp(&vhost.amqp_url(), settings))
            .await
            .expect("connecting to the test vhost");
        Fixture {
            transport,
            vhost: Some(vhost),
        }
    }

    pub(crate) fn vhost(&self) -> &Vhost {
        self.vhost.as_ref().expect("an AMQP fixture")
    }

    /// Closes the transport, then (on drop) deletes the vhost.
    pub(crate) async fn finish(self) {
        within("closing", self.transport.close()).await;
    }
}
