//! A composite request fans out as the catalogue declares: the registry first, the
//! checks that wait for it BLOCKED, one board-identity check per board member.

use axum::http::StatusCode;
use rabt_api::ApiSettings;
use rabt_core::TaskMessage;
use serde_json::{Value, json};

use crate::harness::{Harness, pointers, problem_type};

const EVERY_AGENCY_SERVICE: [&str; 5] = [
    "labor.cooperative.registration",
    "interior.identity.verify",
    "post.address.verify",
    "municipal.license.verify",
    "chambers.membership.verify",
];

fn check_request(board: Value) -> Value {
    json!({"service": "cooperative.establishment.check", "input": {"unifiedNumber": "7000000001", "board": board}})
}

fn board() -> Value {
    json!([
        {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
        {"idNumber": "1045997168", "birthDate": {"calendar": "hijri", "year": 1395, "month": 2}},
        {"idNumber": "2000000006", "birthDate": {"calendar": "gregorian", "year": 1985, "month": 3}},
    ])
}

#[tokio::test]
async fn the_establishment_check_fans_out_as_declared() {
    let mut callable = EVERY_AGENCY_SERVICE.to_vec();
    callable.push("labor.establishment.compliance");
    let h = Harness::with(&callable, ApiSettings::default()).await;
    let (coop, key) = h
        .onboard("7000000009", &["cooperative.establishment.check"])
        .await;
    let reply = h.post_as(&key, "c1", &check_request(board())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap();

    let record = h
        .store
        .get_request(coop, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let checks: Vec<(Option<&str>, Option<u32>, &str)> = record
        .tasks
        .iter()
        .map(|t| (t.child.as_deref(), t.index, t.state.status().as_str()))
        .collect();
    assert_eq!(
        checks,
        vec![
            (Some("registry"), None, "QUEUED"),
            (Some("boardIdentity"), Some(0), "BLOCKED"),
            (Some("boardIdentity"), Some(1), "BLOCKED"),
            (Some("boardIdentity"), Some(2), "BLOCKED"),
            (Some("hqAddress"), None, "BLOCKED"),
            (Some("municipalLicense"), None, "BLOCKED"),
            (Some("chamberMembership"), None, "BLOCKED"),
            (Some("laborCompliance"), None, "BLOCKED"),
        ]
    );
    // Only the registry is queued, with the input the catalogue binds for it.
    let rows = h
        .store
        .claim_outbox(10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let message: TaskMessage = serde_json::from_slice(&rows[0].body).unwrap();
    let registry = h
        .store
        .task_for_work(message.task_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(registry.input, json!({"unifiedNumber": "7000000001"}));
    assert_eq!(registry.child.as_deref(), Some("registry"));

    // The view names every check with its title.
    let view = h.get_as(&key, &format!("/v1/requests/{id}")).await;
    assert_eq!(view.body["checks"][2]["check"], "boardIdentity");
    assert_eq!(view.body["checks"][2]["index"], 1);
    assert!(
        view.body["checks"][5]["title"]["ar"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(view.body["data"].is_null(), "no output before the verdict");

    let listed = h
        .get_as(&key, "/v1/services/cooperative.establishment.check")
        .await;
    assert_eq!(
        listed.body["available"], true,
        "every agency it checks is connected"
    );
}

#[tokio::test]
async fn a_composite_needs_every_agency_it_checks() {
    let h = Harness::with(&EVERY_AGENCY_SERVICE, ApiSettings::default()).await;
    let (_, key) = h
        .onboard("7000000009", &["cooperative.establishment.check"])
        .await;
    let reply = h.post_as(&key, "c1", &check_request(board())).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(problem_type(&reply), "service-not-available");
    let listed = h
        .get_as(&key, "/v1/services/cooperative.establishment.check")
        .await;
    assert_eq!(listed.body["available"], false);
}

#[tokio::test]
async fn a_bad_board_member_is_named_by_pointer() {
    let mut callable = EVERY_AGENCY_SERVICE.to_vec();
    callable.push("labor.establishment.compliance");
    let h = Harness::with(&callable, ApiSettings::default()).await;
    let (_, key) = h
        .onboard("7000000009", &["cooperative.establishment.check"])
        .await;
    let mut members = board();
    members[1]["idNumber"] = json!("1000000009");
    let reply = h.post_as(&key, "c1", &check_request(members)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        pointers(&reply).contains(&"/input/board/1/idNumber".to_owned()),
        "{}",
        reply.body
    );
}
