//! The sealer under concurrent writers: entries committed out of seq order, rolled back
//! ones, and two sealers of two "processes" at once. The sealed sequence must be every
//! committed entry in seq order — no gap, no duplicate — with exactly the rolled-back
//! seqs recorded as gaps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rabt_store::{Dialect, Store};
use sqlx::{AnyPool, Row};

use crate::audit_seal::{ORIGIN, key, record, seal_all, verify};
use crate::harness::{TestDb, backend_test};

/// Inserts an audit row in a transaction of its own, which commits after `hold` (an
/// entry whose seq is handed out long before it becomes visible) or rolls back.
async fn raw_entry(raw: &AnyPool, hold: Duration, commit: bool) -> i64 {
    let mut tx = raw.begin().await.unwrap();
    let seq = insert_raw(&mut tx).await;
    tokio::time::sleep(hold).await;
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
    seq
}

/// Writes an entry with the pool's own SQL (not the store's): its `seq`.
async fn insert_raw(conn: &mut sqlx::AnyConnection) -> i64 {
    let row = sqlx::query(
        "INSERT INTO audit_log (at, actor_kind, action, detail) \
         VALUES ($1, 'system', 'test.raw', '{}') RETURNING seq",
    )
    .bind(chrono::Utc::now().timestamp_millis())
    .fetch_one(conn)
    .await
    .unwrap();
    row.try_get("seq").unwrap()
}

async fn sealed_seqs(db: &TestDb) -> Vec<i64> {
    let rows = sqlx::query("SELECT seq FROM audit_leaves ORDER BY leaf_index")
        .fetch_all(db.raw())
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get("seq").unwrap()).collect()
}

async fn all_seqs(db: &TestDb, table: &str) -> Vec<i64> {
    let sql = format!("SELECT seq FROM {table} ORDER BY seq");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(db.raw())
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get("seq").unwrap()).collect()
}

/// PostgreSQL: an entry in flight holds the sealer back; once it commits it is sealed in
/// its place; a rolled-back one becomes a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_in_flight_holds_the_sealer_and_a_rolled_back_one_is_a_gap() {
    let db = TestDb::postgres().await;
    record(&db.store, 3, "before").await;
    assert_eq!(seal_all(&db.store, 100).await, 3);
    // A transaction that has its seq before the next entries take theirs, and commits
    // only when the test says so (however slow the machine).
    let raw = db.raw().clone();
    let (taken, seq_taken) = tokio::sync::oneshot::channel();
    let (end, ended) = tokio::sync::oneshot::channel::<()>();
    let held = tokio::spawn(async move {
        let mut tx = raw.begin().await.unwrap();
        let seq = insert_raw(&mut tx).await;
        taken.send(seq).unwrap();
        ended.await.unwrap();
        tx.commit().await.unwrap();
        seq
    });
    let seq = seq_taken.await.unwrap();
    record(&db.store, 2, "after").await;
    let mut sealer = db.store.sealer(100);
    assert!(sealer.acquire().await.unwrap());
    let report = sealer.seal(&key(), ORIGIN).await.unwrap();
    assert!(report.held, "{report:?}");
    assert_eq!(report.tree_size, 3);
    let (waiting_at, waiting_for) = report.waiting.clone().unwrap();
    assert!(!waiting_for.is_empty(), "it names the open transaction");
    assert_eq!(waiting_at, seq);
    end.send(()).unwrap();
    assert_eq!(held.await.unwrap(), seq);
    let report = sealer.seal(&key(), ORIGIN).await.unwrap();
    assert_eq!(
        (report.sealed, report.tree_size, report.held),
        (3, 6, false)
    );
    assert_eq!(sealed_seqs(&db).await[3], seq, "sealed in its place");

    let gone = raw_entry(db.raw(), Duration::ZERO, false).await;
    record(&db.store, 1, "after the rollback").await;
    // Final at once if nothing was in flight; else once what was in flight (on any
    // database of the server: transaction ids are the cluster's) has ended.
    let deadline = std::time::Instant::now() + rabt_test_support::DEADLINE;
    let report = loop {
        let report = sealer.seal(&key(), ORIGIN).await.unwrap();
        if !report.held {
            break report;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gap was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((report.sealed, report.gaps, report.tree_size), (1, 1, 7));
    assert_eq!(all_seqs(&db, "audit_gaps").await, vec![gone]);
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.gaps, 1);
}

/// PostgreSQL: a second process's sealer stands by while the first holds the role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sealer_at_a_time_across_processes() {
    let db = TestDb::postgres().await;
    let other = Store::connect(db.url(), 2).await.unwrap();
    let mut first = db.store.sealer(10);
    let mut second = other.sealer(10);
    assert!(first.acquire().await.unwrap());
    assert!(!second.acquire().await.unwrap());
    assert!(!second.holds());
    first.release().await;
    // The server frees the lock when it sees the first connection close.
    let deadline = std::time::Instant::now() + rabt_test_support::DEADLINE;
    while !second.acquire().await.unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "the role never came free"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn concurrent_writers_and_two_sealers_leave_no_gap_or_duplicate(db: TestDb) {
    let postgres = db.store.dialect() == Dialect::Postgres;
    // Two more pools on the database, as two more processes would have.
    let stores = [
        db.store.clone(),
        Store::connect(db.url(), 4).await.unwrap(),
        Store::connect(db.url(), 4).await.unwrap(),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let mut sealers = Vec::new();
    for store in &stores[1..] {
        let store = store.clone();
        let stop = stop.clone();
        sealers.push(tokio::spawn(async move {
            let mut sealer = store.sealer(25);
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) {
                if sealer.acquire().await.unwrap() {
                    sealer.seal(&key(), ORIGIN).await.unwrap();
                    rounds += 1;
                    // Give the role up now and then, as a process that stops would.
                    if rounds.is_multiple_of(7) {
                        sealer.release().await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            sealer.release().await;
        }));
    }
    let mut writers = Vec::new();
    for w in 0..4usize {
        let store = stores[w % stores.len()].clone();
        let raw = db.raw().clone();
        writers.push(tokio::spawn(async move {
            let mut rolled_back = Vec::new();
            for i in 0..60usize {
                match (postgres, (i + w) % 10) {
                    // Seqs taken now, visible 5–40 ms later: out of seq order.
                    (true, 3) => {
                        raw_entry(&raw, Duration::from_millis(5 + (i as u64 * 7) % 35), true).await;
                    }
                    (true, 7) => {
                        rolled_back.push(raw_entry(&raw, Duration::from_millis(3), false).await)
                    }
                    _ => record(&store, 1, &format!("writer.{w}")).await,
                }
            }
            rolled_back
        }));
    }
    let mut rolled_back = Vec::new();
    for writer in writers {
        rolled_back.extend(writer.await.unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    for sealer in sealers {
        sealer.await.unwrap();
    }
    // Whatever is left, in a last round or two once no transaction is in flight.
    rabt_test_support::must::eventually("everything sealed", || async {
        let size = seal_all(&db.store, 1000).await;
        (size == db.count("audit_log").await as u64).then_some(())
    })
    .await;

    let sealed = sealed_seqs(&db).await;
    let committed = all_seqs(&db, "audit_log").await;
    assert_eq!(
        sealed, committed,
        "every committed entry, in seq order, once"
    );
    rolled_back.sort_unstable();
    assert_eq!(all_seqs(&db, "audit_gaps").await, rolled_back);
    if postgres {
        assert!(!rolled_back.is_empty());
    }
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{:?}", report.problems);
    assert!(report.checkpoints > 1);
}
backend_test!(concurrent_writers_and_two_sealers_leave_no_gap_or_duplicate);
