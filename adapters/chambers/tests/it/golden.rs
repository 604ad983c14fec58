//! The golden fixtures of DESIGN.md that concern the chambers, end to end through the
//! adapter and the simulator over mutual TLS.

use rabt_core::Outcome;
use rabt_sandbox::conformance::assert_refused;
use rabt_sandbox::world::{cases, golden};
use serde_json::json;

use super::*;

fn final_answer(answer: Answer) -> (Outcome, Value) {
    let Answer::Final { outcome, data, .. } = answer else {
        panic!("FSC answers synchronously, got {answer:?}");
    };
    let service = ServiceName::parse(MEMBERSHIP_VERIFY).unwrap();
    validate(&service, &data).unwrap_or_else(|why| panic!("{data} is invalid: {why}"));
    (outcome, data)
}

async fn sandbox() -> (ChambersAdapter, Fsc) {
    let pki = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    (adapter(&fsc.base(), &pki, &pki, TOKEN), fsc)
}

#[tokio::test]
async fn the_golden_cooperative_holds_a_valid_membership() {
    let (adapter, _fsc) = sandbox().await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/output/membership-7000000001.json"
    );
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let by_unified = verify(&adapter, json!({"unifiedNumber": golden::COOP_COMPLIANT})).await;
    assert_eq!(
        final_answer(by_unified.unwrap()),
        (Outcome::Ok, expected.clone())
    );
    let by_number = json!({
        "chamberCode": golden::COOP_COMPLIANT_CHAMBER.to_string(),
        "membershipNumber": golden::COOP_COMPLIANT_MEMBERSHIP
    });
    let by_number = verify(&adapter, by_number).await;
    assert_eq!(final_answer(by_number.unwrap()), (Outcome::Ok, expected));
}

#[tokio::test]
async fn the_other_golden_cooperatives_hold_valid_memberships_too() {
    let (adapter, _fsc) = sandbox().await;
    for unified in [golden::COOP_EXPIRED_LICENCE, golden::COOP_RED_BAND] {
        let answer = verify(&adapter, json!({"unifiedNumber": unified}))
            .await
            .unwrap();
        let (outcome, data) = final_answer(answer);
        assert_eq!(outcome, Outcome::Ok, "{unified}");
        assert_eq!(data["unifiedNumber"], unified);
        assert_eq!(data["valid"], true);
    }
}

#[tokio::test]
async fn an_expired_membership_is_a_mismatch_with_its_record() {
    let (adapter, _fsc) = sandbox().await;
    for input in [
        json!({"unifiedNumber": cases::COOP_MEMBERSHIP_EXPIRED}),
        json!({"chamberCode": cases::MEMBERSHIP_EXPIRED_CHAMBER.to_string(), "membershipNumber": cases::MEMBERSHIP_EXPIRED}),
    ] {
        let (outcome, data) = final_answer(verify(&adapter, input.clone()).await.unwrap());
        assert_eq!(outcome, Outcome::Mismatch, "{input}");
        assert_eq!(data["found"], true);
        assert_eq!(data["valid"], false);
        assert_eq!(data["unifiedNumber"], cases::COOP_MEMBERSHIP_EXPIRED);
        assert_eq!(
            data["expiresAt"],
            json!({"gregorian": "2022-08-28", "hijri": "1444-02-01"})
        );
    }
}

#[tokio::test]
async fn no_membership_is_not_found() {
    let (adapter, _fsc) = sandbox().await;
    for input in [
        json!({"unifiedNumber": cases::COOP_IN_NO_WORLD}),
        json!({"unifiedNumber": cases::COOP_NO_MEMBERSHIP}),
        json!({"chamberCode": "1", "membershipNumber": "999999"}),
        json!({"chamberCode": "999", "membershipNumber": golden::COOP_COMPLIANT_MEMBERSHIP}),
    ] {
        let answer = verify(&adapter, input.clone()).await.unwrap();
        assert_eq!(
            final_answer(answer),
            (Outcome::NotFound, json!({"found": false})),
            "{input}"
        );
    }
}

#[tokio::test]
async fn a_wrong_token_is_refused_for_good() {
    let pki = SandboxPki::generate().unwrap();
    let fsc = Fsc::start(&pki).await;
    let adapter = adapter(&fsc.base(), &pki, &pki, "not-the-token");
    let err = verify(&adapter, json!({"unifiedNumber": golden::COOP_COMPLIANT}))
        .await
        .unwrap_err();
    assert_refused(&err, Outcome::UpstreamError, "a wrong token");
    assert!(!err.to_string().contains("not-the-token"), "{err}");
}

#[tokio::test]
async fn the_same_task_retried_carries_the_same_request_id() {
    let (adapter, fsc) = sandbox().await;
    let task = TaskId::new();
    for _attempt in 1..=2 {
        let answer = verify_as(
            &adapter,
            task,
            json!({"unifiedNumber": golden::COOP_COMPLIANT}),
        )
        .await;
        assert!(answer.is_ok());
    }
    let stats = fsc.knobs.stats();
    assert_eq!((stats.calls, stats.distinct_request_ids), (2, 1));
    assert!(fsc.knobs.saw_request_id(&task.to_string()));
}
