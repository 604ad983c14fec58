//! SPL's National Address API as an axum app, answering from the sandbox [`World`].
//!
//! It behaves as the real service does where Rabt can tell: the same paths and
//! parameters, string-typed JSON, one language per answer, windows-1256 unless
//! `encode=utf8` is asked for, 401 for a wrong key (header `api_key` or query
//! parameter), 400 in SPL's style for a missing or invalid parameter, 403 with
//! `Retry-After` for a rate limit. The fault knobs of [`rabt_sandbox::simulator`] apply
//! to every call, before anything else.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rabt_adapter::ConfigError;
use rabt_adapter::http::Secret;
use rabt_core::{AdditionalNumber, BuildingNumber, PostalCode, ShortAddress};
use rabt_sandbox::simulator::{InjectedFault, KnobsHandle, knobs_routes};
use rabt_sandbox::world::{Address, World};
use rabt_sandbox::{Simulated, SimulatorParts};
use serde::Serialize;

use crate::SaudiPost;
use crate::client::{FREE_TEXT_PATH, SHORT_ADDRESS_PATH, VERIFY_PATH};
use crate::wire::{Language, SplAddress, SplAddressResponse, SplErrorResponse, SplVerifyResponse};

/// How many results one page of the free-text search holds.
const PAGE_SIZE: usize = 20;

#[derive(Debug)]
struct Sim {
    world: Arc<World>,
    api_key: Secret,
    knobs: KnobsHandle,
}

type Params = Query<HashMap<String, String>>;

/// The simulator's router: SPL's three endpoints and the `/_sim/` knob routes.
pub fn router(world: Arc<World>, api_key: Secret, knobs: KnobsHandle) -> Router {
    let sim = Arc::new(Sim {
        world,
        api_key,
        knobs: knobs.clone(),
    });
    Router::new()
        .route(SHORT_ADDRESS_PATH, get(by_short_address))
        .route(VERIFY_PATH, get(address_verify))
        .route(FREE_TEXT_PATH, get(free_text))
        .with_state(sim)
        .merge(knobs_routes(knobs))
}

/// What every call asks besides its own parameters.
#[derive(Debug, Clone, Copy)]
struct Asked {
    language: Language,
    utf8: bool,
}

/// The faults, the key and the common parameters, in that order.
async fn admit(
    sim: &Sim,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Asked, Response> {
    if let Some(fault) = sim.knobs.intercept(headers).await {
        return Err(fault_response(fault));
    }
    let key = headers
        .get("api_key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| params.get("api_key").map(String::as_str));
    if key != Some(sim.api_key.expose()) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "INVALID_API_KEY",
            "The api_key is missing or not valid for this service.",
        ));
    }
    match params.get("format").map(String::as_str) {
        None | Some("json" | "JSON") => {}
        Some(_) => return Err(bad_parameter("format: this service answers json only")),
    }
    let utf8 = match params.get("encode").map(String::as_str) {
        None => false,
        Some("utf8" | "UTF8" | "utf-8") => true,
        Some(_) => {
            return Err(bad_parameter(
                "encode: utf8, or leave it out for windows-1256",
            ));
        }
    };
    let language = match params.get("language") {
        None => Language::Arabic,
        Some(code) => Language::from_code(code).ok_or_else(|| bad_parameter("language: A or E"))?,
    };
    Ok(Asked { language, utf8 })
}

async fn by_short_address(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, Response> {
    let asked = admit(&sim, &headers, &params).await?;
    let Some(short) = params
        .get("shortaddress")
        .and_then(|s| ShortAddress::parse(s).ok())
    else {
        return Err(bad_parameter(
            "shortaddress: four letters and four digits, e.g. RRRD2929",
        ));
    };
    let found: Vec<&Address> = sim
        .world
        .address_by_short_address(&short)
        .into_iter()
        .collect();
    Ok(respond(
        StatusCode::OK,
        &addresses(&found, found.len(), asked.language),
        asked.utf8,
    ))
}

async fn address_verify(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, Response> {
    let asked = admit(&sim, &headers, &params).await?;
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let (Ok(building), Ok(postal_code), Ok(additional)) = (
        BuildingNumber::parse(param("buildingnumber")),
        PostalCode::parse(param("zipcode")),
        AdditionalNumber::parse(param("additionalnumber")),
    ) else {
        return Err(bad_parameter(
            "buildingnumber (4 digits), zipcode (5 digits) and additionalnumber (4 digits) are required",
        ));
    };
    let found = sim
        .world
        .address_by_numbers(&building, &postal_code, &additional)
        .is_some();
    let body = SplVerifyResponse {
        addressfound: found,
        success: true,
        statusdescription: "SUCCESS".to_owned(),
    };
    Ok(respond(StatusCode::OK, &body, asked.utf8))
}

async fn free_text(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, Response> {
    let asked = admit(&sim, &headers, &params).await?;
    let text = params
        .get("addressstring")
        .map(|s| s.trim())
        .unwrap_or_default();
    if text.is_empty() {
        return Err(bad_parameter("addressstring is required"));
    }
    let page = match params.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(page)) if page >= 1 => page,
        Some(_) => return Err(bad_parameter("page: a number from 1")),
    };
    let tokens: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let matches: Vec<&Address> = sim
        .world
        .addresses()
        .iter()
        .filter(|a| tokens.iter().all(|t| matches_token(a, t, asked.language)))
        .collect();
    let start = (page - 1).saturating_mul(PAGE_SIZE);
    let shown: Vec<&Address> = matches
        .iter()
        .skip(start)
        .take(PAGE_SIZE)
        .copied()
        .collect();
    Ok(respond(
        StatusCode::OK,
        &addresses(&shown, matches.len(), asked.language),
        asked.utf8,
    ))
}

/// A search word matches a number exactly or a name in part.
fn matches_token(a: &Address, token: &str, language: Language) -> bool {
    let numbers = [
        a.building_number.as_str(),
        a.additional_number.as_str(),
        a.postal_code.as_str(),
    ];
    if numbers.contains(&token) {
        return true;
    }
    [&a.street, &a.district, &a.city]
        .into_iter()
        .map(|name| match language {
            Language::Arabic => name.ar.to_lowercase(),
            Language::English => name.en.to_lowercase(),
        })
        .any(|name| name.contains(token))
}

fn addresses(found: &[&Address], total: usize, language: Language) -> SplAddressResponse {
    SplAddressResponse {
        success: true,
        statusdescription: "SUCCESS".to_owned(),
        total_search_results: total.to_string(),
        addresses: found.iter().map(|a| spl_address(a, language)).collect(),
    }
}

/// One sandbox address as SPL writes it in one language.
pub fn spl_address(a: &Address, language: Language) -> SplAddress {
    let pick = |name: &rabt_sandbox::world::Bilingual| match language {
        Language::Arabic => name.ar.clone(),
        Language::English => name.en.clone(),
    };
    let (street, district, city) = (pick(&a.street), pick(&a.district), pick(&a.city));
    let (lat, lng) = (
        format!("{:.8}", a.location.lat),
        format!("{:.8}", a.location.lng),
    );
    SplAddress {
        title: None,
        address1: Some(format!("{} {street} - {district}", a.building_number)),
        address2: Some(format!(
            "{city} {} - {}",
            a.postal_code, a.additional_number
        )),
        obj_lat_lng: Some(format!("{lat} {lng}")),
        building_number: a.building_number.to_string(),
        street,
        district,
        city,
        post_code: a.postal_code.to_string(),
        additional_number: a.additional_number.to_string(),
        region_name: pick(&a.region),
        is_primary_address: Some("True".to_owned()),
        unit_number: Some("0".to_owned()),
        latitude: lat,
        longitude: lng,
        city_id: Some(a.city_id.to_string()),
        region_id: Some(a.region_id.to_string()),
        district_id: Some(a.district_id.to_string()),
        pk_address_id: Some(format!("{}{}", a.district_id, a.building_number)),
    }
}

/// JSON in UTF-8 when asked, else in windows-1256 as SPL's default is.
fn respond(status: StatusCode, body: &impl Serialize, utf8: bool) -> Response {
    let json = match serde_json::to_string(body) {
        Ok(json) => json,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let (bytes, content_type) = if utf8 {
        (json.into_bytes(), "application/json; charset=utf-8")
    } else {
        let (encoded, _, _) = encoding_rs::WINDOWS_1256.encode(&json);
        (
            encoded.into_owned(),
            "application/json; charset=windows-1256",
        )
    };
    (status, [(header::CONTENT_TYPE, content_type)], bytes).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = SplErrorResponse {
        success: false,
        statusdescription: code.to_owned(),
        message: Some(message.to_owned()),
    };
    (status, Json(body)).into_response()
}

fn bad_parameter(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message)
}

/// SPL's renderings of the injected faults: its rate limit is a 403.
fn fault_response(fault: InjectedFault) -> Response {
    fault.render(
        || {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "An error occurred while processing your request.",
            )
        },
        || {
            error(
                StatusCode::FORBIDDEN,
                "RATE_LIMIT_EXCEEDED",
                "Rate limit is exceeded.",
            )
        },
    )
}

impl Simulated for SaudiPost {
    fn simulator(&self, parts: SimulatorParts<'_>) -> Result<Router, ConfigError> {
        Ok(router(parts.world, parts.settings.api_key()?, parts.knobs))
    }
}

#[cfg(test)]
mod tests;
