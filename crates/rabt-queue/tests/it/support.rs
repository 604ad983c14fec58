//! Test fixtures: the transports under test, each RabbitMQ one in a fresh vhost of its
//! own (rabt-test-support's [`TempVhost`]), and what these tests read through the
//! management API. Waits are rabt-test-support's `must` ones, bounded by its deadline.

use std::time::Duration;

use rabt_queue::{Settings, Transport};
use rabt_test_support::TempVhost;
use rabt_test_support::must::{eventually, within};
use serde_json::Value;

/// Settings small enough for tests: a delivery limit of 2 and short retry tiers.
pub(crate) fn test_settings() -> Settings {
    Settings {
        delivery_limit: 2,
        retry_tiers: vec![Duration::from_millis(300), Duration::from_secs(1)],
        ..Settings::default()
    }
}

/// A fresh vhost for one test, deleted when dropped.
pub(crate) async fn fresh_vhost() -> TempVhost {
    TempVhost::create("rabt-queue-test-").await.unwrap()
}

/// What these tests read and do through the management API of their vhost.
pub(crate) trait Management {
    /// A queue's description, once the management API knows it.
    async fn queue(&self, name: &str) -> Value;

    /// The names of the vhost's client connections (waits for at least one).
    async fn connections(&self) -> Vec<String>;

    /// Force-closes every client connection of the vhost, as a broker restart would.
    async fn kill_connections(&self);
}

impl Management for TempVhost {
    async fn queue(&self, name: &str) -> Value {
        eventually(&format!("queue {name} in the management API"), || {
            self.get(&["queues", &self.name, name])
        })
        .await
    }

    async fn connections(&self) -> Vec<String> {
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

    async fn kill_connections(&self) {
        for name in self.connections().await {
            self.delete(&["connections", &name]).await.unwrap();
        }
    }
}

/// A transport under test, with its vhost when it is RabbitMQ.
pub(crate) struct Fixture {
    pub(crate) transport: Transport,
    pub(crate) vhost: Option<TempVhost>,
}

impl Fixture {
    pub(crate) fn embedded(settings: Settings) -> Fixture {
        Fixture {
            transport: Transport::embedded(settings),
            vhost: None,
        }
    }

    pub(crate) async fn amqp(settings: Settings) -> Fixture {
        let vhost = fresh_vhost().await;
        let transport = within("connecting", Transport::amqp(&vhost.amqp_url, settings))
            .await
            .expect("connecting to the test vhost");
        Fixture {
            transport,
            vhost: Some(vhost),
        }
    }

    pub(crate) fn vhost(&self) -> &TempVhost {
        self.vhost.as_ref().expect("an AMQP fixture")
    }

    /// Closes the transport, then (on drop) deletes the vhost.
    pub(crate) async fn finish(self) {
        within("closing", self.transport.close()).await;
    }
}
