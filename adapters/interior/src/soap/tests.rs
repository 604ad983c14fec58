use super::*;
use crate::fault::YakeenErrorCode;
use crate::wire::{CitizenInfoRequest, Credentials, GetCitizenInfo, YakeenRequest, YakeenResponse};

fn request(password: &str) -> YakeenRequest {
    let credentials = Credentials {
        charge_code: Some("CC-1447".into()),
        password: Some(password.into()),
        reference_number: Some("task_00000000000000000000000000000001".into()),
        user_name: Some("rabt-sim".into()),
    };
    YakeenRequest::CitizenInfo(GetCitizenInfo {
        request: CitizenInfoRequest::new("1000000008", "07-1400", credentials),
    })
}

#[test]
fn requests_match_the_golden_envelope_and_round_trip() {
    let golden = include_str!("../../tests/fixtures/wire/request-citizen-info-1000000008.xml");
    let xml = write_request(request("p@ss&<word>\"'")).unwrap();
    assert_eq!(xml, golden.trim_end());
    // Special characters are escaped on the way out and back on the way in.
    assert!(xml.contains("<password>p@ss&amp;&lt;word&gt;"), "{xml}");
    assert_eq!(
        payload_of(&xml).unwrap(),
        Payload::Yakeen("getCitizenInfo".into())
    );
    assert_eq!(
        read::<YakeenRequest>(&xml).unwrap(),
        request("p@ss&<word>\"'")
    );
}

#[test]
fn namespaces_decide_not_prefixes() {
    // Other prefixes, a default namespace on the operation and a header: the same
    // operation.
    let xml = r#"<?xml version="1.0"?>
        <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
          <soap:Header><x:Trace xmlns:x="urn:x">1</x:Trace></soap:Header>
          <soap:Body>
            <getCitizenInfo xmlns="http://yakeen4rabt.yakeen.elm.com/">
              <CitizenInfoRequest xmlns=""><nin>1000000008</nin></CitizenInfoRequest>
            </getCitizenInfo>
          </soap:Body>
        </soap:Envelope>"#;
    assert_eq!(
        payload_of(xml).unwrap(),
        Payload::Yakeen("getCitizenInfo".into())
    );
    let YakeenRequest::CitizenInfo(parsed) = read::<YakeenRequest>(xml).unwrap() else {
        panic!("not getCitizenInfo");
    };
    assert_eq!(parsed.request.nin.as_deref(), Some("1000000008"));
    // The same local name in another namespace is not Yakeen's operation.
    let foreign = xml.replace("http://yakeen4rabt.yakeen.elm.com/", "urn:elsewhere");
    assert!(
        matches!(payload_of(&foreign).unwrap(), Payload::Other { namespace, .. } if namespace == "urn:elsewhere")
    );
}

#[test]
fn envelopes_that_are_not_soap_1_1_are_refused() {
    let soap12 =
        r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#;
    assert!(matches!(payload_of(soap12), Err(InteriorError::Soap12)));
    for bad in [
        "<html><body>502 Bad Gateway</body></html>",
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body/></S:Envelope>"#,
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body></S:Body></S:Envelope>"#,
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Other/></S:Envelope>"#,
        "",
    ] {
        assert!(payload_of(bad).is_err(), "{bad}");
    }
    let broken =
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header></S:Body>"#;
    assert!(matches!(
        payload_of(broken),
        Err(InteriorError::XmlSyntax(_))
    ));
}

#[test]
fn faults_are_read_whatever_the_detail_element_is_called() {
    let xml = write_response(YakeenResponse::Fault(
        YakeenErrorCode::BirthDateMismatch.fault(),
    ))
    .unwrap();
    assert_eq!(payload_of(&xml).unwrap(), Payload::Fault);
    let renamed = xml.replace("Yakeen4RabtFault", "Yakeen4BcareFault");
    let YakeenResponse::Fault(fault) = read::<YakeenResponse>(&renamed).unwrap() else {
        panic!("not a fault");
    };
    assert_eq!(fault.common_error().unwrap().error_code, "2");
    assert_eq!(fault.class(), FaultClass::Server);
    // A JAX-WS stack trace in the detail is no Yakeen error.
    let trace = r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault>
        <faultcode>S:Server</faultcode><faultstring>NullPointerException</faultstring>
        <detail><ns2:exception xmlns:ns2="http://jax-ws.dev.java.net/"><message>x</message></ns2:exception></detail>
        </S:Fault></S:Body></S:Envelope>"#;
    let YakeenResponse::Fault(fault) = read::<YakeenResponse>(trace).unwrap() else {
        panic!("not a fault");
    };
    assert!(fault.common_error().is_none());
    let bare = write_response(YakeenResponse::Fault(SoapFault::plain("Client", "no"))).unwrap();
    assert!(!bare.contains("detail"), "{bare}");
    assert_eq!(
        read::<YakeenResponse>(&bare).unwrap(),
        YakeenResponse::Fault(SoapFault::plain("Client", "no"))
    );
}
