//! Limits shared by every process: a rate limit decided in one statement holds across
//! stores (processes), a refused call changes nothing, a daily quota refuses past its
//! count and writes nothing, and an agency's slots are never held more than the limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rabt_core::{Agency, RateLimit};
use rabt_store::{Accepted, CooperativeLimit, Store, StoreError};

use crate::fixtures::{cooperative, request};
use crate::harness::{TestDb, backend_test};

fn micros_now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Two stores on one database (two api processes) take calls as fast as they can for
/// two seconds against 20/s with bursts of 5: together they get the burst plus the
/// rate, not twice it.
async fn a_rate_limit_holds_across_processes(db: TestDb) {
    let limit = RateLimit::parse("20/s", 5).unwrap();
    let other = Store::connect(db.url(), 4).await.unwrap();
    let allowed = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let run = Duration::from_secs(2);
    let mut callers = Vec::new();
    for store in [
        db.store.clone(),
        db.store.clone(),
        other.clone(),
        other.clone(),
    ] {
        let (allowed, refused) = (allowed.clone(), refused.clone());
        callers.push(tokio::spawn(async move {
            while started.elapsed() < run {
                let decision = store.take_rate("coop:test", &limit).await.unwrap();
                let counter = if decision.allowed { &allowed } else { &refused };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(allowed.load(Ordering::Relaxed));
    let most = 5.0 + 20.0 * elapsed;
    assert!(
        allowed <= most,
        "{allowed} calls went in {elapsed:.2} s; at most {most:.0}"
    );
    // More than the burst: the rate refilled for both processes. (How close to the
    // rate they came depends on how fast this machine let them call: not asserted.)
    assert!(
        allowed > 5.0,
        "only {allowed} calls went in {elapsed:.2} s: no more than the burst"
    );
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "the test never hit the limit"
    );
}
backend_test!(a_rate_limit_holds_across_processes);

async fn a_refused_call_changes_nothing(db: TestDb) {
    let limit = RateLimit::parse("1/s", 2).unwrap();
    let now = micros_now();
    assert!(
        db.store
            .take_rate_at("k", &limit, now)
            .await
            .unwrap()
            .allowed
    );
    let second = db.store.take_rate_at("k", &limit, now).await.unwrap();
    assert!(second.allowed);
    assert_eq!(second.remaining, 0);
    let before = db
        .query_text("SELECT CAST(tat_us AS TEXT) FROM rate_limits")
        .await;
    for _ in 0..5 {
        let refused = db.store.take_rate_at("k", &limit, now).await.unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
    }
    let after = db
        .query_text("SELECT CAST(tat_us AS TEXT) FROM rate_limits")
        .await;
    assert_eq!(before, after, "refused calls moved the limit");
    assert!(
        db.store
            .take_rate_at("k", &limit, now + 1_000_000)
            .await
            .unwrap()
            .allowed
    );
}
backend_test!(a_refused_call_changes_nothing);

async fn a_cooperatives_limit_is_set_read_and_cleared_with_an_audit(db: TestDb) {
    let coop = cooperative(&db.store).await;
    assert_eq!(db.store.cooperative_limit(coop.id).await.unwrap(), None);
    let limit = CooperativeLimit {
        rate: Some(RateLimit::parse("5/s", 10).unwrap()),
        quota_per_day: Some(10_000),
    };
    db.store
        .set_cooperative_limit(coop.id, Some(limit), "huda")
        .await
        .unwrap();
    assert_eq!(
        db.store.cooperative_limit(coop.id).await.unwrap(),
        Some(limit)
    );
    let unlimited = CooperativeLimit {
        rate: None,
        quota_per_day: None,
    };
    db.store
        .set_cooperative_limit(coop.id, Some(unlimited), "huda")
        .await
        .unwrap();
    assert_eq!(
        db.store.cooperative_limit(coop.id).await.unwrap(),
        Some(unlimited)
    );
    db.store
        .set_cooperative_limit(coop.id, None, "huda")
        .await
        .unwrap();
    assert_eq!(db.store.cooperative_limit(coop.id).await.unwrap(), None);
    assert_eq!(
        db.count("audit_log WHERE action IN ('cooperative.limit_set', 'cooperative.limit_cleared') AND actor_id = 'huda'")
            .await,
        3
    );
    let unknown = rabt_core::CooperativeId::new();
    let err = db
        .store
        .set_cooperative_limit(unknown, Some(limit), "huda")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}
backend_test!(a_cooperatives_limit_is_set_read_and_cleared_with_an_audit);

async fn a_daily_quota_refuses_past_its_count_and_writes_nothing(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let accept = |key: &str| {
        let store = db.store.clone();
        let new = request(coop.id, key, &[Agency::SaudiPost]);
        async move { store.accept_request_within(&new, None, Some(2)).await }
    };
    assert_eq!(accept("q1").await.unwrap().0, Accepted::Created);
    assert_eq!(accept("q2").await.unwrap().0, Accepted::Created);
    // A replay of an accepted key is answered, and not counted.
    assert!(matches!(
        accept("q2").await.unwrap().0,
        Accepted::Existing { .. }
    ));
    let requests = db.count("requests").await;
    let audit = db.count("audit_log").await;
    let err = accept("q3").await.unwrap_err();
    assert!(matches!(err, StoreError::QuotaExceeded), "{err:?}");
    assert_eq!(
        (db.count("requests").await, db.count("audit_log").await),
        (requests, audit)
    );
    assert_eq!(
        db.count("idempotency_keys").await,
        2,
        "the refused key is not kept"
    );
    // Another cooperative has its own count.
    let other = cooperative(&db.store).await;
    let new = request(other.id, "q3", &[Agency::SaudiPost]);
    assert!(
        db.store
            .accept_request_within(&new, None, Some(2))
            .await
            .is_ok()
    );
}
backend_test!(a_daily_quota_refuses_past_its_count_and_writes_nothing);

/// Three stores (three workers) hold at most the limit's slots at once; a released slot
/// goes to the next, and a slot whose holder died is taken over when its lease ends.
async fn an_agencys_slots_are_never_held_more_than_the_limit(db: TestDb) {
    let stores = [
        db.store.clone(),
        Store::connect(db.url(), 2).await.unwrap(),
        Store::connect(db.url(), 2).await.unwrap(),
    ];
    let lease = Duration::from_secs(30);
    let mut held = Vec::new();
    for (i, store) in stores.iter().cycle().take(6).enumerate() {
        let holder = format!("worker-{}", i % 3);
        if let Some(slot) = store
            .acquire_agency_slot(Agency::Labor, 2, &holder, lease)
            .await
            .unwrap()
        {
            held.push((slot, holder));
        }
    }
    assert_eq!(held.len(), 2, "{held:?}");
    // Another agency has slots of its own.
    assert!(
        stores[0]
            .acquire_agency_slot(Agency::Interior, 2, "w", lease)
            .await
            .unwrap()
            .is_some()
    );
    let (slot, holder) = held.pop().unwrap();
    stores[1]
        .release_agency_slot(Agency::Labor, slot, &holder)
        .await
        .unwrap();
    assert_eq!(
        stores[2]
            .acquire_agency_slot(Agency::Labor, 2, "worker-2", lease)
            .await
            .unwrap(),
        Some(slot)
    );
    // A short lease: its holder "died"; once it runs out the slot is free again.
    let short = Duration::from_millis(50);
    let dying = stores[0]
        .acquire_agency_slot(Agency::Labor, 3, "dying", short)
        .await
        .unwrap();
    assert!(dying.is_some(), "a raised limit adds a slot");
    assert_eq!(
        stores[0]
            .acquire_agency_slot(Agency::Labor, 3, "w", lease)
            .await
            .unwrap(),
        None
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut heir = None;
    while heir.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        heir = stores[1]
            .acquire_agency_slot(Agency::Labor, 3, "heir", lease)
            .await
            .unwrap();
    }
    assert_eq!(heir, dying, "the dead holder's slot was never taken over");
}
backend_test!(an_agencys_slots_are_never_held_more_than_the_limit);
