//! The drill's fast subset, in every test run: a worker SIGKILLed and an agency failing
//! for a few seconds under steady load, with two api and two worker processes on RabbitMQ
//! and PostgreSQL. Nothing accepted may be lost or applied twice. (The full drill, with
//! the api SIGKILL, a RabbitMQ restart and poison messages, is tests/drill.sh.)

use std::time::Duration;

use rabt_tests::Deployment;
use rabt_tests::drill::{self, Fault, Options};

#[tokio::test]
async fn under_load_a_killed_worker_and_a_failing_agency_lose_nothing() {
    let mut deployment = Deployment::start(2, drill::SERVICES).await.unwrap();
    let options = Options {
        rate: 8.0,
        faults: vec![Fault::WorkerKill, Fault::AgencyOutage],
        quiet: Duration::from_secs(4),
        outage: Duration::from_secs(6),
        services_dir: None,
    };
    let report = drill::run(&mut deployment, &options).await.unwrap();
    println!("{}", report.markdown());
    assert!(
        report.tallies.iter().map(|t| t.accepted).sum::<u64>() > 50,
        "the load ran: {report:?}"
    );
    for tally in &report.tallies {
        assert_eq!(tally.lost, 0, "lost in {}: {report:?}", tally.window);
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
