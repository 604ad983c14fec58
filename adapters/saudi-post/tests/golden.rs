//! The golden fixtures end to end over a real socket: the adapter against the simulator
//! serving the standard world.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rabt_adapter::http::Secret;
use rabt_adapter::{Adapter, AdapterError, Answer, ServiceCall};
use rabt_adapter_saudi_post::{ADDRESS_VERIFY, SaudiPostAdapter, SaudiPostConfig, simulator};
use rabt_core::{Outcome, ServiceName, TaskId};
use rabt_sandbox::conformance::call_once;
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle, spawn};
use rabt_sandbox::world::{World, golden};
use serde_json::{Value, json};

const KEY: &str = "golden-key";

async fn start(router: Router) -> (SaudiPostAdapter, String, ShutdownHandle) {
    let (addr, server) = spawn(router).await.unwrap();
    let base = format!("http://{addr}");
    let adapter = SaudiPostAdapter::new(SaudiPostConfig {
        base_url: base.parse().unwrap(),
        api_key: Secret::new(KEY),
        timeout: Duration::from_secs(30),
    })
    .unwrap();
    (adapter, base, server)
}

async fn sandbox() -> (SaudiPostAdapter, String, ShutdownHandle) {
    let world = Arc::new(World::standard());
    start(simulator::router(
        world,
        Secret::new(KEY),
        KnobsHandle::new(),
    ))
    .await
}

async fn verify(adapter: &SaudiPostAdapter, input: Value) -> Result<Answer, AdapterError> {
    call_once(adapter, ADDRESS_VERIFY, TaskId::new(), &input).await
}

fn rrrd2929(short_address: Option<&str>) -> Value {
    let mut expected: Value =
        serde_json::from_str(include_str!("fixtures/output/address-rrrd2929.json")).unwrap();
    if let Some(short) = short_address {
        expected["shortAddress"] = json!(short);
    }
    expected
}

fn ok(data: Value) -> Answer {
    Answer::Final {
        outcome: Outcome::Ok,
        data,
        upstream_ref: None,
    }
}

fn not_found() -> Answer {
    Answer::Final {
        outcome: Outcome::NotFound,
        data: json!({"found": false}),
        upstream_ref: None,
    }
}

#[tokio::test]
async fn rrrd2929_is_found_in_riyadh_in_both_languages() {
    let (adapter, _, _server) = sandbox().await;
    let answer = verify(&adapter, json!({"shortAddress": "RRRD2929"}))
        .await
        .unwrap();
    assert_eq!(answer, ok(rrrd2929(Some("RRRD2929"))));
    // Lower case is the same short address.
    let answer = verify(&adapter, json!({"shortAddress": "rrrd2929"}))
        .await
        .unwrap();
    assert_eq!(answer, ok(rrrd2929(Some("RRRD2929"))));
}

#[tokio::test]
async fn zzzz9999_is_not_found() {
    let (adapter, _, _server) = sandbox().await;
    let answer = verify(
        &adapter,
        json!({"shortAddress": golden::SHORT_ADDRESS_MISSING}),
    )
    .await
    .unwrap();
    assert_eq!(answer, not_found());
}

#[tokio::test]
async fn the_numbers_form_finds_the_full_address() {
    let (adapter, _, _server) = sandbox().await;
    let input =
        json!({"buildingNumber": "2929", "postalCode": "12211", "additionalNumber": "7788"});
    assert_eq!(verify(&adapter, input).await.unwrap(), ok(rrrd2929(None)));
    let unknown =
        json!({"buildingNumber": "2929", "postalCode": "12211", "additionalNumber": "1000"});
    assert_eq!(verify(&adapter, unknown).await.unwrap(), not_found());
}

#[tokio::test]
async fn the_numbers_form_answers_minimally_when_the_search_cannot_help() {
    // An SPL whose address-verify says yes but whose free-text search finds nothing.
    let spl = Router::new()
        .route(
            "/v3.1/address/address-verify",
            get(|| async {
                axum::Json(
                    json!({"addressfound": true, "success": true, "statusdescription": "SUCCESS"}),
                )
            }),
        )
        .route(
            "/v4/address/address-free-text",
            get(|| async {
                axum::Json(json!({"success": true, "statusdescription": "SUCCESS",
                                  "totalSearchResults": "0", "Addresses": []}))
            }),
        );
    let (adapter, _, _server) = start(spl).await;
    let input =
        json!({"buildingNumber": "1234", "postalCode": "12345", "additionalNumber": "5678"});
    assert_eq!(
        verify(&adapter, input).await.unwrap(),
        ok(
            json!({"found": true, "buildingNumber": "1234", "postalCode": "12345",
                  "additionalNumber": "5678"})
        )
    );
}

#[tokio::test]
async fn a_client_that_forgets_encode_utf8_gets_mangled_arabic() {
    let (adapter, base, _server) = sandbox().await;
    let path = "/NationalAddressByShortAddress/NationalAddressByShortAddress";
    let naive = reqwest::Client::new()
        .get(format!(
            "{base}{path}?shortaddress=RRRD2929&language=A&format=json"
        ))
        .header("api_key", KEY)
        .send()
        .await
        .unwrap();
    let bytes = naive.bytes().await.unwrap();
    // Read as UTF-8, windows-1256 Arabic is broken beyond repair.
    let as_utf8 = String::from_utf8_lossy(&bytes);
    assert!(as_utf8.contains('\u{FFFD}'), "{as_utf8}");
    assert!(!as_utf8.contains("الرياض"));
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    // The adapter asks for UTF-8 and gets the Arabic right.
    let Answer::Final { data, .. } = verify(&adapter, json!({"shortAddress": "RRRD2929"}))
        .await
        .unwrap()
    else {
        panic!("not a final answer");
    };
    assert_eq!(data["city"]["ar"], "الرياض");
}

#[tokio::test]
async fn the_same_task_retried_carries_the_same_request_id() {
    let knobs = KnobsHandle::new();
    let world = Arc::new(World::standard());
    let (adapter, _, _server) =
        start(simulator::router(world, Secret::new(KEY), knobs.clone())).await;
    let service = ServiceName::parse(ADDRESS_VERIFY).unwrap();
    let input = json!({"shortAddress": "RRRD2929"});
    let task = TaskId::new();
    for attempt in 1..=2 {
        let call = ServiceCall {
            task,
            service: &service,
            input: &input,
            attempt,
            timeout: Duration::from_secs(30),
            traceparent: None,
        };
        assert!(adapter.call(call).await.is_ok());
    }
    let stats = knobs.stats();
    // Two languages per attempt, one task.
    assert_eq!((stats.calls, stats.distinct_request_ids), (4, 1));
    assert!(knobs.saw_request_id(&task.to_string()));
}
