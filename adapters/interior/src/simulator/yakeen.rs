//! The simulated Yakeen SOAP service.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use rabt_core::{Calendar, IdKind, NationalId};
use rabt_sandbox::simulator::{InjectedFault, with_retry_after};
use rabt_sandbox::world::Person;

use super::{FIRST_LOG_ID, Sim};
use crate::InteriorError;
use crate::fault::YakeenErrorCode;
use crate::soap::{self, Payload, SoapFault};
use crate::wire::{
    AlienInfoByIqamaResult, CitizenInfoResult, Credentials, GetAlienInfoByIqamaResponse,
    GetCitizenInfoResponse, YakeenRequest, YakeenResponse, format_date,
};

/// A body cut off mid-way, as a broken node behind a load balancer sends.
const MALFORMED_ENVELOPE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:getCit";

pub(super) async fn handle(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = sim.knobs.intercept(&headers).await {
        return injected(fault);
    }
    let soap11 = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/xml"));
    if !soap11 {
        // JAX-WS answers a SOAP 1.2 or JSON content type with a bare 415.
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let request = match parse(&body) {
        Ok(request) => request,
        Err(fault) => {
            return envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                YakeenResponse::Fault(*fault),
            );
        }
    };
    match answer(&sim, &request) {
        Ok(response) => envelope(StatusCode::OK, response),
        Err(code) => envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            YakeenResponse::Fault(code.fault()),
        ),
    }
}

/// The request, or the fault the SOAP stack raises before Yakeen sees it.
fn parse(body: &[u8]) -> Result<YakeenRequest, Box<SoapFault>> {
    let refuse = |class: &str, message: &str| Box::new(SoapFault::plain(class, message));
    let xml = std::str::from_utf8(body)
        .map_err(|_| refuse("Client", "Invalid byte sequence: the message is not UTF-8"))?;
    match soap::payload_of(xml) {
        Ok(Payload::Yakeen(op)) if op == "getCitizenInfo" || op == "getAlienInfoByIqama" => {
            soap::read(xml).map_err(|_| refuse("Client", &format!("Unmarshalling Error: {op}")))
        }
        Ok(Payload::Yakeen(op) | Payload::Other { local: op, .. }) => Err(refuse(
            "Client",
            &format!(
                "Cannot find dispatch method for {{{}}}{}",
                soap::YAKEEN_NS,
                crate::fault::short(&op)
            ),
        )),
        Ok(Payload::Fault) => Err(refuse("Client", "A fault is not a request")),
        Err(InteriorError::Soap12) => Err(refuse(
            "VersionMismatch",
            "Couldn't create SOAP message: expected SOAP 1.1 envelope namespace",
        )),
        Err(_) => Err(refuse("Client", "Couldn't create SOAP message")),
    }
}

/// What Yakeen answers, checking credentials, then fields, then the person.
fn answer(sim: &Sim, request: &YakeenRequest) -> Result<YakeenResponse, YakeenErrorCode> {
    let (kind, id, month, credentials) = match request {
        YakeenRequest::CitizenInfo(r) => (
            IdKind::Citizen,
            &r.request.nin,
            &r.request.date_of_brith,
            r.request.credentials(),
        ),
        YakeenRequest::AlienInfo(r) => (
            IdKind::Resident,
            &r.request.iqama_number,
            &r.request.date_of_birth,
            r.request.credentials(),
        ),
    };
    check_credentials(sim, &credentials)?;
    if credentials
        .reference_number
        .as_deref()
        .is_none_or(|r| r.trim().is_empty())
    {
        return Err(YakeenErrorCode::MissingField);
    }
    let id = id
        .as_deref()
        .and_then(|id| NationalId::parse(id.trim()).ok())
        .ok_or(YakeenErrorCode::InvalidId)?;
    if id.kind() != kind {
        return Err(YakeenErrorCode::WrongIdKind);
    }
    let (month, year) = month
        .as_deref()
        .and_then(birth_month)
        .ok_or(YakeenErrorCode::InvalidBirthDate)?;
    let person = sim.world.person(&id).ok_or(YakeenErrorCode::NotFound)?;
    let born = birth_month_of(person, kind);
    if born != (month, year) {
        return Err(YakeenErrorCode::BirthDateMismatch);
    }
    let log_id = (FIRST_LOG_ID + sim.next_answer()).to_string();
    Ok(match kind {
        IdKind::Citizen => YakeenResponse::CitizenInfo(GetCitizenInfoResponse {
            result: citizen_result(person, log_id),
        }),
        IdKind::Resident => YakeenResponse::AlienInfo(GetAlienInfoByIqamaResponse {
            result: alien_result(person, log_id),
        }),
    })
}

/// The month and year a person was born in, in the calendar of their record.
fn birth_month_of(person: &Person, kind: IdKind) -> (u8, u16) {
    let (hijri, gregorian) = (person.birth_date.hijri, person.birth_date.gregorian);
    match kind {
        IdKind::Citizen => (hijri.month(), hijri.year()),
        IdKind::Resident => (
            u8::try_from(gregorian.month()).unwrap_or(0),
            u16::try_from(gregorian.year()).unwrap_or(0),
        ),
    }
}

fn check_credentials(sim: &Sim, given: &Credentials) -> Result<(), YakeenErrorCode> {
    let user = given.user_name.as_deref() == Some(sim.yakeen.user_name.as_str());
    let password = given.password.as_deref() == Some(sim.yakeen.password.expose());
    if !(user && password) {
        return Err(YakeenErrorCode::InvalidCredentials);
    }
    if given.charge_code.as_deref() != Some(sim.yakeen.charge_code.expose()) {
        return Err(YakeenErrorCode::InvalidChargeCode);
    }
    Ok(())
}

/// `MM-YYYY`, strictly.
fn birth_month(text: &str) -> Option<(u8, u16)> {
    let (m, y) = text.trim().split_once('-')?;
    if m.len() != 2 || y.len() != 4 || !(m.bytes().chain(y.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month: u8 = m.parse().ok()?;
    (1..=12)
        .contains(&month)
        .then_some((month, y.parse().ok()?))
}

fn citizen_result(p: &Person, log_id: String) -> CitizenInfoResult {
    let n = &p.name;
    CitizenInfoResult {
        date_of_birth_g: Some(format_date(Calendar::Gregorian, &p.birth_date)),
        date_of_birth_h: Some(format_date(Calendar::Hijri, &p.birth_date)),
        english_first_name: Some(n.first.en.clone()),
        english_last_name: Some(n.family.en.clone()),
        english_second_name: Some(n.father.en.clone()),
        english_third_name: Some(n.grandfather.en.clone()),
        family_name: Some(n.family.ar.clone()),
        father_name: Some(n.father.ar.clone()),
        first_name: Some(n.first.ar.clone()),
        gender: Some(p.gender.as_str().to_owned()),
        grand_father_name: Some(n.grandfather.ar.clone()),
        id_expiry_date: Some(format_date(Calendar::Hijri, &p.id_expiry)),
        log_id: Some(log_id),
        nationality_code: Some(p.nationality.numeric_code.clone()),
        occupation_code: Some(p.occupation_code.clone()),
    }
}

fn alien_result(p: &Person, log_id: String) -> AlienInfoByIqamaResult {
    let n = &p.name;
    AlienInfoByIqamaResult {
        date_of_birth_g: Some(format_date(Calendar::Gregorian, &p.birth_date)),
        date_of_birth_h: Some(format_date(Calendar::Hijri, &p.birth_date)),
        english_first_name: Some(n.first.en.clone()),
        english_last_name: Some(n.family.en.clone()),
        english_second_name: Some(n.father.en.clone()),
        english_third_name: Some(n.grandfather.en.clone()),
        first_name: Some(n.first.ar.clone()),
        gender: Some(p.gender.as_str().to_owned()),
        iqama_expiry_date_g: Some(format_date(Calendar::Gregorian, &p.id_expiry)),
        iqama_expiry_date_h: Some(format_date(Calendar::Hijri, &p.id_expiry)),
        last_name: Some(n.family.ar.clone()),
        log_id: Some(log_id),
        nationality_code: Some(p.nationality.numeric_code.clone()),
        occupation_code: Some(p.occupation_code.clone()),
        second_name: Some(n.father.ar.clone()),
        third_name: Some(n.grandfather.ar.clone()),
    }
}

fn envelope(status: StatusCode, response: YakeenResponse) -> Response {
    match soap::write_response(response) {
        Ok(xml) => (status, [(header::CONTENT_TYPE, soap::CONTENT_TYPE)], xml).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Yakeen's renderings of the injected faults: SOAP faults with HTTP 500.
fn injected(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::ServerError => envelope(
            StatusCode::INTERNAL_SERVER_ERROR,
            YakeenResponse::Fault(YakeenErrorCode::Internal.fault()),
        ),
        InjectedFault::RateLimit { retry_after } => with_retry_after(
            envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                YakeenResponse::Fault(YakeenErrorCode::RateLimited.fault()),
            ),
            retry_after,
        ),
        InjectedFault::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
            MALFORMED_ENVELOPE,
        )
            .into_response(),
    }
}
