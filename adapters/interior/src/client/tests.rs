use reqwest::header::{HeaderValue, RETRY_AFTER};

use rabt_sandbox::conformance::{assert_refused, assert_unavailable};

use super::*;
use crate::fault::YakeenErrorCode;

const CITIZEN: &[u8] = include_bytes!("../../tests/fixtures/wire/citizen-info-1000000008.xml");
const NOT_FOUND: &[u8] = include_bytes!("../../tests/fixtures/wire/fault-not-found.xml");
const EXPECTED: &str = "getCitizenInfoResponse";

fn soap_status(code: u16, body: &[u8]) -> Result<SoapReply, AdapterError> {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
    read_soap_answer(
        StatusCode::from_u16(code).unwrap(),
        &headers,
        body,
        EXPECTED,
    )
}

#[test]
fn a_fault_with_500_is_an_answer_not_an_outage() {
    let reply = soap_status(500, NOT_FOUND).unwrap();
    assert!(matches!(reply.response, YakeenResponse::Fault(_)));
    assert_eq!(reply.retry_after, Some(Duration::from_secs(5)));
    // The same fault with 200 or 400 is read too.
    assert!(matches!(
        soap_status(200, NOT_FOUND).unwrap().response,
        YakeenResponse::Fault(_)
    ));
    assert!(matches!(
        soap_status(400, NOT_FOUND).unwrap().response,
        YakeenResponse::Fault(_)
    ));
    assert!(matches!(
        soap_status(200, CITIZEN).unwrap().response,
        YakeenResponse::CitizenInfo(_)
    ));
}

#[test]
fn statuses_and_bodies_map_as_documented() {
    let html = b"<html>Internal error</html>";
    let err = soap_status(500, html).unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    for code in [429, 502, 503, 504] {
        let err = soap_status(code, b"").unwrap_err();
        assert_unavailable(&err, Some(Duration::from_secs(5)), code);
    }
    for code in [400, 401, 403, 404, 405, 415, 501] {
        let err = soap_status(code, html).unwrap_err();
        assert_refused(&err, Outcome::UpstreamError, code);
    }
    for code in [201, 302, 418] {
        assert!(
            matches!(soap_status(code, CITIZEN), Err(AdapterError::Malformed(_))),
            "{code}"
        );
    }
    // A 200 that is not the expected operation, not XML, or not UTF-8 is malformed.
    let other_op = std::str::from_utf8(CITIZEN)
        .unwrap()
        .replace("getCitizenInfoResponse", "getAlienInfoByIqamaResponse");
    for body in [
        other_op.as_bytes(),
        html,
        b"\xff\xfe",
        rabt_sandbox::simulator::MALFORMED_BODY.as_bytes(),
    ] {
        assert!(matches!(
            soap_status(200, body),
            Err(AdapterError::Malformed(_))
        ));
    }
    // A result with 500 is not a fault: the server failed.
    assert!(matches!(
        soap_status(500, CITIZEN),
        Err(AdapterError::Unavailable { .. })
    ));
}

#[test]
fn reasons_never_quote_bodies() {
    let secret = b"<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><leak>1000000008 secret</leak></S:Body></S:Envelope>";
    let err = soap_status(200, secret).unwrap_err().to_string();
    assert!(
        !err.contains("secret") && !err.contains("1000000008"),
        "{err}"
    );
    let fault =
        crate::soap::write_response(YakeenResponse::Fault(YakeenErrorCode::Internal.fault()))
            .unwrap();
    assert!(soap_status(500, fault.as_bytes()).is_ok());
}

fn lite(code: u16, body: &str) -> Result<LiteAnswer, AdapterError> {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("9"));
    read_lite_answer(
        StatusCode::from_u16(code).unwrap(),
        &headers,
        body.as_bytes(),
    )
}

#[test]
fn lite_codes_decide_whatever_the_status() {
    let owner = r#"{"referenceNumber":"r","id":"1000000008","mobile":"512345678","isOwner":true}"#;
    assert_eq!(
        lite(200, owner).unwrap(),
        LiteAnswer::Owner {
            is_owner: true,
            reference_number: "r".into(),
            mobile: "512345678".into()
        }
    );
    for status in [200, 400] {
        assert_eq!(
            lite(status, r#"{"code":101,"message":"Invalid ID"}"#).unwrap(),
            LiteAnswer::UnknownId
        );
        assert!(matches!(
            lite(status, r#"{"code":"102"}"#),
            Err(AdapterError::Refused {
                outcome: Outcome::InvalidInput,
                ..
            })
        ));
        assert!(matches!(
            lite(status, r#"{"code":103}"#),
            Err(AdapterError::Refused {
                outcome: Outcome::UpstreamError,
                ..
            })
        ));
        assert!(matches!(
            lite(status, r#"{"code":555}"#),
            Err(AdapterError::Refused {
                outcome: Outcome::UpstreamError,
                ..
            })
        ));
    }
    let err = lite(500, r#"{"code":100,"message":"Internal error"}"#).unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(9)));
}

#[test]
fn lite_statuses_without_a_code() {
    assert!(matches!(
        lite(403, "Authentication failed"),
        Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            ..
        })
    ));
    assert!(matches!(
        lite(404, ""),
        Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            ..
        })
    ));
    assert!(matches!(
        lite(400, "bad"),
        Err(AdapterError::Refused {
            outcome: Outcome::InvalidInput,
            ..
        })
    ));
    for code in [429, 500, 503] {
        let err = lite(code, "Usage limit exceeded").unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(9)), "{code}");
    }
    for body in [
        rabt_sandbox::simulator::MALFORMED_BODY,
        r#"{"isOwner": true}"#,
        "[]",
    ] {
        assert!(
            matches!(lite(200, body), Err(AdapterError::Malformed(_))),
            "{body}"
        );
    }
    assert!(matches!(lite(302, ""), Err(AdapterError::Malformed(_))));
}

#[test]
fn urls_keep_the_base_path() {
    let base = BaseUrl::new(Url::parse("https://yakeen.example/pilot/").unwrap()).unwrap();
    assert_eq!(
        base.join(YAKEEN_PATH).as_str(),
        "https://yakeen.example/pilot/Yakeen4Rabt/Yakeen4Rabt"
    );
    let root = BaseUrl::new(Url::parse("http://127.0.0.1:9100").unwrap()).unwrap();
    assert_eq!(
        root.join("/api/v1/person/1/owns-mobile/2").as_str(),
        "http://127.0.0.1:9100/api/v1/person/1/owns-mobile/2"
    );
}
