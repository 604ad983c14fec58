//! The drill's fast subset, in every test run: a worker SIGKILLed, an api process
//! SIGKILLed, an agency failing for a few seconds and poison messages, under steady load,
//! with two api and two worker processes on RabbitMQ and PostgreSQL. Nothing accepted may
//! be lost or applied twice, and every poison message ends in the dead letters. (The full
//! drill, longer and with a RabbitMQ restart, is tests/drill.sh; the broker outage test
//! runs alone, see tests/e2e/broker_outage.rs.)

use std::time::Duration;

use rabt_tests::Deployment;
use rabt_tests::drill::{self, Fault, Options};

#[tokio::test]
async fn under_load_killed_processes_a_failing_agency_and_poison_lose_nothing() {
    let mut deployment = Deployment::start(2, drill::SERVICES).await.unwrap();
    let options = Options {
        rate: 8.0,
        faults: vec![
            Fault::WorkerKill,
            Fault::ApiKill,
            Fault::AgencyOutage,
            Fault::Poison,
        ],
        quiet: Duration::from_secs(4),
        outage: Duration::from_secs(6),
        services_dir: None,
        cluster_dir: None,
    };
    let report = drill::run(&mut deployment, &options).await.unwrap();
    println!("{}", report.markdown());
    assert!(
        report.tallies.iter().map(|t| t.accepted).sum::<u64>() > 50,
        "the load ran: {report:?}"
    );
    assert_eq!(
        report.poison,
        Some((drill::POISON, drill::POISON)),
        "every poison message dead-lettered: {report:?}"
    );
    for tally in &report.tallies {
        assert_eq!(tally.lost, 0, "lost in {}: {report:?}", tally.window);
        assert_eq!(
            tally.refused, 0,
            "gave up on in {}: {report:?}",
            tally.window
        );
        assert_eq!(
            tally.applied_twice, 0,
            "applied twice in {}: {report:?}",
            tally.window
        );
        assert_eq!(
            tally.completed + tally.dead_lettered,
            tally.accepted,
            "{}: {report:?}",
            tally.window
        );
    }
}
