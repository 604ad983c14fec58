//! The simulated Yakeen lite ownership check.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rabt_core::{Mobile, NationalId};
use rabt_sandbox::simulator::{InjectedFault, carries};

use super::Sim;
use crate::lite::{
    APP_ID, APP_KEY, LiteCode, LiteOwnsMobileResponse, ORGANIZATION_NUMBER, SERVICE_KEY,
};

/// The seed of the simulator's `referenceNumber`s (UUIDs counted from it).
const REFERENCE_SEED: u64 = 0x5241_4254_4c49_5445; // "RABTLITE"

pub(super) async fn handle(
    State(sim): State<Arc<Sim>>,
    Path((id, mobile)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(fault) = sim.knobs.intercept(&headers).await {
        return injected(fault);
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let app_ok = header(APP_ID) == Some(sim.lite.app_id.as_str())
        && carries(&headers, APP_KEY, &sim.lite.app_key);
    if !app_ok {
        return gateway(StatusCode::FORBIDDEN, "Authentication failed");
    }
    let service_ok = carries(&headers, SERVICE_KEY, &sim.lite.service_key)
        && header(ORGANIZATION_NUMBER) == Some(sim.lite.organization_number.as_str());
    if !service_ok {
        return error(StatusCode::UNAUTHORIZED, LiteCode::InvalidServiceKey);
    }
    let Ok(id) = NationalId::parse(&id) else {
        return error(StatusCode::BAD_REQUEST, LiteCode::InvalidId);
    };
    let Ok(mobile) = Mobile::parse(&mobile) else {
        return error(StatusCode::BAD_REQUEST, LiteCode::InvalidMobile);
    };
    // Elm does not tell an ID of no one from a wrong one.
    let Some(person) = sim.world.person(&id) else {
        return error(StatusCode::BAD_REQUEST, LiteCode::InvalidId);
    };
    let reference = uuid::Uuid::from_u64_pair(REFERENCE_SEED, sim.next_answer());
    let body = LiteOwnsMobileResponse {
        reference_number: reference.to_string(),
        id: id.as_str().to_owned(),
        mobile: mobile
            .as_str()
            .strip_prefix("966")
            .unwrap_or_default()
            .to_owned(),
        is_owner: person.mobile == mobile,
    };
    (StatusCode::OK, Json(body)).into_response()
}

fn error(status: StatusCode, code: LiteCode) -> Response {
    (status, Json(code.body())).into_response()
}

/// Elm's gateway answers in plain text.
fn gateway(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

fn injected(fault: InjectedFault) -> Response {
    fault.render(
        || error(StatusCode::INTERNAL_SERVER_ERROR, LiteCode::Internal),
        || gateway(StatusCode::TOO_MANY_REQUESTS, "Usage limit exceeded"),
    )
}
