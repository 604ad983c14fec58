//! What only the RabbitMQ transport has: the declared topology, the reconnect loop, the
//! broker's prefetch.

use std::time::Duration;

use rabt_core::Agency;
use rabt_queue::{
    Consumer, Delivery, OutgoingMessage, QueueError, Settings, Transport, dead_queue, retry_queue,
    task_queue,
};
use rabt_test_support::TempVhost;
use rabt_test_support::must::{eventually, within};
use serde_json::{Value, json};

use crate::proxy::SilentProxy;
use crate::support::{Fixture, Management, fresh_vhost, test_settings};

async fn next(consumer: &mut Consumer) -> Delivery {
    within("the next delivery", consumer.next())
        .await
        .expect("the consumer ended")
}

fn task(agency: Agency, id: &str) -> OutgoingMessage {
    OutgoingMessage::task(agency, id, b"{}".to_vec())
}

async fn exchange(vhost: &TempVhost, name: &str) -> Value {
    eventually(&format!("exchange {name}"), || {
        vhost.get(&["exchanges", &vhost.name, name])
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_is_declared_as_designed() {
    let settings = Settings::default();
    let fixture = Fixture::amqp(settings.clone()).await;
    let vhost = fixture.vhost();

    for (name, kind) in [
        ("rabt.tasks", "direct"),
        ("rabt.dead", "direct"),
        ("rabt.events", "topic"),
    ] {
        let exchange = exchange(vhost, name).await;
        assert_eq!(exchange["type"], kind, "{name}");
        assert_eq!(exchange["durable"], true, "{name}");
    }

    for agency in Agency::ALL {
        let tasks = vhost.queue(&task_queue(agency)).await;
        assert_eq!(tasks["type"], "quorum");
        assert_eq!(tasks["durable"], true);
        let args = &tasks["arguments"];
        assert_eq!(args["x-delivery-limit"], 10);
        assert_eq!(args["x-dead-letter-exchange"], "rabt.dead");
        assert_eq!(args["x-dead-letter-routing-key"], agency.as_str());
        assert_eq!(args["x-dead-letter-strategy"], "at-least-once");
        assert_eq!(args["x-overflow"], "reject-publish");
        let bindings = vhost
            .get(&[
                "bindings",
                &vhost.name,
                "e",
                "rabt.tasks",
                "q",
                &task_queue(agency),
            ])
            .await
            .expect("bindings of the task queue");
        assert_eq!(bindings[0]["routing_key"], agency.as_str());

        let dead = vhost.queue(&dead_queue(agency)).await;
        assert_eq!(dead["type"], "quorum");
        let bindings = vhost
            .get(&[
                "bindings",
                &vhost.name,
                "e",
                "rabt.dead",
                "q",
                &dead_queue(agency),
            ])
            .await
            .expect("bindings of the dead-letter queue");
        assert_eq!(bindings[0]["routing_key"], agency.as_str());

        for tier in &settings.retry_tiers {
            let retry = vhost.queue(&retry_queue(agency, *tier)).await;
            assert_eq!(retry["type"], "quorum");
            let args = &retry["arguments"];
            assert_eq!(args["x-message-ttl"], json!(tier.as_millis() as u64));
            assert_eq!(args["x-dead-letter-exchange"], "rabt.tasks");
            assert_eq!(args["x-dead-letter-routing-key"], agency.as_str());
        }
    }

    // Heartbeats as configured (the management API calls it the connection's timeout).
    let name = vhost.connections().await.remove(0);
    let connection = eventually("the connection's details", || {
        vhost.get(&["connections", &name])
    })
    .await;
    assert_eq!(connection["timeout"], settings.heartbeat.as_secs());
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_keeps_consuming_after_its_connection_is_force_closed() {
    let fixture = Fixture::amqp(test_settings()).await;
    let (t, vhost) = (&fixture.transport, fixture.vhost());
    let mut consumer = t.consume(Agency::Interior, 10).await.unwrap();
    let mut events = t.subscribe_events("request.completed.*").await.unwrap();
    t.publish(&[task(Agency::Interior, "before")])
        .await
        .unwrap();
    let held = next(&mut consumer).await;

    let killed = vhost.connections().await;
    vhost.kill_connections().await;
    // A new connection exists only once the supervisor saw the old one die.
    eventually("a new connection", || async {
        let now = vhost.get(&["vhosts", &vhost.name, "connections"]).await?;
        let names: Vec<&str> = now
            .as_array()?
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        names
            .iter()
            .any(|n| !killed.iter().any(|k| k == n))
            .then_some(())
    })
    .await;

    // Never acked across connections: the broker redelivers it instead.
    let error = held.ack().await.unwrap_err();
    assert!(matches!(error, QueueError::StaleDelivery), "{error:?}");
    let again = next(&mut consumer).await;
    assert_eq!(again.message_id(), Some("before"));
    assert!(again.redelivered());
    again.ack().await.unwrap();

    eventually("publishing on the new connection", || async {
        t.publish(&[task(Agency::Interior, "after")]).await.ok()
    })
    .await;
    let after = next(&mut consumer).await;
    assert_eq!(after.message_id(), Some("after"));
    after.ack().await.unwrap();

    // The event subscription was re-made on the new connection too. Events sent before
    // it was are lost (they are hints), so keep sending until one arrives.
    let event = OutgoingMessage::event("request.completed.coop_1", "e", b"done".to_vec());
    let body = within("an event on the new connection", async {
        loop {
            if t.publish(std::slice::from_ref(&event)).await.is_err() {
                // Not reconnected yet: poll again shortly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let waited = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
            if let Ok(Some(body)) = waited {
                break body;
            }
        }
    })
    .await;
    assert_eq!(body, b"done");
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_fails_fast_while_disconnected_and_the_topology_comes_back() {
    // A publish bound far beyond the test's deadline: only failing fast passes.
    let settings = Settings {
        publish_timeout: Duration::from_secs(3_600),
        ..test_settings()
    };
    let fixture = Fixture::amqp(settings).await;
    let (t, vhost) = (&fixture.transport, fixture.vhost());
    assert!(t.is_ready());

    // Refuse new connections, then cut the current one: the transport stays down.
    let limit = ["vhost-limits", vhost.name.as_str(), "max-connections"];
    vhost.put(&limit, json!({"value": 0})).await.unwrap();
    vhost.kill_connections().await;
    eventually("the transport notices", || async {
        (!t.is_ready()).then_some(())
    })
    .await;
    let error = within(
        "publishing while down",
        t.publish(&[task(Agency::Chambers, "x")]),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, QueueError::NotConnected), "{error:?}");
    assert!(error.is_transient());

    // An operator deletes a queue meanwhile; the reconnect declares it again.
    vhost
        .delete(&["queues", &vhost.name, &task_queue(Agency::Chambers)])
        .await
        .unwrap();
    vhost.delete(&limit).await.unwrap();
    eventually("ready again", || async { t.is_ready().then_some(()) }).await;
    let queue = vhost.queue(&task_queue(Agency::Chambers)).await;
    assert_eq!(queue["type"], "quorum");
    within(
        "publishing after reconnect",
        t.publish(&[task(Agency::Chambers, "y")]),
    )
    .await
    .unwrap();
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_limits_unacked_deliveries() {
    let fixture = Fixture::amqp(test_settings()).await;
    let (t, vhost) = (&fixture.transport, fixture.vhost());
    let mut consumer = t.consume(Agency::Health, 2).await.unwrap();
    let batch: Vec<OutgoingMessage> = (0..5)
        .map(|i| task(Agency::Health, &format!("p-{i}")))
        .collect();
    t.publish(&batch).await.unwrap();
    let first = next(&mut consumer).await;
    let second = next(&mut consumer).await;

    let queue = task_queue(Agency::Health);
    eventually("2 unacked and 3 ready", || async {
        let q = vhost.get(&["queues", &vhost.name, &queue]).await?;
        (q["messages_unacknowledged"] == 2 && q["messages_ready"] == 3).then_some(())
    })
    .await;

    first.ack().await.unwrap();
    second.ack().await.unwrap();
    for _ in 0..3 {
        next(&mut consumer).await.ack().await.unwrap();
    }
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_is_an_error_without_the_password() {
    let error = Transport::amqp("amqp://user:s3cret@127.0.0.1:notaport/%2f", test_settings())
        .await
        .unwrap_err();
    assert!(matches!(error, QueueError::InvalidUrl(_)), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_found_by_heartbeats_and_replaced() {
    let vhost = fresh_vhost().await;
    let mut url = reqwest::Url::parse(&vhost.amqp_url).unwrap();
    let upstream = url.socket_addrs(|| Some(5672)).unwrap()[0];
    let proxy = SilentProxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let settings = Settings {
        heartbeat: Duration::from_secs(1),
        publish_timeout: Duration::from_secs(2),
        ..test_settings()
    };
    let t = Transport::amqp(url.as_str(), settings).await.unwrap();
    let mut consumer = t.consume(Agency::Labor, 10).await.unwrap();
    t.publish(&[task(Agency::Labor, "before")]).await.unwrap();
    next(&mut consumer).await.ack().await.unwrap();

    // The socket stays open but carries nothing: only missed heartbeats tell.
    proxy.silence_existing();
    eventually("publishing on a new connection", || async {
        t.publish(&[task(Agency::Labor, "after")]).await.ok()
    })
    .await;
    // The ack of "before" may not have left before the silence: then the broker
    // redelivers it on the new connection (at-least-once), marked redelivered.
    let mut after = next(&mut consumer).await;
    while after.message_id() == Some("before") {
        assert!(
            after.redelivered(),
            "a second delivery of `before` must say so"
        );
        after.ack().await.unwrap();
        after = next(&mut consumer).await;
    }
    assert_eq!(after.message_id(), Some("after"));
    after.ack().await.unwrap();
    t.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_queue_arguments_are_a_topology_error_naming_the_queue() {
    let fixture = Fixture::amqp(test_settings()).await;
    let changed = Settings {
        delivery_limit: 7,
        ..test_settings()
    };
    let error = Transport::amqp(&fixture.vhost().amqp_url, changed)
        .await
        .unwrap_err();
    match &error {
        QueueError::Topology { object, .. } => {
            assert!(object.contains("rabt.tasks."), "{object}");
        }
        other => panic!("expected a topology error, got {other:?}"),
    }
    fixture.finish().await;
}

/// A URL of a node that is not there: a port that was free a moment ago.
fn dead_node() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    format!("amqp://guest:secret-of-a-dead-node@127.0.0.1:{port}/%2f")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_nodes_skips_the_one_that_is_not_there() {
    let vhost = fresh_vhost().await;
    // The first node of the list was never reachable: the transport uses the next.
    let urls = format!("{},{}", dead_node(), vhost.amqp_url);
    let transport = within("connecting", Transport::amqp(&urls, test_settings()))
        .await
        .expect("connecting through the second URL");
    assert!(transport.is_ready());
    let mut consumer = transport.consume(Agency::Labor, 4).await.unwrap();
    transport
        .publish(&[task(Agency::Labor, "m-1")])
        .await
        .unwrap();
    let delivery = next(&mut consumer).await;
    assert_eq!(delivery.message_id(), Some("m-1"));
    delivery.ack().await.unwrap();
    transport.close().await;

    // No node at all: an error that names no URL (they hold passwords).
    let error = Transport::amqp(&format!("{},{}", dead_node(), dead_node()), test_settings())
        .await
        .expect_err("no node answers");
    assert!(!error.to_string().contains("secret"), "{error}");
    let error = Transport::amqp(" , ", test_settings())
        .await
        .expect_err("no URL");
    assert!(matches!(error, QueueError::InvalidUrl(_)), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_queues_get_the_replication_group_asked_for() {
    let settings = Settings {
        quorum_size: Some(3),
        ..test_settings()
    };
    let fixture = Fixture::amqp(settings).await;
    let vhost = fixture.vhost();
    for agency in Agency::ALL {
        for queue in [task_queue(agency), dead_queue(agency)] {
            let found = vhost.queue(&queue).await;
            assert_eq!(
                found["arguments"]["x-quorum-initial-group-size"], 3,
                "{queue}: {found}"
            );
        }
    }
}
