//! The golden fixtures end to end over a real socket: the adapter against the simulator
//! serving the standard world, and against small stand-ins for answers the simulator
//! never gives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use rabt_adapter::http::Secret;
use rabt_adapter::{AdapterError, Answer};
use rabt_adapter_labor::{
    COOPERATIVE_REGISTRATION, ESTABLISHMENT_COMPLIANCE, LaborAdapter, LaborConfig, simulator,
};
use rabt_core::{Outcome, TaskId};
use rabt_sandbox::conformance::call_traced;
use rabt_sandbox::simulator::{KnobsHandle, ShutdownHandle, spawn};
use rabt_sandbox::world::{World, cases, golden};
use serde_json::{Value, json};

const CLIENT_ID: &str = "golden-client";
const SECRET: &str = "golden-secret";

async fn start(router: Router) -> (LaborAdapter, ShutdownHandle) {
    let (addr, server) = spawn(router).await.unwrap();
    let adapter = LaborAdapter::new(LaborConfig {
        base_url: format!("http://{addr}").parse().unwrap(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new(SECRET),
        timeout: Duration::from_secs(30),
    })
    .unwrap();
    (adapter, server)
}

async fn sandbox(knobs: KnobsHandle) -> (LaborAdapter, ShutdownHandle) {
    let world = Arc::new(World::standard());
    start(simulator::router(
        world,
        CLIENT_ID,
        Secret::new(SECRET),
        knobs,
    ))
    .await
}

async fn ask(
    adapter: &LaborAdapter,
    service: &str,
    number: &str,
    task: TaskId,
) -> Result<Answer, AdapterError> {
    let input = json!({"unifiedNumber": number});
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    call_traced(adapter, service, task, &input, Some(traceparent)).await
}

/// The outcome and data of a final answer whose reference is the task id.
async fn answer(adapter: &LaborAdapter, service: &str, number: &str) -> (Outcome, Value) {
    let task = TaskId::new();
    match ask(adapter, service, number, task).await.unwrap() {
        Answer::Final {
            outcome,
            data,
            upstream_ref,
        } => {
            assert_eq!(upstream_ref, Some(task.to_string()));
            (outcome, data)
        }
        other => panic!("not a final answer: {other:?}"),
    }
}

#[tokio::test]
async fn cooperative_7000000001_is_compliant_and_registered() {
    let (adapter, _server) = sandbox(KnobsHandle::new()).await;
    let (outcome, data) = answer(&adapter, ESTABLISHMENT_COMPLIANCE, golden::COOP_COMPLIANT).await;
    assert_eq!(outcome, Outcome::Ok);
    let expected: Value = serde_json::from_str(include_str!(
        "../fixtures/output/compliance-7000000001.json"
    ))
    .unwrap();
    assert_eq!(data, expected);

    let (outcome, data) = answer(&adapter, COOPERATIVE_REGISTRATION, golden::COOP_COMPLIANT).await;
    assert_eq!(outcome, Outcome::Ok);
    assert_eq!(data["status"], "ACTIVE");
    assert_eq!(data["type"], "MULTI_PURPOSE");
    // What the composite establishment check reads from this answer.
    assert_eq!(data["unifiedNumber"], golden::COOP_COMPLIANT);
    assert_eq!(
        data["headquarters"]["shortAddress"],
        golden::SHORT_ADDRESS_FOUND
    );
    assert_eq!(
        data["headquarters"]["city"],
        json!({"ar": "الرياض", "en": "Riyadh"})
    );
    assert_eq!(
        data["municipalLicenseNumber"],
        golden::COOP_COMPLIANT_LICENCE
    );
    let board: Vec<(&str, &str)> = data["board"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["idNumber"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    let expected: Vec<(&str, &str)> = golden::BOARD
        .iter()
        .map(|m| (m.id, m.role.as_str()))
        .collect();
    assert_eq!(board, expected);
    assert_eq!(
        data["board"][0]["name"],
        json!({"ar": "محمد عبدالله سعد القحطاني", "en": "Mohammed Abdullah Saad Alqahtani"})
    );
}

#[tokio::test]
async fn cooperative_7000000002_is_compliant_with_its_own_licence() {
    let (adapter, _server) = sandbox(KnobsHandle::new()).await;
    let number = golden::COOP_EXPIRED_LICENCE;
    assert_eq!(
        answer(&adapter, ESTABLISHMENT_COMPLIANCE, number).await.0,
        Outcome::Ok
    );
    let (outcome, data) = answer(&adapter, COOPERATIVE_REGISTRATION, number).await;
    assert_eq!(outcome, Outcome::Ok);
    // The licence check that fails it reads this number.
    assert_eq!(
        data["municipalLicenseNumber"],
        golden::COOP_EXPIRED_LICENCE_LICENCE
    );
}

#[tokio::test]
async fn cooperative_7000000003_is_red_a_mismatch_with_its_file() {
    let (adapter, _server) = sandbox(KnobsHandle::new()).await;
    let (outcome, data) = answer(&adapter, ESTABLISHMENT_COMPLIANCE, golden::COOP_RED_BAND).await;
    assert_eq!(outcome, Outcome::Mismatch);
    assert_eq!(data["nitaqatBand"], "RED");
    assert_eq!(data["compliant"], false);
    assert_eq!(data["establishmentNumber"], "1-63295");
    assert_eq!(data["saudizationCertificate"]["valid"], false);
    // Registered and active all the same.
    assert_eq!(
        answer(&adapter, COOPERATIVE_REGISTRATION, golden::COOP_RED_BAND)
            .await
            .0,
        Outcome::Ok
    );
}

#[tokio::test]
async fn every_band_and_the_missing_files() {
    let (adapter, _server) = sandbox(KnobsHandle::new()).await;
    for (number, band) in [
        (cases::COOP_BAND_LOW_GREEN, "LOW_GREEN"),
        (cases::COOP_BAND_MEDIUM_GREEN, "MEDIUM_GREEN"),
        (cases::COOP_BAND_HIGH_GREEN, "HIGH_GREEN"),
        (cases::COOP_BAND_PLATINUM, "PLATINUM"),
    ] {
        let (outcome, data) = answer(&adapter, ESTABLISHMENT_COMPLIANCE, number).await;
        assert_eq!(
            (outcome, data["nitaqatBand"].as_str()),
            (Outcome::Ok, Some(band))
        );
    }
    let not_found = (Outcome::NotFound, json!({"found": false}));
    // E0000949: registered, but no Nitaqat file.
    assert_eq!(
        answer(
            &adapter,
            ESTABLISHMENT_COMPLIANCE,
            cases::COOP_NO_LABOR_FILE
        )
        .await,
        not_found
    );
    assert_eq!(
        answer(
            &adapter,
            COOPERATIVE_REGISTRATION,
            cases::COOP_NO_LABOR_FILE
        )
        .await
        .0,
        Outcome::Ok
    );
    // E0000142 and E0002001: nobody has the number.
    assert_eq!(
        answer(&adapter, ESTABLISHMENT_COMPLIANCE, cases::COOP_IN_NO_WORLD).await,
        not_found
    );
    assert_eq!(
        answer(&adapter, COOPERATIVE_REGISTRATION, cases::COOP_IN_NO_WORLD).await,
        not_found
    );
}

#[tokio::test]
async fn a_suspended_society_is_a_mismatch_with_its_record() {
    let (adapter, _server) = sandbox(KnobsHandle::new()).await;
    let (outcome, data) = answer(&adapter, COOPERATIVE_REGISTRATION, cases::COOP_SUSPENDED).await;
    assert_eq!(outcome, Outcome::Mismatch);
    assert_eq!(
        (data["found"].as_bool(), data["status"].as_str()),
        (Some(true), Some("SUSPENDED"))
    );
}

#[tokio::test]
async fn a_headquarters_outside_the_world_has_no_city() {
    let (adapter, _server) = sandbox(KnobsHandle::new()).await;
    let (outcome, data) = answer(
        &adapter,
        COOPERATIVE_REGISTRATION,
        cases::COOP_HQ_NOT_IN_WORLD,
    )
    .await;
    assert_eq!(outcome, Outcome::Ok);
    assert_eq!(
        data["headquarters"],
        json!({"shortAddress": cases::HQ_NOT_IN_WORLD})
    );
}

#[tokio::test]
async fn the_same_task_retried_carries_the_same_request_id() {
    let knobs = KnobsHandle::new();
    let (adapter, _server) = sandbox(knobs.clone()).await;
    let task = TaskId::new();
    for _ in 0..2 {
        assert!(
            ask(
                &adapter,
                ESTABLISHMENT_COMPLIANCE,
                golden::COOP_COMPLIANT,
                task
            )
            .await
            .is_ok()
        );
    }
    let stats = knobs.stats();
    // One token request and two API calls, all for the one task.
    assert_eq!((stats.calls, stats.distinct_request_ids), (3, 1));
    assert_eq!(stats.calls_without_request_id, 0);
    assert!(knobs.saw_request_id(&task.to_string()));
}

/// A stand-in for MHRSD that issues tokens and answers every `GetEstablishmentInformation`
/// with `file`, echoing the request's `TransactionId` unless `echo` is false, and keeps
/// the headers it saw.
fn stand_in(file: &'static str, echo: bool, seen: Arc<Mutex<Vec<HeaderMap>>>) -> Router {
    let token = || async {
        axum::Json(json!({"token_type": "Bearer", "access_token": "t", "expires_in": 3600}))
    };
    let answer = move |headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(headers);
            let request: Value = serde_json::from_slice(&body).unwrap();
            let transaction = &request["GetEstablishmentInformationRq"]["Header"]["TransactionId"];
            let path = format!("{}/tests/fixtures/wire/{file}", env!("CARGO_MANIFEST_DIR"));
            let mut answer: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            if echo {
                answer["GetEstablishmentInformationRs"]["Header"]["TransactionId"] =
                    transaction.clone();
            }
            axum::Json(answer)
        }
    };
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/qiwa/esb/getestablishmentinformation", post(answer))
}

#[tokio::test]
async fn odm00102_is_a_mismatch_without_data() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (adapter, _server) = start(stand_in("gei-odm00102.json", true, seen.clone())).await;
    let (outcome, data) = answer(&adapter, ESTABLISHMENT_COMPLIANCE, golden::COOP_RED_BAND).await;
    assert_eq!((outcome, data), (Outcome::Mismatch, Value::Null));
    let headers = &seen.lock().unwrap()[0];
    assert_eq!(headers["authorization"], "Bearer t");
    assert_eq!(headers["x-ibm-client-id"], CLIENT_ID);
    assert!(headers.contains_key("traceparent") && headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn an_answer_for_another_transaction_is_malformed() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (adapter, _server) = start(stand_in("gei-7000000001.json", false, seen)).await;
    let err = ask(
        &adapter,
        ESTABLISHMENT_COMPLIANCE,
        golden::COOP_COMPLIANT,
        TaskId::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Malformed(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_missing_api_is_a_configuration_error() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (adapter, _server) = start(stand_in("gei-odm00102.json", true, seen)).await;
    // The stand-in has no registry: its 404 is a configuration error.
    let err = ask(
        &adapter,
        COOPERATIVE_REGISTRATION,
        golden::COOP_COMPLIANT,
        TaskId::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.final_outcome(), err.is_retryable()),
        (Outcome::UpstreamError, false)
    );
}
