//! Cooperatives, API keys and operators.

use rabt_core::{CooperativeId, UnifiedNumber};
use rabt_store::{NewCooperative, OperatorRole, StoreError};

use crate::fixtures::{cooperative, service};
use crate::harness::{TestDb, assert_duplicate, backend_test};

async fn api_keys_find_active_cooperatives_only(db: TestDb) {
    let store = &db.store;
    let coop = cooperative(store).await;
    store
        .add_api_key(coop.id, "hash-live", "erp")
        .await
        .unwrap();
    store.add_api_key(coop.id, "hash-old", "old").await.unwrap();
    let finds = |hash: &'static str| async move {
        store.cooperative_by_api_key(hash).await.unwrap().is_some()
    };

    let found = store.cooperative_by_api_key("hash-live").await.unwrap();
    assert_eq!(found.as_ref(), Some(&coop));
    assert!(!finds("hash-unknown").await);

    assert!(store.revoke_api_key("hash-old").await.unwrap());
    assert!(!store.revoke_api_key("hash-old").await.unwrap(), "twice");
    assert!(!finds("hash-old").await, "a revoked key still works");

    let admin = rabt_store::Actor::Operator("huda".into());
    let off = store.set_cooperative_active(coop.id, false, "audit", &admin);
    assert_eq!(off.await.unwrap(), Some(true));
    assert!(
        !finds("hash-live").await,
        "a suspended cooperative still works"
    );
    let suspended = store.cooperative(coop.id).await.unwrap().unwrap();
    assert!(!suspended.active);
    let on = store.set_cooperative_active(coop.id, true, "", &admin);
    assert_eq!(on.await.unwrap(), Some(true));
    assert!(finds("hash-live").await);
    let unknown = store.set_cooperative_active(CooperativeId::new(), false, "", &admin);
    assert_eq!(unknown.await.unwrap(), None);
}
backend_test!(api_keys_find_active_cooperatives_only);

async fn keys_and_cooperatives_are_unique(db: TestDb) {
    let coop = cooperative(&db.store).await;
    db.store.add_api_key(coop.id, "hash", "erp").await.unwrap();
    let again = db.store.add_api_key(coop.id, "hash", "again").await;
    assert_duplicate(&again, "api key");

    let err = db
        .store
        .add_api_key(CooperativeId::new(), "other", "nobody")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "cooperative"
            }
        ),
        "{err:?}"
    );

    let twin = NewCooperative {
        id: CooperativeId::new(),
        name: "another name".to_owned(),
        unified_number: coop.unified_number.clone(),
        services: vec![],
    };
    assert_duplicate(&db.store.create_cooperative(&twin).await, "cooperative");
}
backend_test!(keys_and_cooperatives_are_unique);

async fn cooperatives_are_listed_in_onboarding_order(db: TestDb) {
    let first = cooperative(&db.store).await;
    let second = db
        .store
        .create_cooperative(&NewCooperative {
            id: CooperativeId::new(),
            name: "Al Noor".to_owned(),
            unified_number: UnifiedNumber::parse("7000000002").unwrap(),
            services: vec![
                service("post.address.verify"),
                service("interior.identity.verify"),
            ],
        })
        .await
        .unwrap();
    assert_eq!(second.services.len(), 2);
    let all = db.store.list_cooperatives().await.unwrap();
    assert_eq!(all, vec![first, second]);
}
backend_test!(cooperatives_are_listed_in_onboarding_order);

async fn operators_are_found_by_token(db: TestDb) {
    db.store
        .create_operator("amal", OperatorRole::Admin, "token-a")
        .await
        .unwrap();
    db.store
        .create_operator("badr", OperatorRole::Viewer, "token-b")
        .await
        .unwrap();
    let amal = db
        .store
        .operator_by_token("token-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (amal.name.as_str(), amal.role),
        ("amal", OperatorRole::Admin)
    );
    let badr = db
        .store
        .operator_by_token("token-b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(badr.role, OperatorRole::Viewer);
    assert!(
        db.store
            .operator_by_token("token-x")
            .await
            .unwrap()
            .is_none()
    );
    let second_amal = db
        .store
        .create_operator("amal", OperatorRole::Viewer, "token-c")
        .await;
    assert_duplicate(&second_amal, "operator");
}
backend_test!(operators_are_found_by_token);
