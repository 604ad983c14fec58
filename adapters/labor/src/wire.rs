//! MHRSD's own wire format (Takamol's ESB behind IBM API Connect), named as MHRSD names
//! it, and its translation into the outputs of [`crate::output`].
//!
//! Every operation is a `POST` of one JSON object whose only key names the operation:
//! `{"GetEstablishmentInformationRq": {"Header": {…}, "Body": {…}}}`, answered by
//! `{"GetEstablishmentInformationRs": {"Header": {…, "ResponseStatus": {…}}, "Body": {…}}}`.
//! The answer's header echoes the request's and adds the middleware's times and the
//! `ResponseStatus` (`SUCCESS` or `ERROR`, a code, a message in Arabic and English); an
//! `ERROR` has no `Body`. Numbers and identifiers travel as strings, and coded values as
//! `{"Id", "Ar", "En"}` ([`CodeName`], decoded by the tables of [`codes`]). The gateway
//! itself answers errors it raises (401, 403, 404, 429, 503) in API Connect's own shape,
//! [`ApicError`].
//!
//! The simulator serialises these same types, and the golden JSON files under
//! `tests/fixtures/wire/` pin the format on both sides.
//!
//! - [`codes`]: the status codes and the coded values (bands, types, roles…).
//! - [`establishment`]: `GetEstablishmentInformation` (Nitaqat, Saudization, GOSI).
//! - [`society`]: `GetCooperativeSocietyInformation` (the cooperative registry).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod codes;
pub mod establishment;
pub mod society;

/// One operation of the ESB: its name, service code, path and body types.
pub trait Operation {
    /// The operation's name: the envelope keys are this plus `Rq` or `Rs`.
    const NAME: &'static str;
    /// The `ServiceCode` the request header must carry.
    const SERVICE_CODE: &'static str;
    /// The path under the gateway's base URL.
    const PATH: &'static str;
    /// The request's `Body`.
    type RqBody: Serialize + DeserializeOwned;
    /// The answer's `Body` (present on `SUCCESS` only).
    type RsBody: Serialize + DeserializeOwned;

    /// The request envelope's key, e.g. `GetEstablishmentInformationRq`.
    fn rq_key() -> String {
        format!("{}Rq", Self::NAME)
    }

    /// The answer envelope's key, e.g. `GetEstablishmentInformationRs`.
    fn rs_key() -> String {
        format!("{}Rs", Self::NAME)
    }
}

/// The `Header` of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RqHeader {
    /// The caller's id for this transaction: Rabt's task id.
    pub transaction_id: String,
    /// The integrator's channel, e.g. `Qiwa`; Rabt sends [`crate::CHANNEL_ID`].
    pub channel_id: String,
    /// A session id; integrators without sessions leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss.SSS`, Riyadh time.
    pub request_time: String,
    /// The operation's code, e.g. `GEI00001`.
    pub service_code: String,
    /// `1` asks the ESB for debug details; Rabt never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_flag: Option<String>,
    /// The person acting, for operations done on someone's behalf; Rabt reads only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfo>,
}

/// The person on whose behalf an operation is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Their Qiwa user id.
    #[serde(rename = "UserId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Their national ID or iqama.
    #[serde(rename = "IDNumber", default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
}

/// The `Header` of an answer: the request's, echoed, plus the middleware's times and
/// the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RsHeader {
    /// The request's `TransactionId`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The request's `ChannelId`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// The request's `SessionId`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The request's `RequestTime`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_time: Option<String>,
    /// When the middleware received the request.
    #[serde(
        rename = "MWRequestTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mw_request_time: Option<String>,
    /// When the middleware answered.
    #[serde(
        rename = "MWResponseTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mw_response_time: Option<String>,
    /// The request's `ServiceCode`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_code: Option<String>,
    /// How it went.
    pub response_status: ResponseStatus,
}

/// `SUCCESS` or `ERROR`, a code and a message in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseStatus {
    /// `SUCCESS` or `ERROR`.
    pub status: Status,
    /// The ESB's code: `I000000` for success, `E0000949`, `ODM00102`… ([`codes`]).
    pub code: String,
    /// The message in Arabic.
    pub arabic_msg: String,
    /// The message in English.
    pub english_msg: String,
}

/// `ResponseStatus.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// The operation answered; `Body` holds the answer.
    #[serde(rename = "SUCCESS")]
    Success,
    /// The operation refused; `Code` says why and there is no `Body`.
    #[serde(rename = "ERROR")]
    Error,
}

/// A coded value as MHRSD writes it: `{"Id": "3", "Ar": "أخضر متوسط", "En": "Medium Green"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeName {
    /// The code, which the adapter decodes; the names are for people.
    pub id: String,
    /// The Arabic name.
    pub ar: String,
    /// The English name.
    pub en: String,
}

/// A request envelope's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QiwaRequest<B> {
    /// The header.
    pub header: RqHeader,
    /// The operation's parameters.
    pub body: B,
}

/// An answer envelope's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QiwaResponse<B> {
    /// The header, with the status.
    pub header: RsHeader,
    /// The answer; absent (or `null`) on `ERROR`.
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub body: Option<B>,
}

/// Wraps a request in its operation's key.
pub fn wrap_request<O: Operation>(request: &QiwaRequest<O::RqBody>) -> serde_json::Value {
    wrap(O::rq_key(), request)
}

/// Wraps an answer in its operation's key.
pub fn wrap_response<O: Operation>(response: &QiwaResponse<O::RsBody>) -> serde_json::Value {
    wrap(O::rs_key(), response)
}

fn wrap(key: String, content: &impl Serialize) -> serde_json::Value {
    // Plain strings, numbers and options always serialise; `Null` would only hide a
    // bug that the golden tests would catch.
    let content = serde_json::to_value(content).unwrap_or(serde_json::Value::Null);
    serde_json::Value::Object(serde_json::Map::from_iter([(key, content)]))
}

/// Reads an envelope: the object under `key`, as `T`.
pub fn unwrap_envelope<T: DeserializeOwned>(bytes: &[u8], key: &str) -> Result<T, String> {
    let mut outer: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON object: {e}"))?;
    let content = outer
        .remove(key)
        .ok_or_else(|| format!("no `{key}` in the answer"))?;
    serde_json::from_value(content).map_err(|e| format!("`{key}` is unreadable: {e}"))
}

/// An error raised by the API Connect gateway itself (authentication, rate limits,
/// unknown paths, a backend that does not answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApicError {
    /// The HTTP status, as a string.
    #[serde(rename = "httpCode")]
    pub http_code: String,
    /// Its reason phrase.
    #[serde(rename = "httpMessage")]
    pub http_message: String,
    /// A sentence for people.
    #[serde(rename = "moreInformation")]
    pub more_information: String,
}

/// The token endpoint's answer (RFC 6749 §5.1, as API Connect writes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// Always `Bearer`.
    pub token_type: String,
    /// The token.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// When the grant was made (Unix seconds), as API Connect adds.
    pub consented_on: u64,
    /// The granted scope.
    pub scope: String,
}

/// The token endpoint's error (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenError {
    /// `invalid_client`, `invalid_scope`, `unsupported_grant_type`, `invalid_request`.
    pub error: String,
    /// A sentence for people.
    pub error_description: String,
}

#[cfg(test)]
mod tests {
    use super::establishment::GetEstablishmentInformation;
    use super::*;

    const OK: &str = include_str!("../tests/fixtures/wire/gei-7000000001.json");
    const NOT_IN_NITAQAT: &str =
        include_str!("../tests/fixtures/wire/gei-7000000007-e0000949.json");
    const REQUEST: &str = include_str!("../tests/fixtures/wire/gei-request.json");
    const APIC_401: &str = include_str!("../tests/fixtures/wire/apic-401.json");
    const TOKEN: &str = include_str!("../tests/fixtures/wire/token-200.json");
    const TOKEN_401: &str = include_str!("../tests/fixtures/wire/token-401.json");

    type Rs = QiwaResponse<<GetEstablishmentInformation as Operation>::RsBody>;
    type Rq = QiwaRequest<<GetEstablishmentInformation as Operation>::RqBody>;

    fn round_trip<T: Serialize + DeserializeOwned>(text: &str, key: Option<&str>) {
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        let again = match key {
            Some(key) => {
                let parsed: T = unwrap_envelope(text.as_bytes(), key).unwrap();
                wrap(key.to_owned(), &parsed)
            }
            None => serde_json::to_value(serde_json::from_str::<T>(text).unwrap()).unwrap(),
        };
        assert_eq!(again, original);
    }

    #[test]
    fn fixtures_round_trip_through_the_wire_types() {
        round_trip::<Rs>(OK, Some("GetEstablishmentInformationRs"));
        round_trip::<Rs>(NOT_IN_NITAQAT, Some("GetEstablishmentInformationRs"));
        round_trip::<Rq>(REQUEST, Some("GetEstablishmentInformationRq"));
        round_trip::<ApicError>(APIC_401, None);
        round_trip::<TokenResponse>(TOKEN, None);
        round_trip::<TokenError>(TOKEN_401, None);
    }

    #[test]
    fn an_error_has_a_status_and_no_body() {
        let rs: Rs =
            unwrap_envelope(NOT_IN_NITAQAT.as_bytes(), "GetEstablishmentInformationRs").unwrap();
        assert_eq!(rs.header.response_status.status, Status::Error);
        assert_eq!(rs.header.response_status.code, codes::NOT_IN_NITAQAT);
        assert!(rs.body.is_none());
    }

    #[test]
    fn envelopes_under_another_key_are_refused() {
        let err =
            unwrap_envelope::<Rs>(OK.as_bytes(), "GetCooperativeSocietyInformationRs").unwrap_err();
        assert!(err.contains("GetCooperativeSocietyInformationRs"), "{err}");
        assert!(unwrap_envelope::<Rs>(b"[1]", "x").is_err());
        assert!(unwrap_envelope::<Rs>(b"{\"x\": 1}", "x").is_err());
    }
}
