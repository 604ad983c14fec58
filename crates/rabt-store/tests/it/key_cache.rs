//! Cached API keys (issue 12): a second store on the same database stands for another
//! api process. Its cache is bounded at an hour, so a refusal within the test's far
//! shorter deadline can only come from the key generation, not from an entry aging out.

use std::time::Duration;

use rabt_store::{Actor, Revoked, Store, key_id};

use crate::fixtures::cooperative;
use crate::harness::{TestDb, backend_test};

const BOUND: Duration = Duration::from_secs(3600);
/// Far below [`BOUND`], far above the generation's check interval.
const DEADLINE: Duration = Duration::from_secs(30);

fn huda() -> Actor {
    Actor::Operator("huda".to_owned())
}

/// Polls `other` until `key`'s holder is what `wanted` accepts, failing after
/// [`DEADLINE`].
async fn until_other_sees(
    other: &Store,
    key: &str,
    what: &str,
    wanted: impl Fn(Option<bool>) -> bool,
) {
    rabt_test_support::eventually(DEADLINE, what, || async {
        let holder = other.api_key_holder(key).await.unwrap();
        wanted(holder.map(|h| h.active)).then_some(())
    })
    .await
    .unwrap();
}

async fn another_process_refuses_a_revoked_key_and_a_deactivated_cooperative(db: TestDb) {
    let coop = cooperative(&db.store).await;
    for key in ["hash-a", "hash-b", "hash-c"] {
        db.store.add_api_key(coop.id, key, "erp").await.unwrap();
    }
    let other = Store::connect(db.url(), 2)
        .await
        .unwrap()
        .cache_api_keys(BOUND);
    for key in ["hash-a", "hash-b", "hash-c"] {
        assert!(other.api_key_holder(key).await.unwrap().is_some());
    }

    // Behind the stores' backs (no generation moves): the cached key is still served
    // from memory, which shows the cache is used; the store without one refuses it.
    sqlx::query("UPDATE api_keys SET revoked_at = 1 WHERE key_hash = 'hash-b'")
        .execute(db.raw())
        .await
        .unwrap();
    assert!(db.store.api_key_holder("hash-b").await.unwrap().is_none());
    assert!(other.api_key_holder("hash-b").await.unwrap().is_some());

    // A revocation by the other "process" moves the generation: every cached key is
    // looked up again, so the revoked one (and the one tampered with) are refused.
    let revoked = db
        .store
        .revoke_api_key_id(coop.id, &key_id("hash-a"), "leaked", &huda())
        .await
        .unwrap();
    assert_eq!(revoked, Revoked::Now);
    until_other_sees(&other, "hash-a", "the revoked key refused", |h| h.is_none()).await;
    assert!(other.api_key_holder("hash-b").await.unwrap().is_none());
    assert!(other.api_key_holder("hash-c").await.unwrap().is_some());

    // Deactivation likewise: the holder comes back inactive (the API's 403).
    let changed = db
        .store
        .set_cooperative_active(coop.id, false, "unpaid", &huda())
        .await
        .unwrap();
    assert_eq!(changed, Some(true));
    until_other_sees(&other, "hash-c", "the cooperative inactive", |h| {
        h == Some(false)
    })
    .await;

    // A change made by the caching store itself is seen at once, without waiting for
    // the generation's next read.
    other
        .set_cooperative_active(coop.id, true, "paid", &huda())
        .await
        .unwrap();
    let holder = other.api_key_holder("hash-c").await.unwrap();
    assert_eq!(holder.map(|h| h.active), Some(true));
    other
        .revoke_api_key_id(coop.id, &key_id("hash-c"), "rotated out", &huda())
        .await
        .unwrap();
    assert!(other.api_key_holder("hash-c").await.unwrap().is_none());
}
backend_test!(another_process_refuses_a_revoked_key_and_a_deactivated_cooperative);

async fn unknown_keys_are_never_cached(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let other = Store::connect(db.url(), 2)
        .await
        .unwrap()
        .cache_api_keys(BOUND);
    assert!(other.api_key_holder("hash-later").await.unwrap().is_none());
    // Adding a key moves no generation; had the miss been cached, it would stay a miss.
    db.store
        .add_api_key(coop.id, "hash-later", "erp")
        .await
        .unwrap();
    assert!(other.api_key_holder("hash-later").await.unwrap().is_some());
}
backend_test!(unknown_keys_are_never_cached);
