//! Sealing the audit log: seq order, checkpoints, proofs from stored nodes, the one
//! sealer, holes that may still fill, and an independent check by pymerkle and
//! cryptography (tests/audit_check.py).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rabt_audit::{
    Checkpoint, Frontier, SigningKey, leaf_hash, verify_consistency, verify_inclusion,
};
use rabt_store::audit::verify::{VerifyOptions, VerifyReport};
use rabt_store::{Actor, NewAuditEntry, Store};
use serde_json::{Value, json};
use sqlx::Row;

use crate::harness::{TestDb, backend_test};

pub(crate) const ORIGIN: &str = "rabt.test/audit";

pub(crate) fn key() -> SigningKey {
    SigningKey::from_seed(ORIGIN, [42; 32]).unwrap()
}

pub(crate) async fn record(store: &Store, n: usize, action: &str) {
    for i in 0..n {
        let mut entry = NewAuditEntry::new(Actor::System, action);
        entry.outcome = Some(format!("n{i}"));
        entry.detail = json!({"i": i, "text": "نص عربي"});
        store.record_audit(&entry).await.unwrap();
    }
}

/// The store's own check of the whole log, trusting the test key.
pub(crate) async fn verify(store: &Store) -> VerifyReport {
    store
        .verify_audit_log(&VerifyOptions {
            trusted_keys: vec![key().verifier()],
            origin: Some(ORIGIN.to_owned()),
        })
        .await
        .unwrap()
}

/// Seals until nothing more can be sealed now.
pub(crate) async fn seal_all(store: &Store, batch: u32) -> u64 {
    let mut sealer = store.sealer(batch);
    assert!(sealer.acquire().await.unwrap());
    let mut size = 0;
    loop {
        let report = sealer.seal(&key(), ORIGIN).await.unwrap();
        size = report.tree_size.max(size);
        if !report.more {
            break;
        }
    }
    sealer.release().await;
    size
}

async fn leaves(db: &TestDb) -> Vec<(i64, String)> {
    let rows = sqlx::query("SELECT seq, canonical FROM audit_leaves ORDER BY leaf_index")
        .fetch_all(db.raw())
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.try_get("seq").unwrap(), r.try_get("canonical").unwrap()))
        .collect()
}

async fn sealing_follows_seq_order_and_checkpoints_verify(db: TestDb) {
    record(&db.store, 50, "test.first").await;
    assert_eq!(seal_all(&db.store, 1000).await, 50);
    let first = db.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(first.tree_size, 50);
    assert_eq!(first.verifier_key, key().verifier().to_string());
    let opened = Checkpoint::open(&first.note, &key().verifier()).unwrap();
    assert_eq!(
        (opened.size, opened.root, opened.origin.as_str()),
        (50, first.root, ORIGIN)
    );

    // The leaves are the entries in seq order, their bytes as stored.
    let sealed = leaves(&db).await;
    let seqs: Vec<i64> = sealed.iter().map(|(s, _)| *s).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(seqs, sorted);
    let mut frontier = Frontier::empty();
    for (_, canonical) in &sealed {
        frontier.push(leaf_hash(canonical.as_bytes()));
    }
    assert_eq!(frontier.root(), first.root);

    // Nothing new: no new checkpoint. More entries: one more, consistent with the first.
    assert_eq!(seal_all(&db.store, 1000).await, 50);
    assert_eq!(db.count("audit_checkpoints").await, 1);
    record(&db.store, 31, "test.second").await;
    assert_eq!(seal_all(&db.store, 7).await, 81);
    let second = db.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(second.tree_size, 81);
    let proof = db.store.consistency_proof(50, 81).await.unwrap();
    verify_consistency(50, 81, &proof, &first.root, &second.root).unwrap();
    for size in 1..=81 {
        let root = db.store.audit_root(size).await.unwrap();
        let proof = db.store.consistency_proof(size, 81).await.unwrap();
        verify_consistency(size, 81, &proof, &root, &second.root).unwrap();
    }
    let all: Vec<u64> = (0..81).collect();
    let proofs = db.store.inclusion_proofs(&all, 81).await.unwrap();
    let sealed = leaves(&db).await;
    for (index, proof) in proofs.iter().enumerate() {
        let leaf = leaf_hash(sealed[index].1.as_bytes());
        verify_inclusion(&leaf, index as u64, 81, proof, &second.root).unwrap();
    }
    let report = verify(&db.store).await;
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(
        (report.entries, report.sealed, report.unsealed),
        (81, 81, 0)
    );
    assert!(report.checkpoints >= 2);
    assert_eq!(report.latest_checkpoint, Some(81));
}
backend_test!(sealing_follows_seq_order_and_checkpoints_verify);

async fn a_rotated_key_signs_at_once_and_old_checkpoints_still_verify(db: TestDb) {
    record(&db.store, 5, "test").await;
    seal_all(&db.store, 100).await;
    let old = key();
    let new = SigningKey::from_seed(ORIGIN, [43; 32]).unwrap();
    let mut sealer = db.store.sealer(100);
    assert!(sealer.acquire().await.unwrap());
    let report = sealer.seal(&new, ORIGIN).await.unwrap();
    // The tree did not grow, but the latest checkpoint was the old key's.
    assert_eq!(report.checkpoint, Some(5));
    let latest = db.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.verifier_key, new.verifier().to_string());
    assert_eq!(sealer.seal(&new, ORIGIN).await.unwrap().checkpoint, None);
    let both = VerifyOptions {
        trusted_keys: vec![new.verifier(), old.verifier()],
        origin: None,
    };
    assert!(db.store.verify_audit_log(&both).await.unwrap().is_intact());
    // Trusting only the new key, the old checkpoint is named.
    let only_new = VerifyOptions {
        trusted_keys: vec![new.verifier()],
        origin: None,
    };
    let report = db.store.verify_audit_log(&only_new).await.unwrap();
    assert_eq!(report.problem_count, 1);
    assert!(
        report.problems[0].to_string().contains("not a trusted key"),
        "{}",
        report.problems[0]
    );
}
backend_test!(a_rotated_key_signs_at_once_and_old_checkpoints_still_verify);

async fn subjects_are_indexed_and_sealed_without_the_number(db: TestDb) {
    let coop = crate::fixtures::cooperative(&db.store).await;
    let mut new = crate::fixtures::request(coop.id, "k-subjects", &[rabt_core::Agency::Interior]);
    new.subjects = vec!["d1".repeat(32), "d2".repeat(32)];
    db.store.accept_request(&new).await.unwrap();
    let mut other = crate::fixtures::request(coop.id, "k-other", &[rabt_core::Agency::Interior]);
    other.subjects = vec!["d2".repeat(32)];
    db.store.accept_request(&other).await.unwrap();
    let found = db
        .store
        .requests_by_subject(&["d1".repeat(32)], 10)
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.request).collect::<Vec<_>>(),
        vec![new.id]
    );
    let found = db
        .store
        .requests_by_subject(&["d2".repeat(32)], 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].request, other.id, "newest first");
    seal_all(&db.store, 100).await;
    let evidence = db.store.request_evidence(new.id).await.unwrap();
    let accepted = evidence.entries[0].sealed.as_ref().unwrap();
    let doc: Value = serde_json::from_str(&accepted.canonical).unwrap();
    assert_eq!(doc["action"], "request.accepted");
    assert_eq!(
        doc["detail"]["subjects"],
        json!(["d1".repeat(32), "d2".repeat(32)])
    );
    assert!(evidence.complete());
    assert!(!accepted.canonical.contains("1000000008"));
}
backend_test!(subjects_are_indexed_and_sealed_without_the_number);

/// pymerkle recomputes every root from 1 to 1000 from the sealed bytes and checks
/// Rabt's proofs; cryptography checks the checkpoint; every flipped byte is caught.
async fn pymerkle_and_cryptography_agree_with_the_sealed_tree(db: TestDb) {
    const N: u64 = 1000;
    // Sealed in uneven rounds, so the frontier is rebuilt from stored nodes many times.
    let mut sealer = db.store.sealer(37);
    assert!(sealer.acquire().await.unwrap());
    let mut checkpoints = Vec::new();
    for round in 0..40 {
        record(&db.store, 25, &format!("round.{round}")).await;
        let report = sealer.seal(&key(), ORIGIN).await.unwrap();
        if report.checkpoint.is_some() {
            checkpoints.push(db.store.latest_checkpoint().await.unwrap().unwrap());
        }
    }
    while sealer.seal(&key(), ORIGIN).await.unwrap().more {}
    checkpoints.push(db.store.latest_checkpoint().await.unwrap().unwrap());
    assert_eq!(db.store.audit_tree_size().await.unwrap(), N);

    let sealed = leaves(&db).await;
    let mut roots = Vec::new();
    for size in 1..=N {
        roots.push(json!([
            size,
            db.store.audit_root(size).await.unwrap().to_base64()
        ]));
    }
    let root = |size: u64| roots[size as usize - 1][1].clone();
    let indices: Vec<u64> = (0..N).step_by(7).chain([N - 1]).collect();
    let proofs = db.store.inclusion_proofs(&indices, N).await.unwrap();
    let mut inclusion: Vec<Value> = indices
        .iter()
        .zip(&proofs)
        .map(|(index, proof)| {
            json!({
                "leaf": BASE64.encode(&sealed[*index as usize].1),
                "index": index, "size": N, "root": root(N),
                "proof": proof.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
            })
        })
        .collect();
    for size in [1u64, 2, 3, 64, 65, 511, 999] {
        let index = size / 2;
        let proof = &db.store.inclusion_proofs(&[index], size).await.unwrap()[0];
        inclusion.push(json!({
            "leaf": BASE64.encode(&sealed[index as usize].1),
            "index": index, "size": size, "root": root(size),
            "proof": proof.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
        }));
    }
    let mut consistency = Vec::new();
    for (first, second) in [
        (1, N),
        (2, 3),
        (4, 7),
        (37, 74),
        (500, 1000),
        (512, 1000),
        (999, 1000),
        (1000, 1000),
    ] {
        let proof = db.store.consistency_proof(first, second).await.unwrap();
        consistency.push(json!({
            "from": first, "to": second, "from_root": root(first), "to_root": root(second),
            "proof": proof.iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
        }));
    }
    let document = json!({
        "entries": sealed.iter().map(|(_, c)| BASE64.encode(c)).collect::<Vec<_>>(),
        "roots": roots,
        "inclusion": inclusion,
        "consistency": consistency,
        "checkpoints": checkpoints.iter().map(|c| json!({
            "note": c.note, "key": c.verifier_key, "origin": ORIGIN,
        })).collect::<Vec<_>>(),
    });
    let summary = rabt_test_support::audit_check(&document);
    assert_eq!(summary["roots"], N);
    assert_eq!(summary["inclusion"], inclusion.len());
    assert_eq!(summary["consistency"], consistency.len());
    assert_eq!(summary["checkpoints"], checkpoints.len());
    assert!(
        summary["tampered_caught"].as_u64().unwrap() > 500,
        "{summary}"
    );
}
backend_test!(pymerkle_and_cryptography_agree_with_the_sealed_tree);

/// Every perfect subtree is stored, and nothing else: 2n - popcount(n) nodes.
async fn every_perfect_subtree_is_stored_once(db: TestDb) {
    record(&db.store, 300, "test").await;
    seal_all(&db.store, 64).await;
    assert_eq!(
        db.count("audit_nodes").await,
        2 * 300 - 300u32.count_ones() as i64
    );
    assert_eq!(db.count("audit_leaves").await, 300);
}
backend_test!(every_perfect_subtree_is_stored_once);
