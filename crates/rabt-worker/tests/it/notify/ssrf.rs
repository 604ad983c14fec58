//! The SSRF guard at send time, with private targets NOT allowed. Receivers listen on
//! 127.0.0.1, which the guard exempts as a known internal host would be; every other
//! loopback address (127.0.0.2, 127.0.0.3…) stands for a forbidden network, so a
//! guard that failed would still only ever reach this machine.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rabt_store::NotificationStatus;
use rabt_test_support::Backend;
use rabt_worker::notify::{Resolver, TargetGuard};

use super::{Receiver, Setup, backend_test, redirect, verify};

const LOOPBACK: &str = "127.0.0.1";

/// Names and their addresses, as a DNS server would answer.
#[derive(Debug)]
struct Zone(BTreeMap<String, Vec<IpAddr>>);

impl Resolver for Zone {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let found = self.0.get(host).cloned();
        Box::pin(async move { found.ok_or_else(|| io::Error::other("NXDOMAIN")) })
    }
}

/// Production rules, with only 127.0.0.1 exempted.
fn guarded(zone: Zone) -> TargetGuard {
    TargetGuard::new(false)
        .with_resolver(Arc::new(zone))
        .exempting([LOOPBACK.parse().unwrap()])
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

async fn a_redirect_to_a_restricted_address_is_not_followed(backend: Backend) {
    let setup = Setup::new(backend).await;
    let elsewhere = Receiver::start("127.0.0.2", vec![]).await;
    let hop = redirect(&elsewhere.url("/latest/meta-data/"));
    let receiver = Receiver::start(LOOPBACK, vec![hop]).await;
    let request = setup.completed(&receiver.url("/hook")).await;
    let notifier = setup.notifier(
        guarded(Zone(BTreeMap::new())),
        vec![Duration::from_secs(3600)],
    );

    notifier.notify_due().await.unwrap();
    assert_eq!(receiver.received().len(), 1);
    assert!(
        elsewhere.received().is_empty(),
        "the redirect reached a refused address"
    );
    let record = setup.notification(request).await;
    assert_eq!(
        record.status,
        NotificationStatus::Pending,
        "a failed attempt, retried later"
    );
    assert_eq!(
        record.history[0].error.as_deref(),
        Some("redirect 1: refused target: 127.0.0.2 is a loopback address")
    );
}
backend_test!(a_redirect_to_a_restricted_address_is_not_followed);

async fn an_allowed_redirect_is_followed_with_the_signed_post(backend: Backend) {
    let setup = Setup::new(backend).await;
    let moved = Receiver::start(LOOPBACK, vec![]).await;
    let hop = redirect(&moved.url("/new-hook"));
    let receiver = Receiver::start(LOOPBACK, vec![hop]).await;
    let request = setup.completed(&receiver.url("/old-hook")).await;
    let notifier = setup.notifier(guarded(Zone(BTreeMap::new())), vec![]);

    notifier.notify_due().await.unwrap();
    assert_eq!(
        setup.notification(request).await.status,
        NotificationStatus::Delivered
    );
    let received = moved.received();
    assert_eq!(received.len(), 1);
    verify(&setup.secret, &received[0]);
}
backend_test!(an_allowed_redirect_is_followed_with_the_signed_post);

async fn a_name_resolving_to_a_restricted_address_is_refused(backend: Backend) {
    let setup = Setup::new(backend).await;
    let receiver = Receiver::start(LOOPBACK, vec![]).await;
    let port = receiver.address.port();
    let zone = Zone(BTreeMap::from([
        // One good address is not enough: any restricted one refuses the name.
        (
            "hooks.coop.example".to_owned(),
            vec![ip(LOOPBACK), ip("127.0.0.2")],
        ),
        ("erp.coop.example".to_owned(), vec![ip(LOOPBACK)]),
    ]));
    let notifier = setup.notifier(guarded(zone), vec![Duration::from_secs(3600)]);
    let rebound = setup
        .completed(&format!("http://hooks.coop.example:{port}/hook"))
        .await;
    notifier.notify_due().await.unwrap();
    let record = setup.notification(rebound).await;
    assert_eq!(
        record.history[0].error.as_deref(),
        Some("refused target: `hooks.coop.example` resolves to 127.0.0.2, a loopback address")
    );
    assert!(receiver.received().is_empty());

    // The same receiver under a name that resolves only to the exempted address: the
    // connection goes where the guard's own lookup said.
    let fine = setup
        .completed(&format!("http://erp.coop.example:{port}/hook"))
        .await;
    notifier.notify_due().await.unwrap();
    assert_eq!(
        setup.notification(fine).await.status,
        NotificationStatus::Delivered
    );
    assert_eq!(receiver.received().len(), 1);
}
backend_test!(a_name_resolving_to_a_restricted_address_is_refused);

async fn a_restricted_notify_url_fails_at_once(backend: Backend) {
    let setup = Setup::new(backend).await;
    let notifier = setup.notifier(
        guarded(Zone(BTreeMap::new())),
        vec![Duration::from_millis(1)],
    );
    for (url, why) in [
        (
            "http://127.0.0.3:9/hook",
            "refused target: 127.0.0.3 is a loopback address",
        ),
        (
            "http://localhost:9/hook",
            "refused target: `localhost` is a local name",
        ),
        (
            "http://[::1]:9/hook",
            "refused target: ::1 is a loopback address",
        ),
    ] {
        let request = setup.completed(url).await;
        notifier.notify_due().await.unwrap();
        let record = setup.notification(request).await;
        assert_eq!(record.status, NotificationStatus::Failed, "{url}");
        assert_eq!(
            (record.attempts, record.last_error.as_deref()),
            (1, Some(why))
        );
    }
}
backend_test!(a_restricted_notify_url_fails_at_once);
