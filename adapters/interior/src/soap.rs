//! SOAP 1.1 as Yakeen speaks it: the envelope, its namespaces and its faults.
//!
//! Envelopes are written and read with quick-xml's serde support, never by formatting
//! strings, so that `&`, `<` and Arabic text in a name or a password are escaped and
//! unescaped correctly. quick-xml's deserializer matches elements by local name only,
//! so [`payload_of`] first walks the document with a namespace-aware reader and checks
//! that it is a SOAP 1.1 envelope whose body holds what the caller expects (an element
//! of Yakeen's namespace, or a SOAP fault); only then is it deserialized.
//!
//! A SOAP 1.1 fault travels with HTTP 500 (SOAP 1.1 §6.2): a 500 carrying a fault is
//! the service's answer, not an outage.

use quick_xml::NsReader;
use quick_xml::events::{BytesDecl, Event};
use quick_xml::name::{Namespace, ResolveResult};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::InteriorError;

/// The SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace: a message in it gets a `VersionMismatch` fault.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The namespace of Rabt's Yakeen service (`Yakeen4Rabt`), as its WSDL declares it.
pub const YAKEEN_NS: &str = "http://yakeen4rabt.yakeen.elm.com/";
/// The media type of SOAP 1.1 messages.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// The `SOAPAction` of every operation: the WSDL declares `soapAction=""`, as JAX-WS
/// services do; the body's element names the operation.
pub const SOAP_ACTION: &str = "\"\"";

/// What the body of an envelope holds, by namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// An element of Yakeen's namespace, e.g. `getCitizenInfoResponse`.
    Yakeen(String),
    /// A SOAP 1.1 `Fault`.
    Fault,
    /// Anything else, with its namespace (empty for none).
    Other {
        /// The element's namespace URI.
        namespace: String,
        /// Its local name.
        local: String,
    },
}

/// A request envelope as Rabt writes it: `soapenv:` and `yak:` prefixes, an empty
/// header, the operation in the body.
#[derive(Debug, Serialize)]
pub struct RequestEnvelope<B> {
    #[serde(rename = "@xmlns:soapenv")]
    soapenv: &'static str,
    #[serde(rename = "@xmlns:yak")]
    yak: &'static str,
    #[serde(rename = "soapenv:Header")]
    header: (),
    #[serde(rename = "soapenv:Body")]
    body: Body<B>,
}

/// A response envelope as Yakeen (a JAX-WS service) writes it: `S:` and `ns2:`
/// prefixes, no header.
#[derive(Debug, Serialize)]
pub struct ResponseEnvelope<B> {
    #[serde(rename = "@xmlns:S")]
    s: &'static str,
    #[serde(rename = "@xmlns:ns2")]
    ns2: &'static str,
    #[serde(rename = "S:Body")]
    body: Body<B>,
}

/// The body of an envelope: one payload element, named by `B`'s enum variant.
#[derive(Debug, Serialize, Deserialize)]
pub struct Body<B> {
    /// The payload.
    #[serde(rename = "$value")]
    pub payload: B,
}

/// Any envelope read back (the header, if any, is ignored: Yakeen defines none).
#[derive(Debug, Deserialize)]
pub struct InEnvelope<B> {
    /// The body.
    #[serde(rename = "Body")]
    pub body: Body<B>,
}

/// A SOAP 1.1 fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoapFault {
    /// A qualified name such as `S:Server` or `soap:Client.Authentication`.
    pub faultcode: String,
    /// A sentence for people.
    pub faultstring: String,
    /// The node that failed, if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faultactor: Option<String>,
    /// The service's own detail: Yakeen's `Yakeen4RabtFault`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<FaultDetail>,
}

/// The `detail` of a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultDetail {
    /// Yakeen names this element after the client's service (`Yakeen4<Client>Fault`),
    /// so it is read whatever its name.
    #[serde(rename(serialize = "ns2:Yakeen4RabtFault", deserialize = "$value"))]
    pub fault: YakeenFault,
}

/// Yakeen's fault element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YakeenFault {
    /// The error; absent when the detail is something else (a stack trace).
    #[serde(
        rename = "commonErrorObject",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub common_error_object: Option<CommonErrorObject>,
}

/// Yakeen's error: a numeric code, a message and a type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommonErrorObject {
    /// The code, digits (see [`crate::fault::YakeenErrorCode`]).
    #[serde(rename = "ErrorCode")]
    pub error_code: String,
    /// A sentence for people, in Arabic and English.
    #[serde(rename = "ErrorMessage")]
    pub error_message: String,
    /// `BUSINESS`, `VALIDATION`, `SECURITY` or `TECHNICAL`.
    #[serde(rename = "Type")]
    pub error_type: String,
}

/// The class of a fault, from the local part of its `faultcode` (SOAP 1.1 §4.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// The message was not SOAP 1.1.
    VersionMismatch,
    /// A mandatory header was not understood.
    MustUnderstand,
    /// The message was wrong: retrying it unchanged cannot help.
    Client,
    /// The server failed: the same message may succeed later.
    Server,
    /// A code outside SOAP 1.1's four.
    Unknown,
}

impl SoapFault {
    /// A fault of Yakeen's with its `commonErrorObject`.
    pub fn yakeen(class: &str, error: CommonErrorObject) -> Self {
        Self {
            faultcode: format!("S:{class}"),
            faultstring: error.error_message.clone(),
            faultactor: None,
            detail: Some(FaultDetail {
                fault: YakeenFault {
                    common_error_object: Some(error),
                },
            }),
        }
    }

    /// A plain SOAP fault (no detail), as the SOAP stack raises before Yakeen runs.
    pub fn plain(class: &str, message: &str) -> Self {
        Self {
            faultcode: format!("S:{class}"),
            faultstring: message.to_owned(),
            faultactor: None,
            detail: None,
        }
    }

    /// Yakeen's error, if the fault carries one.
    pub fn common_error(&self) -> Option<&CommonErrorObject> {
        self.detail.as_ref()?.fault.common_error_object.as_ref()
    }

    /// The class of `faultcode`: `S:Client.Authentication` is `Client`.
    pub fn class(&self) -> FaultClass {
        let code = self.faultcode.as_str();
        let unprefixed = code.rsplit_once(':').map_or(code, |(_, local)| local);
        let local = unprefixed
            .split_once('.')
            .map_or(unprefixed, |(class, _)| class);
        match local {
            "VersionMismatch" => FaultClass::VersionMismatch,
            "MustUnderstand" => FaultClass::MustUnderstand,
            "Client" => FaultClass::Client,
            "Server" => FaultClass::Server,
            _ => FaultClass::Unknown,
        }
    }
}

/// Writes a request envelope with its XML declaration, on one line.
pub fn write_request<B: Serialize>(payload: B) -> Result<String, InteriorError> {
    write(
        quick_xml::Writer::new(Vec::new()),
        "soapenv:Envelope",
        &RequestEnvelope {
            soapenv: SOAP11_NS,
            yak: YAKEEN_NS,
            header: (),
            body: Body { payload },
        },
    )
}

/// Writes a response envelope with its XML declaration, indented (as Yakeen's
/// pilot answers, and so that the golden files read well).
pub fn write_response<B: Serialize>(payload: B) -> Result<String, InteriorError> {
    write(
        quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2),
        "S:Envelope",
        &ResponseEnvelope {
            s: SOAP11_NS,
            ns2: YAKEEN_NS,
            body: Body { payload },
        },
    )
}

fn write<T: Serialize>(
    mut writer: quick_xml::Writer<Vec<u8>>,
    root: &str,
    envelope: &T,
) -> Result<String, InteriorError> {
    writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(|e| InteriorError::XmlSyntax(e.into()))?;
    writer.write_serializable(root, envelope)?;
    // The writer only ever received `&str`s and serde's UTF-8 output.
    String::from_utf8(writer.into_inner()).map_err(|_| InteriorError::Envelope("not UTF-8"))
}

/// Reads an envelope whose payload [`payload_of`] has already checked.
pub fn read<B: DeserializeOwned>(xml: &str) -> Result<B, InteriorError> {
    let envelope: InEnvelope<B> = quick_xml::de::from_str(xml)?;
    Ok(envelope.body.payload)
}

/// Checks that `xml` is a SOAP 1.1 envelope and names the first element of its body.
pub fn payload_of(xml: &str) -> Result<Payload, InteriorError> {
    let mut reader = NsReader::from_str(xml);
    let mut depth = 0usize;
    let mut in_body = false;
    loop {
        let (namespace, event) = reader.read_resolved_event()?;
        let namespace = namespace_of(&namespace);
        let (start, empty) = match &event {
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Eof => return Err(InteriorError::Envelope("no body")),
            _ => continue,
        };
        let local = start.local_name().into_inner().to_owned();
        match depth {
            0 if local == "Envelope" && namespace == SOAP11_NS => {}
            0 if local == "Envelope" && namespace == SOAP12_NS => {
                return Err(InteriorError::Soap12);
            }
            0 => return Err(InteriorError::Envelope("not a SOAP 1.1 envelope")),
            1 if namespace == SOAP11_NS && local == "Body" => in_body = true,
            1 if namespace == SOAP11_NS && local == "Header" => {}
            1 => {
                return Err(InteriorError::Envelope(
                    "an unknown element in the envelope",
                ));
            }
            2 if in_body => return Ok(classify(namespace, local)),
            _ => {}
        }
        if !empty {
            depth += 1;
        } else if depth == 1 && in_body {
            return Err(InteriorError::Envelope("an empty body"));
        }
    }
}

fn namespace_of<'a>(resolved: &'a ResolveResult<'_>) -> &'a str {
    match resolved {
        ResolveResult::Bound(Namespace(ns)) => ns,
        ResolveResult::Unbound | ResolveResult::Unknown(_) => "",
    }
}

fn classify(namespace: &str, local: String) -> Payload {
    match namespace {
        YAKEEN_NS => Payload::Yakeen(local),
        SOAP11_NS if local == "Fault" => Payload::Fault,
        _ => Payload::Other {
            namespace: namespace.to_owned(),
            local,
        },
    }
}

#[cfg(test)]
mod tests;
