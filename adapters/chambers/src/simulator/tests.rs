use axum::body::Body;
use axum::http::{Method, Request};
use rabt_sandbox::conformance::{oneshot, wire_fixture};
use rabt_sandbox::simulator::{Fault, Knobs};
use rabt_sandbox::world::{cases, golden};
use serde_json::Value;

use super::*;

const TOKEN: &str = "sim-token";
const RECORDS: &str = "/v1/fsc/coc-records";

fn app() -> (Router, KnobsHandle) {
    let knobs = KnobsHandle::new();
    let router = router(
        Arc::new(World::standard()),
        Secret::new(TOKEN),
        knobs.clone(),
    );
    (router, knobs)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let (status, headers, bytes) = oneshot(app, request.body(Body::empty()).unwrap()).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = send(app, Method::GET, uri, Some(TOKEN)).await;
    (status, body)
}

fn fixture(name: &str) -> Value {
    wire_fixture(env!("CARGO_MANIFEST_DIR"), name)
}

#[tokio::test]
async fn golden_memberships_answer_exactly_the_fixtures_in_both_forms() {
    let (app, _) = app();
    let by_chamber = format!(
        "{RECORDS}?cocMemberChamberCity={}&cocMemberId={}",
        golden::COOP_COMPLIANT_CHAMBER,
        golden::COOP_COMPLIANT_MEMBERSHIP
    );
    let by_unified = format!(
        "{RECORDS}?cocMemberUnifiedNumber={}",
        golden::COOP_COMPLIANT
    );
    for uri in [by_chamber, by_unified] {
        assert_eq!(
            get(&app, &uri).await,
            (StatusCode::OK, fixture("coc-record-7000000001.json")),
            "{uri}"
        );
    }
    let expired = format!(
        "{RECORDS}?cocMemberChamberCity={}&cocMemberId={}",
        cases::MEMBERSHIP_EXPIRED_CHAMBER,
        cases::MEMBERSHIP_EXPIRED
    );
    assert_eq!(
        get(&app, &expired).await,
        (
            StatusCode::OK,
            fixture("coc-record-expired-7000000006.json")
        )
    );
}

#[tokio::test]
async fn no_record_is_the_backend_exception_with_404() {
    let (app, _) = app();
    let (status, body) = get(
        &app,
        &format!("{RECORDS}?cocMemberChamberCity=1&cocMemberId=999999"),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, fixture("no-record.json"))
    );
    for unified in [cases::COOP_NO_MEMBERSHIP, cases::COOP_IN_NO_WORLD] {
        let (status, body) =
            get(&app, &format!("{RECORDS}?cocMemberUnifiedNumber={unified}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{unified}");
        assert_eq!(body["Code"], NO_RECORD_CODE);
        assert_eq!(body["Insert"], serde_json::json!([unified]));
    }
}

#[tokio::test]
async fn the_bearer_token_is_required() {
    let (app, knobs) = app();
    let uri = format!(
        "{RECORDS}?cocMemberUnifiedNumber={}",
        golden::COOP_COMPLIANT
    );
    for token in [None, Some("wrong")] {
        let (status, _, body) = send(&app, Method::GET, &uri, token).await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, fixture("error-401.json"))
        );
    }
    let basic = Request::get(&uri)
        .header("authorization", format!("Basic {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(oneshot(&app, basic).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(knobs.stats().calls, 3);
}

#[tokio::test]
async fn bad_parameters_are_400_in_apigee_style() {
    let (app, _) = app();
    for query in [
        "",
        "?cocMemberChamberCity=1",
        "?cocMemberId=123456",
        "?cocMemberChamberCity=riyadh&cocMemberId=123456",
        "?cocMemberChamberCity=1&cocMemberId=",
        "?cocMemberUnifiedNumber=12345",
        "?cocMemberUnifiedNumber=7000000001&cocMemberChamberCity=1",
        "?cocMemberChamberCity=%ZZ",
    ] {
        let (status, body) = get(&app, &format!("{RECORDS}{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["ServiceError"]["Code"], "400", "{query}");
        assert_eq!(body["ServiceError"]["SourceAgency"], "Apigee", "{query}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_are_apigee_404_and_405() {
    let (app, _) = app();
    let (status, body) = get(&app, "/v1/fsc/coc-record?cocMemberChamberCity=1").await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, fixture("error-404-path.json"))
    );
    let (status, _, body) = send(&app, Method::POST, RECORDS, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["ServiceError"]["Code"], "405");
}

#[tokio::test]
async fn faults_come_first_in_apigee_style() {
    let (app, knobs) = app();
    let uri = format!(
        "{RECORDS}?cocMemberUnifiedNumber={}",
        golden::COOP_COMPLIANT
    );
    knobs.set(Knobs {
        fault: Fault::RateLimit { retry_after: 11 },
        ..Knobs::default()
    });
    // Even a caller without a token meets the spike arrest first.
    let (status, headers, body) = send(&app, Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "11");
    assert_eq!(body["ServiceError"]["Code"], "429");
    knobs.set(Knobs {
        fault: Fault::ServerError,
        ..Knobs::default()
    });
    let (status, _, body) = send(&app, Method::GET, &uri, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["ServiceError"]["ErrorType"], "TechnicalError");
    knobs.set(Knobs {
        fault: Fault::Malformed,
        ..Knobs::default()
    });
    let (status, _, body) = send(&app, Method::GET, &uri, Some(TOKEN)).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_eq!(knobs.stats().calls, 3);
    let (status, body) = get(&app, "/_sim/stats").await;
    assert_eq!((status, body["calls"].as_u64()), (StatusCode::OK, Some(3)));
}

#[test]
fn every_membership_of_the_world_translates() {
    let world = World::standard();
    assert!(world.memberships().len() > 20);
    for m in world.memberships() {
        let record = crate::output::MembershipRecord::try_from(coc_record(&world, m))
            .unwrap_or_else(|e| panic!("{}-{}: {e}", m.chamber_code, m.membership_number));
        assert_eq!(record.unified_number.as_ref(), Some(&m.holder));
        assert_eq!(record.expires_at, m.expires_at);
        assert_eq!(record.cr_number.as_deref(), Some(m.cr_number.as_str()));
    }
}
