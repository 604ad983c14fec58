//! The dead-letter drain: poison messages and messages over the delivery limit end up in
//! the database with their reasons, their tasks end UPSTREAM_ERROR, the worker keeps
//! going, and a replayed task completes once.

use chrono::Utc;
use rabt_core::{Agency, DeadLetterId, Outcome, TaskState, Verdict};
use rabt_queue::OutgoingMessage;
use rabt_store::{DeadLetter, DeadLetterQuery, DeadLetterState, ReplayOutcome, RequestRecord};
use rabt_test_support::must::{eventually, within};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::fanout::task_of;
use crate::fixtures::{
    ESTABLISHMENT, address_input, establishment_input, licence_input, municipal_callback,
};
use crate::rig::{Pairing, Rig, count, pairing_test, worker_settings};
use crate::services::transport_settings;

/// The agencies the establishment check calls.
const COMPOSITE_AGENCIES: [Agency; 5] = [
    Agency::Labor,
    Agency::Interior,
    Agency::SaudiPost,
    Agency::Municipal,
    Agency::Chambers,
];

/// A drain running beside the rig's worker; stop it before [`Rig::finish`].
struct Drain {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl Drain {
    fn start(rig: &Rig) -> Drain {
        Drain::start_for(rig, &[Agency::SaudiPost])
    }

    fn start_for(rig: &Rig, agencies: &[Agency]) -> Drain {
        let stop = CancellationToken::new();
        let drain = rig
            .worker_for(agencies, worker_settings())
            .dead_letter_drain();
        let handle = tokio::spawn(drain.run(stop.clone()));
        Drain { stop, handle }
    }

    async fn stop(self) {
        self.stop.cancel();
        within("stopping the drain", self.handle).await.unwrap();
    }
}

/// Waits until the database holds `n` dead letters of Saudi Post; newest first.
async fn recorded(rig: &Rig, n: usize) -> Vec<DeadLetter> {
    recorded_of(rig, Agency::SaudiPost, n).await
}

/// Waits until the database holds `n` dead letters of `agency`; newest first.
async fn recorded_of(rig: &Rig, agency: Agency, n: usize) -> Vec<DeadLetter> {
    let query = DeadLetterQuery {
        agency: Some(agency),
        limit: 100,
        ..DeadLetterQuery::default()
    };
    eventually(&format!("{n} dead letters in the database"), || async {
        let letters = rig.store.list_dead_letters(&query).await.unwrap();
        (letters.len() >= n).then_some(letters)
    })
    .await
}

/// Hands `agency`'s next task message back to its queue until the broker gives up on it
/// (delivery limit + 1 deliveries), as a worker crashing on it each time would.
async fn exhaust_delivery_limit(rig: &Rig, agency: Agency) {
    let mut consumer = rig.transport.consume(agency, 1).await.unwrap();
    for _ in 0..=transport_settings().delivery_limit {
        let delivery = within("the task message", consumer.next()).await.unwrap();
        delivery.requeue().await.unwrap();
    }
}

pairing_test!(poison_messages_are_recorded_with_their_reasons_and_the_worker_carries_on);
async fn poison_messages_are_recorded_with_their_reasons_and_the_worker_carries_on(
    pairing: Pairing,
) {
    let rig = Rig::running(pairing).await;
    let drain = Drain::start(&rig);

    rig.publish_raw("poison-undecodable", b"\x00\xffnot a task".to_vec())
        .await;
    let unknown = rig.publish_unknown_task().await;
    // Published straight to the dead-letter exchange, with no reason at all.
    let bare = OutgoingMessage {
        exchange: rabt_queue::DEAD_EXCHANGE.to_owned(),
        ..OutgoingMessage::task(Agency::SaudiPost, "bare", b"{}".to_vec())
    };
    rig.transport.publish(&[bare]).await.unwrap();

    let letters = recorded(&rig, 3).await;
    let mut reasons: Vec<(Option<String>, String)> = letters
        .iter()
        .map(|d| (d.message_id.clone(), d.reason.clone()))
        .collect();
    reasons.sort();
    let mut expected = vec![
        (Some("bare".to_owned()), "unknown".to_owned()),
        (
            Some("poison-undecodable".to_owned()),
            "undecodable message".to_owned(),
        ),
        (Some(unknown), "unknown task".to_owned()),
    ];
    expected.sort();
    assert_eq!(reasons, expected);
    for letter in &letters {
        assert_eq!(letter.task, None, "none names a task of ours");
        assert!(!letter.replayable);
    }
    let poison = letters
        .iter()
        .find(|d| d.message_id.as_deref() == Some("poison-undecodable"))
        .unwrap();
    assert_eq!(poison.body, b"\x00\xffnot a task", "kept byte for byte");
    eventually("the dead-letter queue drained", || async {
        (rig.dead_letter_count().await == 0).then_some(())
    })
    .await;

    // The worker carries on.
    let sent = rig.submit(&rig.new_request(address_input())).await;
    assert_eq!(
        rig.completed(sent.request).await.verdict,
        Some(Verdict::Pass)
    );
    drain.stop().await;
    rig.finish().await;
}

pairing_test!(a_message_over_the_delivery_limit_ends_its_task_and_a_replay_completes_it_once);
async fn a_message_over_the_delivery_limit_ends_its_task_and_a_replay_completes_it_once(
    pairing: Pairing,
) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let sent = rig.submit(&rig.new_request(address_input())).await;
    exhaust_delivery_limit(&rig, Agency::SaudiPost).await;

    rig.start_worker(worker_settings());
    let drain = Drain::start(&rig);
    let letters = recorded(&rig, 1).await;
    let letter = &letters[0];
    assert_eq!(letter.reason, rabt_queue::DELIVERY_LIMIT_REASON);
    assert_eq!(
        (letter.task, letter.request),
        (Some(sent.task), Some(sent.request))
    );
    assert!(letter.replayable);
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    let task = &record.tasks[0];
    assert_eq!(task.state, TaskState::Completed(Outcome::UpstreamError));
    assert_eq!(
        task.last_error.as_deref(),
        Some("dead-lettered: delivery_limit")
    );
    assert!(
        rig.agency.calls(sent.task).is_empty(),
        "the agency never saw it"
    );

    replay(&rig, letter.id).await;
    rig.wake_relay();
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    assert_eq!(rig.agency.calls(sent.task).len(), 1);
    // A duplicate of the replayed message changes nothing.
    rig.publish_again(sent).await;
    let barrier = rig.submit(&rig.new_request(address_input())).await;
    rig.completed(barrier.request).await;
    assert_eq!(rig.agency.calls(sent.task).len(), 1, "called again");
    rig.outbox_drained().await;
    let audit = rig.audit(sent.request).await;
    assert_eq!(
        count(&audit, "request.completed"),
        2,
        "once dead, once replayed"
    );
    assert_eq!(count(&audit, "dead_letter.replayed"), 1);
    let stored = rig.store.dead_letter(letter.id).await.unwrap().unwrap();
    assert_eq!(stored.state(), DeadLetterState::Replayed);
    drain.stop().await;
    rig.finish().await;
}

/// Replays a dead letter as an operator would, and checks it reopened.
async fn replay(rig: &Rig, id: DeadLetterId) {
    let outcome = rig
        .store
        .replay_dead_letter(id, "huda", Utc::now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, ReplayOutcome::Reopened { .. }),
        "{outcome:?}"
    );
}

pairing_test!(a_dead_lettered_registry_check_skips_its_dependants_until_a_replay_runs_them);
async fn a_dead_lettered_registry_check_skips_its_dependants_until_a_replay_runs_them(
    pairing: Pairing,
) {
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let new = rig.composite_request(ESTABLISHMENT, establishment_input());
    let registry = task_of(&new, "registry", None);
    let sent = rig.submit(&new).await;
    exhaust_delivery_limit(&rig, Agency::Labor).await;

    rig.start_worker_for(&COMPOSITE_AGENCIES, worker_settings());
    let drain = Drain::start_for(&rig, &COMPOSITE_AGENCIES);
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Partial));
    every_task_ended(&record, Outcome::UpstreamError);
    for task in record.tasks.iter().filter(|t| t.id != registry) {
        assert_eq!(task.attempts, 0, "{:?} was skipped, not run", task.child);
    }
    let audit = rig.audit(sent.request).await;
    let dependants = record.tasks.len() - 1;
    assert_eq!(count(&audit, "task.dead_lettered"), 1);
    assert_eq!(count(&audit, "task.skipped"), dependants);

    // The replay runs the registry, and the checks that waited for it run after it.
    let query = DeadLetterQuery {
        agency: Some(Agency::Labor),
        limit: 10,
        ..DeadLetterQuery::default()
    };
    let letters = rig.store.list_dead_letters(&query).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].task, Some(registry));
    replay(&rig, letters[0].id).await;
    rig.wake_relay();
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Pass), "{record:#?}");
    every_task_ended(&record, Outcome::Ok);
    assert_eq!(rig.scripted(Agency::Labor).calls(registry).len(), 1);
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "task.unskipped"), dependants);
    assert_eq!(count(&audit, "request.completed"), 2);
    drain.stop().await;
    rig.finish().await;
}

pairing_test!(a_callback_over_the_delivery_limit_is_applied_once_replayed);
async fn a_callback_over_the_delivery_limit_is_applied_once_replayed(pairing: Pairing) {
    const REFERENCE: &str = "BLD-DEAD0001";
    let mut rig = Rig::new(pairing).await;
    rig.start_relay();
    let sent = rig
        .submit(&rig.request_for("municipal.license.verify", licence_input()))
        .await;
    // The task's message, taken as the worker that submitted it to the municipality.
    let mut consumer = rig.transport.consume(Agency::Municipal, 1).await.unwrap();
    let delivery = within("the task message", consumer.next()).await.unwrap();
    rig.store.start_task(sent.task, Utc::now()).await.unwrap();
    assert!(
        rig.store
            .submit_task(sent.task, REFERENCE, Utc::now())
            .await
            .unwrap()
    );
    delivery.ack().await.unwrap();
    drop(consumer);
    let callback = rig
        .call_back(
            Agency::Municipal,
            municipal_callback(REFERENCE, Some("ACTIVE")),
        )
        .await;
    exhaust_delivery_limit(&rig, Agency::Municipal).await;

    rig.start_worker_for(&[Agency::Municipal], worker_settings());
    let drain = Drain::start_for(&rig, &[Agency::Municipal]);
    let letters = recorded_of(&rig, Agency::Municipal, 1).await;
    let letter = &letters[0];
    assert_eq!(letter.reason, rabt_queue::DELIVERY_LIMIT_REASON);
    assert_eq!((letter.task, letter.callback), (None, Some(callback)));
    assert!(letter.replayable);
    let waiting = rig.task(sent.request, sent.task).await;
    assert_eq!(
        waiting.state,
        TaskState::AwaitingCallback,
        "still the agency's"
    );

    let outcome = rig
        .store
        .replay_dead_letter(letter.id, "huda", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReplayOutcome::CallbackRequeued {
            callback,
            task: sent.task
        }
    );
    rig.wake_relay();
    let record = rig.completed(sent.request).await;
    assert_eq!(record.verdict, Some(Verdict::Pass));
    assert_eq!(record.tasks[0].state, TaskState::Completed(Outcome::Ok));
    rig.callback_applied(callback).await;
    let audit = rig.audit(sent.request).await;
    assert_eq!(count(&audit, "dead_letter.replayed"), 1);
    assert_eq!(count(&audit, "task.completed"), 1);
    drain.stop().await;
    rig.finish().await;
}

/// Asserts that every task of the request ended with `outcome`.
fn every_task_ended(record: &RequestRecord, outcome: Outcome) {
    for task in &record.tasks {
        assert_eq!(
            task.state,
            TaskState::Completed(outcome),
            "{:?}",
            task.child
        );
    }
}
