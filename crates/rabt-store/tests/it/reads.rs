//! What a cooperative reads back.

use rabt_core::{Agency, CooperativeId, Outcome, RequestId, RequestStatus, Verdict};
use rabt_store::ListQuery;

use crate::fixtures::{cooperative, request, run_task, service};
use crate::harness::{TestDb, backend_test};

async fn a_request_is_seen_by_its_cooperative_only(db: TestDb) {
    let owner = cooperative(&db.store).await;
    let other = cooperative(&db.store).await;
    let mut new = request(owner.id, "k", &[Agency::SaudiPost]);
    new.reference = Some("member-17".to_owned());
    new.notify_url = Some("https://erp.example/hook".to_owned());
    db.store.accept_request(&new).await.unwrap();

    assert!(
        db.store
            .get_request(other.id, new.id)
            .await
            .unwrap()
            .is_none()
    );
    let mine = db.request(owner.id, new.id).await;
    assert_eq!(mine.cooperative, owner.id);
    assert_eq!(mine.service, new.service);
    assert_eq!(mine.reference.as_deref(), Some("member-17"));
    assert_eq!(mine.notify_url.as_deref(), Some("https://erp.example/hook"));
    assert_eq!(mine.tasks.len(), 1);
    assert_eq!(mine.tasks[0].deadline_at, new.tasks[0].deadline_at);
    assert!(mine.tasks[0].required);
    assert!(
        db.store
            .list_requests(
                other.id,
                &ListQuery {
                    limit: 10,
                    ..ListQuery::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
    );
}
backend_test!(a_request_is_seen_by_its_cooperative_only);

/// Seven requests of one cooperative (the newest completed; #0, #3 and #6 for
/// `post.address.verify`; #0 and #1 with reference `batch-a`) and one of a stranger.
/// Returns their ids, oldest first.
async fn seven_requests(db: &TestDb, coop: CooperativeId) -> Vec<RequestId> {
    let stranger = cooperative(&db.store).await;
    db.store
        .accept_request(&request(stranger.id, "s", &[Agency::Labor]))
        .await
        .unwrap();
    let mut ids = Vec::new();
    let mut last_task = None;
    for i in 0..7 {
        let mut new = request(coop, &format!("k{i}"), &[Agency::SaudiPost]);
        if i % 3 == 0 {
            new.service = service("post.address.verify");
        }
        if i < 2 {
            new.reference = Some("batch-a".to_owned());
        }
        db.store.accept_request(&new).await.unwrap();
        ids.push(new.id);
        last_task = Some(new.tasks[0].id);
    }
    run_task(&db.store, last_task.unwrap(), Outcome::Ok).await;
    ids
}

async fn lists_are_newest_first_and_paginated(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let ids = seven_requests(&db, coop.id).await;
    let mut seen = Vec::new();
    let mut query = ListQuery {
        limit: 3,
        ..ListQuery::default()
    };
    loop {
        let page = db.store.list_requests(coop.id, &query).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        query.before = page.last().map(|r| r.id);
        seen.extend(page);
    }
    let seen_ids: Vec<_> = seen.iter().map(|r| r.id).collect();
    let newest_first: Vec<_> = ids.iter().rev().copied().collect();
    assert_eq!(seen_ids, newest_first);
    assert_eq!(seen[0].verdict, Some(Verdict::Pass));
    assert!(seen[0].completed_at.is_some());
    assert_eq!(seen[1].verdict, None);
}
backend_test!(lists_are_newest_first_and_paginated);

async fn lists_are_filtered(db: TestDb) {
    let coop = cooperative(&db.store).await;
    let ids = seven_requests(&db, coop.id).await;
    let list = |query: ListQuery| {
        let store = db.store.clone();
        async move {
            let rows = store.list_requests(coop.id, &query).await.unwrap();
            rows.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    let all = ListQuery {
        limit: 100,
        ..ListQuery::default()
    };
    let by_service = list(ListQuery {
        service: Some(service("post.address.verify")),
        ..all.clone()
    });
    assert_eq!(by_service.await, vec![ids[6], ids[3], ids[0]]);
    let completed = list(ListQuery {
        status: Some(RequestStatus::Completed),
        ..all.clone()
    });
    assert_eq!(completed.await, vec![ids[6]]);
    let by_reference = list(ListQuery {
        reference: Some("batch-a".to_owned()),
        ..all.clone()
    });
    assert_eq!(by_reference.await, vec![ids[1], ids[0]]);
    let combined = list(ListQuery {
        reference: Some("batch-a".to_owned()),
        service: Some(service("post.address.verify")),
        before: Some(ids[1]),
        ..all
    });
    assert_eq!(combined.await, vec![ids[0]]);
}
backend_test!(lists_are_filtered);
