//! The golden fixtures of DESIGN.md for the interior, end to end over a real socket:
//! the adapter against the simulator serving the standard world.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use rabt_adapter::{AdapterError, Answer};
use rabt_adapter_interior::{IDENTITY_VERIFY, InteriorAdapter, MOBILE_VERIFY, YAKEEN_PATH};
use rabt_core::{Outcome, TaskId};
use rabt_sandbox::conformance::assert_refused;
use rabt_sandbox::conformance::call_once;
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle, spawn};
use rabt_sandbox::world::{cases, golden};
use serde_json::{Value, json};

async fn start(router: Router) -> (InteriorAdapter, ShutdownHandle) {
    let (addr, server) = spawn(router).await.unwrap();
    (common::adapter(&format!("http://{addr}"), true), server)
}

async fn sandbox() -> (InteriorAdapter, KnobsHandle, ShutdownHandle) {
    let knobs = KnobsHandle::new();
    let (adapter, server) = start(common::router(knobs.clone())).await;
    (adapter, knobs, server)
}

async fn call(
    adapter: &InteriorAdapter,
    service: &str,
    task: TaskId,
    input: Value,
) -> Result<Answer, AdapterError> {
    call_once(adapter, service, task, &input).await
}

async fn identity(adapter: &InteriorAdapter, input: Value) -> (Outcome, Value, Option<String>) {
    match call(adapter, IDENTITY_VERIFY, TaskId::new(), input)
        .await
        .unwrap()
    {
        Answer::Final {
            outcome,
            data,
            upstream_ref,
        } => (outcome, data, upstream_ref),
        other => panic!("not final: {other:?}"),
    }
}

fn citizen_input(calendar: &str, year: u16, month: u8) -> Value {
    json!({"idNumber": golden::CITIZEN_ID, "birthDate": {"calendar": calendar, "year": year, "month": month}})
}

#[tokio::test]
async fn the_golden_citizen_is_found_with_a_four_part_name() {
    let (adapter, _, _server) = sandbox().await;
    let (outcome, data, upstream_ref) = identity(&adapter, citizen_input("hijri", 1400, 7)).await;
    assert_eq!(outcome, Outcome::Ok);
    assert_eq!(
        upstream_ref.as_deref(),
        Some("90210000001"),
        "Yakeen's logId"
    );
    assert_eq!(data["gender"], "M");
    assert_eq!(data["idType"], "citizen");
    assert_eq!(
        data["nameParts"],
        json!({
            "first": {"ar": golden::CITIZEN_NAME_AR[0], "en": golden::CITIZEN_NAME_EN[0]},
            "father": {"ar": golden::CITIZEN_NAME_AR[1], "en": golden::CITIZEN_NAME_EN[1]},
            "grandfather": {"ar": golden::CITIZEN_NAME_AR[2], "en": golden::CITIZEN_NAME_EN[2]},
            "family": {"ar": golden::CITIZEN_NAME_AR[3], "en": golden::CITIZEN_NAME_EN[3]}
        })
    );
    assert_eq!(data["name"]["ar"], golden::CITIZEN_NAME_AR.join(" "));
    assert_eq!(data["name"]["en"], golden::CITIZEN_NAME_EN.join(" "));
    assert_eq!(
        data["birthDate"],
        json!({"gregorian": "1980-05-20", "hijri": "1400-07-05"})
    );
    assert!(data.get("expectedNameMatches").is_none());
}

#[tokio::test]
async fn the_golden_citizen_with_any_other_month_is_a_mismatch() {
    let (adapter, _, _server) = sandbox().await;
    let others = (1..=12u8)
        .filter(|m| *m != 7)
        .map(|m| (1400, m))
        .chain([(1401, 7), (1399, 7)]);
    for (year, month) in others {
        let (outcome, data, upstream_ref) =
            identity(&adapter, citizen_input("hijri", year, month)).await;
        assert_eq!(outcome, Outcome::Mismatch, "{month:02}-{year}");
        // No personal data for a caller who does not know the birth month.
        assert_eq!(data, json!({"found": true, "birthDateMatches": false}));
        assert_eq!(upstream_ref, None);
    }
}

#[tokio::test]
async fn the_golden_resident_is_found_by_gregorian_month() {
    let (adapter, _, _server) = sandbox().await;
    let input = json!({"idNumber": golden::RESIDENT_ID, "birthDate": {"calendar": "gregorian", "year": 1985, "month": 3}});
    let (outcome, data, _) = identity(&adapter, input).await;
    assert_eq!(outcome, Outcome::Ok);
    assert_eq!(data["idType"], "resident");
    assert_eq!(data["name"]["en"], golden::RESIDENT_NAME_EN.join(" "));
    assert_eq!(data["nationality"]["code"], "818");
    assert_eq!(data["birthDate"]["gregorian"], "1985-03-14");
}

#[tokio::test]
async fn an_unknown_valid_id_is_not_found_and_an_invalid_one_never_leaves() {
    let (adapter, knobs, _server) = sandbox().await;
    let input = json!({"idNumber": cases::ID_IN_NO_WORLD, "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}});
    assert_eq!(
        identity(&adapter, input).await,
        (Outcome::NotFound, json!({"found": false}), None)
    );
    assert_eq!(knobs.stats().calls, 1);
    // 1000000009 fails the Luhn check: refused before any call (the API answers 422
    // long before; the adapter refuses all the same).
    let bad = json!({"idNumber": "1000000009", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}});
    let err = call(&adapter, IDENTITY_VERIFY, TaskId::new(), bad)
        .await
        .unwrap_err();
    assert_refused(&err, Outcome::InvalidInput, "an ID failing its check digit");
    assert_eq!(knobs.stats().calls, 1);
}

#[tokio::test]
async fn expected_arabic_names_are_compared_after_normalising() {
    let (adapter, _, _server) = sandbox().await;
    let with_name = |name: &str| {
        json!({"idNumber": cases::NAME_NORMALISATION_ID, "expectedNameAr": name,
               "birthDate": {"calendar": "hijri", "year": 1410, "month": 1}})
    };
    let (outcome, data, _) =
        identity(&adapter, with_name(cases::NAME_NORMALISATION_VARIANT_AR)).await;
    assert_eq!(
        (outcome, &data["expectedNameMatches"]),
        (Outcome::Ok, &json!(true))
    );
    assert_eq!(data["name"]["ar"], cases::NAME_NORMALISATION_AR.join(" "));
    // Found, but the name is someone else's: MISMATCH, with the record.
    let (outcome, data, _) =
        identity(&adapter, with_name(cases::NAME_NORMALISATION_OTHER_AR)).await;
    assert_eq!(
        (outcome, &data["expectedNameMatches"]),
        (Outcome::Mismatch, &json!(false))
    );
    assert_eq!(data["birthDateMatches"], true);
    // The golden citizen typed with his compound name split.
    let mut input = citizen_input("hijri", 1400, 7);
    input["expectedNameAr"] = json!("مُحمد عبد الله سعد القحطانى");
    let (outcome, data, _) = identity(&adapter, input).await;
    assert_eq!(
        (outcome, &data["expectedNameMatches"]),
        (Outcome::Ok, &json!(true))
    );
}

#[tokio::test]
async fn every_golden_board_member_is_found() {
    let (adapter, _, _server) = sandbox().await;
    for member in golden::BOARD {
        let input = json!({"idNumber": member.id, "birthDate": {"calendar": "hijri",
            "year": member.birth.year, "month": member.birth.month}});
        assert_eq!(
            identity(&adapter, input).await.0,
            Outcome::Ok,
            "{}",
            member.id
        );
    }
}

#[tokio::test]
async fn mobile_ownership_of_the_golden_people() {
    let (adapter, _, _server) = sandbox().await;
    let ask = |id: &str, mobile: &str| json!({"idNumber": id, "mobile": mobile});
    let answer = call(
        &adapter,
        MOBILE_VERIFY,
        TaskId::new(),
        ask(golden::CITIZEN_ID, "0512345678"),
    )
    .await
    .unwrap();
    let Answer::Final {
        outcome,
        data,
        upstream_ref,
    } = answer
    else {
        panic!("not final")
    };
    assert_eq!(
        (outcome, data),
        (
            Outcome::Ok,
            json!({"isOwner": true, "mobile": golden::CITIZEN_MOBILE})
        )
    );
    assert!(upstream_ref.is_some());
    let answer = call(
        &adapter,
        MOBILE_VERIFY,
        TaskId::new(),
        ask(golden::RESIDENT_ID, golden::CITIZEN_MOBILE),
    )
    .await
    .unwrap();
    assert!(matches!(
        answer,
        Answer::Final {
            outcome: Outcome::Mismatch,
            ..
        }
    ));
    let answer = call(
        &adapter,
        MOBILE_VERIFY,
        TaskId::new(),
        ask(cases::ID_IN_NO_WORLD, golden::CITIZEN_MOBILE),
    )
    .await
    .unwrap();
    assert_eq!(
        answer,
        Answer::Final {
            outcome: Outcome::NotFound,
            data: Value::Null,
            upstream_ref: None
        }
    );
}

#[tokio::test]
async fn the_same_task_retried_carries_the_same_request_id() {
    let (adapter, knobs, _server) = sandbox().await;
    let task = TaskId::new();
    for _ in 0..2 {
        call(
            &adapter,
            IDENTITY_VERIFY,
            task,
            citizen_input("hijri", 1400, 7),
        )
        .await
        .unwrap();
        call(
            &adapter,
            MOBILE_VERIFY,
            task,
            json!({"idNumber": golden::CITIZEN_ID, "mobile": "0512345678"}),
        )
        .await
        .unwrap();
    }
    let stats = knobs.stats();
    assert_eq!((stats.calls, stats.distinct_request_ids), (4, 1));
    assert!(knobs.saw_request_id(&task.to_string()));
}

#[tokio::test]
async fn the_request_on_the_wire_is_soap_1_1_with_the_task_as_reference() {
    type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let yakeen = Router::new().route(
        YAKEEN_PATH,
        post(move |headers: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push((headers, body));
                (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
            }
        }),
    );
    let (adapter, _server) = start(yakeen).await;
    let task = TaskId::new();
    let err = call(
        &adapter,
        IDENTITY_VERIFY,
        task,
        citizen_input("hijri", 1400, 7),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }));
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["content-type"], "text/xml; charset=utf-8");
    assert_eq!(headers["soapaction"], "\"\"");
    assert_eq!(headers["x-request-id"], task.to_string().as_str());
    for part in [
        "<yak:getCitizenInfo><CitizenInfoRequest>",
        "<dateOfBrith>07-1400</dateOfBrith>",
        "<nin>1000000008</nin>",
        "<password>p@ss&amp;&lt;word&gt;</password>",
        "<userName>rabt-sim</userName>",
        "<chargeCode>CC-1447</chargeCode>",
    ] {
        assert!(body.contains(part), "{part} not in {body}");
    }
    assert!(body.contains(&format!("<referenceNumber>{task}</referenceNumber>")));
}
