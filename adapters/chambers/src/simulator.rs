//! FSC's `coc-records` (behind REGA's Apigee) as an axum app, answering from the sandbox
//! [`World`]; serve it over mutual TLS with [`serve`] (or [`rabt_sandbox::tls::spawn_tls`]).
//!
//! It behaves as the real service does where Rabt can tell: `GET /v1/fsc/coc-records`
//! with `cocMemberChamberCity` + `cocMemberId` (or the sandbox's
//! `cocMemberUnifiedNumber`), a bearer token (401 in Apigee's `ServiceError` envelope
//! without it), 400 for a missing or malformed parameter, 404 with the backend's
//! exception detail for "no record", Apigee's 404 and 405 for unknown paths and methods,
//! and 429 with `Retry-After` for a rate limit. The record carries what the world knows
//! of the member: the membership, the cooperative's names and unified number, its CR, its
//! licensed activities and its headquarters address. The fault knobs of
//! [`rabt_sandbox::simulator`] apply to every call, before anything else; the TLS
//! handshake comes before even that.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rabt_adapter::ConfigError;
use rabt_adapter::http::Secret;
use rabt_core::UnifiedNumber;
use rabt_sandbox::simulator::{InjectedFault, KnobsHandle, ShutdownHandle, knobs_routes};
use rabt_sandbox::tls::{ServerTls, TlsError, spawn_tls};
use rabt_sandbox::world::{self, ChamberMembership, World};
use rabt_sandbox::{Simulated, SimulatorParts};

use crate::Chambers;
use crate::client::COC_RECORDS_PATH;
use crate::output::MembershipClass;
use crate::query::{PARAM_CHAMBER, PARAM_MEMBER, PARAM_UNIFIED};
use crate::wire::{
    FscActivityType, FscCocRecord, FscCocRecordResponse, FscDate, FscExceptionDetail,
    FscMemberAddress, FscMemberEst, FscMemberSijil, FscMembershipDetails, FscServiceError,
    FscServiceErrorResponse, NO_RECORD_CODE, class_code,
};

#[derive(Debug)]
struct Sim {
    world: Arc<World>,
    token: Secret,
    knobs: KnobsHandle,
}

/// The simulator's router: FSC's `coc-records`, Apigee's 404 and 405, and the `/_sim/`
/// knob routes. It speaks plain HTTP; [`serve`] puts it behind mutual TLS.
pub fn router(world: Arc<World>, token: Secret, knobs: KnobsHandle) -> Router {
    let sim = Arc::new(Sim {
        world,
        token,
        knobs: knobs.clone(),
    });
    Router::new()
        .route(COC_RECORDS_PATH, get(coc_records))
        .method_not_allowed_fallback(|| async {
            apigee(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        })
        .with_state(sim)
        .merge(knobs_routes(knobs))
        .fallback(|| async { apigee(StatusCode::NOT_FOUND, "Not Found") })
}

/// Serves the simulator at `addr` over mutual TLS: `tls` names the server's certificate
/// and the CA whose client certificates it accepts.
pub async fn serve(
    addr: SocketAddr,
    world: Arc<World>,
    token: Secret,
    knobs: KnobsHandle,
    tls: &ServerTls,
) -> Result<(SocketAddr, ShutdownHandle), TlsError> {
    spawn_tls(addr, router(world, token, knobs), tls).await
}

/// What a call asks for.
#[derive(Debug)]
enum Asked {
    Unified(UnifiedNumber),
    Membership(u16, String),
}

async fn coc_records(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    if let Some(fault) = sim.knobs.intercept(&headers).await {
        return fault_response(fault);
    }
    if !bearer_is(&headers, &sim.token) {
        return apigee(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Ok(Query(params)) = params else {
        return bad_request("Bad Request: unreadable query string");
    };
    let asked = match asked(&params) {
        Ok(asked) => asked,
        Err(text) => return bad_request(text),
    };
    let (found, insert) = match &asked {
        Asked::Unified(unified) => (sim.world.membership_of(unified), vec![unified.to_string()]),
        Asked::Membership(chamber, number) => (
            sim.world.membership(*chamber, number),
            vec![chamber.to_string(), number.clone()],
        ),
    };
    match found {
        Some(membership) => Json(FscCocRecordResponse {
            result: coc_record(&sim.world, membership),
        })
        .into_response(),
        None => no_record(insert),
    }
}

fn bearer_is(headers: &HeaderMap, token: &Secret) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, value)| {
            scheme.eq_ignore_ascii_case("bearer") && value == token.expose()
        })
}

/// The query's form, or Apigee's reason to refuse it.
fn asked(params: &HashMap<String, String>) -> Result<Asked, &'static str> {
    let get = |name: &str| params.get(name).map(|v| v.trim());
    match (get(PARAM_UNIFIED), get(PARAM_CHAMBER), get(PARAM_MEMBER)) {
        (Some(unified), None, None) => UnifiedNumber::parse(unified)
            .map(Asked::Unified)
            .map_err(|_| "Bad Request: cocMemberUnifiedNumber must be 7 followed by nine digits"),
        (None, Some(chamber), Some(member)) => {
            let chamber = chamber
                .parse::<u16>()
                .map_err(|_| "Bad Request: cocMemberChamberCity must be an integer")?;
            if member.is_empty() {
                return Err("Bad Request: cocMemberId must not be empty");
            }
            Ok(Asked::Membership(chamber, member.to_owned()))
        }
        (None, Some(_), None) => Err("Bad Request: cocMemberId is required"),
        (Some(_), _, _) => Err(
            "Bad Request: cocMemberUnifiedNumber cannot be combined with cocMemberChamberCity or cocMemberId",
        ),
        (None, None, _) => Err("Bad Request: cocMemberChamberCity is required"),
    }
}

/// One membership of the world as FSC writes it, with what the world knows of its member.
pub fn coc_record(world: &World, m: &ChamberMembership) -> FscCocRecord {
    let coop = world.cooperative(&m.holder);
    let address = coop.and_then(|c| world.address_by_short_address(&c.headquarters));
    let licence = coop.and_then(|c| world.licence(&c.municipal_licence));
    FscCocRecord {
        membership: FscMembershipDetails {
            membership_id: m.membership_number.clone(),
            chamber_city: m.chamber_code.into(),
            chamber_name_ar: Some(m.chamber_name.ar.clone()),
            chamber_name_en: Some(m.chamber_name.en.clone()),
            class: class_code(class_of(m.class)),
            subscribed: Some(FscDate::from_dual(&m.subscribed_at)),
            expires: FscDate::from_dual(&m.expires_at),
        },
        establishment: Some(FscMemberEst {
            name_ar: Some(m.establishment_name.ar.clone()),
            name_en: Some(m.establishment_name.en.clone()),
            unified_number: Some(m.holder.to_string()),
            juridical_form_ar: Some("جمعية تعاونية".to_owned()),
            nationality_ar: Some("سعودية".to_owned()),
            number_of_branches: Some(0),
        }),
        sijil: Some(FscMemberSijil {
            number: Some(m.cr_number.clone()),
            kind: Some("رئيسي".to_owned()),
            source_ar: address.map(|a| a.city.ar.clone()),
        }),
        activity: licence.map(|l| FscActivityType {
            main_ar: l.activities.first().map(|a| a.name.ar.clone()),
            secondary_ar: l.activities.get(1).map(|a| a.name.ar.clone()),
        }),
        address: address.map(|a| FscMemberAddress {
            postal_code: Some(a.postal_code.to_string()),
            street_ar: Some(a.street.ar.clone()),
            district_ar: Some(a.district.ar.clone()),
            district_en: Some(a.district.en.clone()),
            city_ar: Some(a.city.ar.clone()),
            region_ar: Some(a.region.ar.clone()),
        }),
    }
}

fn class_of(class: world::MembershipClass) -> MembershipClass {
    match class {
        world::MembershipClass::Excellent => MembershipClass::Excellent,
        world::MembershipClass::First => MembershipClass::First,
        world::MembershipClass::Second => MembershipClass::Second,
        world::MembershipClass::Third => MembershipClass::Third,
        world::MembershipClass::Fourth => MembershipClass::Fourth,
    }
}

/// Apigee's own error envelope.
fn apigee(status: StatusCode, text: &str) -> Response {
    let body = FscServiceErrorResponse {
        service_error: FscServiceError {
            source_agency: "Apigee".to_owned(),
            error_type: "TechnicalError".to_owned(),
            code: status.as_u16().to_string(),
            error_text: text.to_owned(),
        },
    };
    (status, Json(body)).into_response()
}

fn bad_request(text: &str) -> Response {
    apigee(StatusCode::BAD_REQUEST, text)
}

/// The backend's "no record" exception, which Apigee passes on as a 404.
fn no_record(insert: Vec<String>) -> Response {
    let body = FscExceptionDetail {
        raised_by: "FSC".to_owned(),
        code: NO_RECORD_CODE.to_owned(),
        error_text: "No chamber of commerce record matches the request.".to_owned(),
        insert,
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// FSC's renderings of the injected faults: Apigee's envelope, a spike arrest as 429.
fn fault_response(fault: InjectedFault) -> Response {
    fault.render(
        || apigee(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        || apigee(StatusCode::TOO_MANY_REQUESTS, "Spike arrest violation"),
    )
}

impl Simulated for Chambers {
    fn simulator(&self, parts: SimulatorParts<'_>) -> Result<Router, ConfigError> {
        Ok(router(parts.world, parts.settings.api_key()?, parts.knobs))
    }
}

#[cfg(test)]
mod tests;
