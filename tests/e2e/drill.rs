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
        database_down: Duration::ZERO,
        // Eight requests a second give too few samples for a p99 to mean much: reported,
        // not judged (tests/drill.sh judges at 30 a second).
        max_p99_ratio: None,
        cluster_dir: None,
    };
    let report = drill::run(&mut deployment, &options).await.unwrap();
    println!("{}", report.markdown());
    assert!(report.failures().is_empty(), "{:?}", report.failures());
    let breaker = report.breaker.as_ref().expect("the outage ran");
    assert!(breaker.all_ok_expected, "6 s is less than half of 45 s");
    assert!(
        breaker.outcomes.keys().all(|o| o == "OK"),
        "an outage of 6 s ended labor requests {:?}",
        breaker.outcomes
    );
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

/// PostgreSQL stopped for five seconds under load, then started again: while it is down
/// both api processes answer 503 with Retry-After at once (never a hang or a 500), each
/// serves again on its own when it is back, and nothing accepted is lost or applied
/// twice. It stops the suite's PostgreSQL, so it is ignored in the main run and
/// tests/run.sh runs it alone afterwards.
#[tokio::test]
#[ignore = "stops the suite's PostgreSQL: tests/run.sh runs it alone, after the other tests"]
async fn a_database_restart_under_load_answers_503_and_loses_nothing() {
    let services_dir = std::env::var_os("RABT_TEST_SERVICES_DIR")
        .expect("RABT_TEST_SERVICES_DIR (tests/services.sh start) to stop PostgreSQL");
    let mut deployment = Deployment::start(2, drill::SERVICES).await.unwrap();
    let options = Options {
        rate: 8.0,
        faults: vec![Fault::DatabaseRestart],
        quiet: Duration::from_secs(4),
        outage: Duration::from_secs(6),
        services_dir: Some(services_dir.into()),
        database_down: Duration::from_secs(5),
        max_p99_ratio: None,
        cluster_dir: None,
    };
    let report = drill::run(&mut deployment, &options).await.unwrap();
    println!("{}", report.markdown());
    let database = report.database.as_ref().expect("the restart ran");
    assert!(
        database.answers.keys().all(|a| a == "503+retry-after") && !database.answers.is_empty(),
        "while PostgreSQL was down: {}",
        database.answers_text()
    );
    assert!(
        database.recovered_in.is_some(),
        "an api process never served again"
    );
    for tally in &report.tallies {
        assert_eq!(
            (tally.lost, tally.applied_twice, tally.refused),
            (0, 0, 0),
            "{}: {report:?}",
            tally.window
        );
        assert_eq!(
            tally.completed + tally.dead_lettered,
            tally.accepted,
            "{report:?}"
        );
    }
    assert!(
        report
            .tallies
            .iter()
            .any(|t| t.window == "database-restart" && t.accepted > 0),
        "requests offered during the restart were accepted in the end: {report:?}"
    );
}
