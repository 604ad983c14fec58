//! Two api and two worker processes write audit entries at once, every one of them
//! holding the signing key: one seals at a time (on PostgreSQL the others stand by), and
//! the sealed sequence is
//! every committed entry, in seq order, once — on PostgreSQL, and on one SQLite file.

use std::time::Duration;

use futures_util::future::join_all;
use rabt_tests::{Client, Deployment, SharedDatabase, free_port};
use serde_json::json;

use super::{all_sealed, completed, database, seqs};

async fn two_apis_and_two_workers(shared: SharedDatabase) {
    let mut deployment = Deployment::start_on(
        shared,
        2,
        "post.address.verify,interior.identity.verify",
        None,
        &[],
    )
    .await
    .unwrap();
    let port = free_port();
    let ops_port = free_port();
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
    let other = Client::new(
        &format!("http://127.0.0.1:{port}"),
        deployment.client.api_key(),
    );
    other
        .ready(&mut second, Duration::from_secs(60))
        .await
        .unwrap();

    // Both APIs at once, while both workers answer: entries of many transactions on
    // four processes interleave.
    let bodies = (0..40).map(|i| {
        let client = if i % 2 == 0 {
            deployment.client.clone()
        } else {
            other.clone()
        };
        let body = if i % 3 == 0 {
            json!({"service": "interior.identity.verify", "input": {"idNumber": "1000000008",
                "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}})
        } else {
            json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}})
        };
        async move { completed(&client, &body).await }
    });
    let ids = join_all(bodies).await;
    assert_eq!(ids.len(), 40);

    let pool = database(&deployment).await;
    let sealed = all_sealed(&pool).await;
    let mut unique = sealed.clone();
    unique.dedup();
    assert_eq!(unique.len(), sealed.len(), "no entry sealed twice");
    assert!(
        sealed.windows(2).all(|w| w[0] < w[1]),
        "sealed in seq order"
    );
    assert!(sealed.len() >= 40 * 5, "{}", sealed.len());
    // Every hole in the sealed range is a recorded gap (a rolled-back write), nothing
    // else.
    let gaps = seqs(&pool, "SELECT seq FROM audit_gaps ORDER BY seq").await;
    let (first, last) = (sealed[0], *sealed.last().unwrap());
    for seq in first..=last {
        assert!(
            sealed.binary_search(&seq).is_ok() || gaps.binary_search(&seq).is_ok(),
            "seq {seq} is neither sealed nor a recorded gap"
        );
    }
    deployment
        .wiring
        .run(&["audit", "verify"])
        .expect("the log of four writers verifies");

    // Every process could seal. On PostgreSQL exactly one did (the advisory lock); on
    // SQLite each takes turns inside its write transaction, which excludes the others.
    let mut sealers = 0;
    let logs = [&deployment.api, &second]
        .into_iter()
        .chain(deployment.workers.iter());
    for process in logs {
        let log = std::fs::read_to_string(&process.log).unwrap();
        sealers += log.matches("sealing the audit log").count();
    }
    match shared {
        SharedDatabase::Postgres => assert_eq!(sealers, 1, "one sealer at a time"),
        SharedDatabase::Sqlite => assert!(sealers >= 1),
    }
    drop(second);
    deployment.api.kill();
}

#[tokio::test]
async fn four_writers_seal_every_entry_once_on_postgres() {
    two_apis_and_two_workers(SharedDatabase::Postgres).await;
}

#[tokio::test]
async fn four_writers_seal_every_entry_once_on_sqlite() {
    two_apis_and_two_workers(SharedDatabase::Sqlite).await;
}
