//! A cooperative's lifecycle: onboarding with its first key, rotation with an overlap,
//! revocation, services, deactivation; each audited with the operator's name.

use std::time::Duration;

use rabt_core::{CooperativeId, UnifiedNumber};
use rabt_store::{Actor, AuditQuery, NewCooperative, Revoked, key_id};

use crate::fixtures::{cooperative, service};
use crate::harness::{TestDb, backend_test};

fn huda() -> Actor {
    Actor::Operator("huda".to_owned())
}

async fn actions(db: &TestDb) -> Vec<(String, Actor)> {
    db.store
        .audit_log(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.actor))
        .collect()
}

async fn onboarding_stores_the_key_and_secret_in_one_audited_step(db: TestDb) {
    let new = NewCooperative {
        id: CooperativeId::new(),
        name: "جمعية النور".to_owned(),
        unified_number: UnifiedNumber::parse("7000000009").unwrap(),
        services: vec![service("post.address.verify")],
    };
    let coop = db
        .store
        .onboard_cooperative(&new, "hash-first", "whsec_x", &huda())
        .await
        .unwrap();
    assert!(coop.active);
    assert_eq!(
        db.store.api_key_holder("hash-first").await.unwrap(),
        Some(coop.clone())
    );
    assert_eq!(
        db.store.webhook_secret(coop.id).await.unwrap().as_deref(),
        Some("whsec_x")
    );
    let keys = db.store.api_keys(coop.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, key_id("hash-first"));
    assert_eq!(keys[0].label, "onboarded by huda");
    assert_eq!(
        actions(&db).await,
        [("cooperative.onboarded".to_owned(), huda())]
    );
    // The same unified number again: refused, and nothing more is written.
    let twin = NewCooperative {
        id: CooperativeId::new(),
        ..new
    };
    assert!(
        db.store
            .onboard_cooperative(&twin, "hash-2", "whsec_y", &huda())
            .await
            .is_err()
    );
    assert_eq!(db.store.api_key_holder("hash-2").await.unwrap(), None);
    assert_eq!(actions(&db).await.len(), 1);
}
backend_test!(onboarding_stores_the_key_and_secret_in_one_audited_step);

async fn a_rotated_key_works_through_its_overlap_only(db: TestDb) {
    let store = &db.store;
    let coop = cooperative(store).await;
    store.add_api_key(coop.id, "hash-old", "erp").await.unwrap();
    // No overlap: the old key stops at once, the new one works.
    let rotated = store
        .rotate_api_key(coop.id, "hash-new", Duration::ZERO, &huda())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.key, key_id("hash-new"));
    assert_eq!(rotated.expiring, [key_id("hash-old")]);
    assert!(store.api_key_holder("hash-old").await.unwrap().is_none());
    assert!(store.api_key_holder("hash-new").await.unwrap().is_some());
    // An hour's overlap: both work until then.
    store
        .rotate_api_key(coop.id, "hash-newer", Duration::from_secs(3600), &huda())
        .await
        .unwrap()
        .unwrap();
    assert!(store.api_key_holder("hash-new").await.unwrap().is_some());
    assert!(store.api_key_holder("hash-newer").await.unwrap().is_some());
    let keys = store.api_keys(coop.id).await.unwrap();
    let new = keys.iter().find(|k| k.id == key_id("hash-new")).unwrap();
    assert!(new.expires_at.is_some_and(|end| end > chrono::Utc::now()));
    let none = store
        .rotate_api_key(CooperativeId::new(), "h", Duration::ZERO, &huda())
        .await;
    assert_eq!(none.unwrap(), None);
    let rotations = actions(&db).await;
    assert_eq!(rotations.len(), 2);
    assert!(
        rotations
            .iter()
            .all(|(a, by)| a == "cooperative.key_rotated" && *by == huda())
    );
}
backend_test!(a_rotated_key_works_through_its_overlap_only);

async fn a_revoked_key_stops_at_once_and_once(db: TestDb) {
    let store = &db.store;
    let coop = cooperative(store).await;
    store.add_api_key(coop.id, "hash-a", "erp").await.unwrap();
    let other = cooperative(store).await;
    let id = key_id("hash-a");
    // Another cooperative cannot name this key.
    let wrong = store
        .revoke_api_key_id(other.id, &id, "leak", &huda())
        .await;
    assert_eq!(wrong.unwrap(), Revoked::NoSuchKey);
    assert!(store.api_key_holder("hash-a").await.unwrap().is_some());
    let done = store.revoke_api_key_id(coop.id, &id, "leak", &huda()).await;
    assert_eq!(done.unwrap(), Revoked::Now);
    assert!(store.api_key_holder("hash-a").await.unwrap().is_none());
    let again = store.revoke_api_key_id(coop.id, &id, "leak", &huda()).await;
    assert!(matches!(again.unwrap(), Revoked::Already(_)));
    assert_eq!(
        actions(&db).await,
        [("cooperative.key_revoked".to_owned(), huda())]
    );
}
backend_test!(a_revoked_key_stops_at_once_and_once);

async fn services_and_activation_change_with_an_audit_entry(db: TestDb) {
    let store = &db.store;
    let coop = cooperative(store).await;
    store.add_api_key(coop.id, "hash-k", "erp").await.unwrap();
    let services = [
        service("post.address.verify"),
        service("interior.identity.verify"),
    ];
    assert!(
        store
            .set_cooperative_services(coop.id, &services, &huda())
            .await
            .unwrap()
    );
    let now = store.cooperative(coop.id).await.unwrap().unwrap();
    assert_eq!(now.services.len(), 2);
    assert!(
        !store
            .set_cooperative_services(CooperativeId::new(), &services, &huda())
            .await
            .unwrap()
    );

    let off = store
        .set_cooperative_active(coop.id, false, "unpaid", &huda())
        .await;
    assert_eq!(off.unwrap(), Some(true));
    // The key still names its holder, inactive: the API tells 403 from 401.
    let holder = store.api_key_holder("hash-k").await.unwrap().unwrap();
    assert!(!holder.active);
    assert!(
        store
            .cooperative_by_api_key("hash-k")
            .await
            .unwrap()
            .is_none()
    );
    let twice = store
        .set_cooperative_active(coop.id, false, "again", &huda())
        .await;
    assert_eq!(twice.unwrap(), Some(false));
    let actions: Vec<String> = actions(&db).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        ["cooperative.services_changed", "cooperative.deactivated"]
    );
}
backend_test!(services_and_activation_change_with_an_audit_entry);

async fn activity_counts_recent_requests_per_cooperative(db: TestDb) {
    let store = &db.store;
    let before = store
        .cooperative_activity(chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert!(before.is_empty());
    let coop = crate::fixtures::cooperative(store).await;
    let new = crate::fixtures::request(coop.id, "k-activity", &[rabt_core::Agency::SaudiPost]);
    store.accept_request(&new).await.unwrap();
    let after = store
        .cooperative_activity(chrono::Utc::now() - chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].0, coop.id);
    assert_eq!(after[0].1.requests, 1);
    assert_eq!(after[0].1.completed, 0);
}
backend_test!(activity_counts_recent_requests_per_cooperative);
