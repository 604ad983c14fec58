//! Balady's licence verification as an axum app, answering from the sandbox [`World`]
//! and calling Rabt back after a simulated inspection.
//!
//! `POST /api/v1/licenses/verification-requests` checks, in this order: the fault knobs
//! of [`rabt_sandbox::simulator`] (rendered in Balady's error style: 500
//! `INTERNAL_ERROR`, 429 `RATE_LIMITED` with `Retry-After`), the `X-API-Key` (401), the
//! content type (415), the body (400 with a code per field), and a reused
//! `X-Request-Id` (the same body gets the same reference again and no second
//! inspection; another body gets 409). It then answers `202` with a fresh reference and
//! hands the inspection's result to the [`CallbackSender`], which POSTs it, signed,
//! after the knobs' `callback_delay_ms`, or never under `never_call_back`.
//!
//! What the inspection finds ([`inspection`]): the world's licence of that number and
//! type, or `NOT_FOUND`; an `ACTIVE` licence is inspected `COMPLIANT`, a `SUSPENDED`
//! one `NON_COMPLIANT`, an `EXPIRED` or `CANCELLED` one is `NOT_INSPECTED`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, Utc};
use rabt_adapter::ConfigError;
use rabt_adapter::http::Secret;
use rabt_core::UnifiedNumber;
use rabt_sandbox::callback::CallbackSender;
use rabt_sandbox::simulator::{CallingBack, InjectedFault, KnobsHandle, Submitted, request_id};
use rabt_sandbox::world::World;
use rabt_sandbox::{Simulated, SimulatorParts};
use serde::Deserialize;

use crate::Municipal;
use crate::input::LicenceNumber;
use crate::wire::{
    API_KEY_HEADER, BaladyAcceptance, BaladyError, BaladyLicenseType, BaladyRequestStatus,
    BaladyVerificationRequest, VERIFICATION_REQUESTS_PATH,
};

pub mod inspection;

/// How many request ids the simulator remembers for replays: enough for any test or
/// demo, bounded so a long-running simulator does not grow without end.
const REMEMBERED_REQUESTS: usize = 10_000;

/// Riyadh's offset from UTC, in which Balady writes its instants.
const RIYADH_OFFSET_SECONDS: i32 = 3 * 3600;

/// The simulator's state: the requests accepted so far, by `X-Request-Id`, and their
/// callbacks.
type Sim = CallingBack<BaladyVerificationRequest, BaladyAcceptance>;

/// The simulator's router: Balady's verification endpoint and the `/_sim/` knob routes.
///
/// `callbacks` must be built on the same `knobs` handle, so that `callback_delay_ms`
/// and `never_call_back` turned on `/_sim/knobs` apply to it.
pub fn router(
    world: Arc<World>,
    api_key: Secret,
    knobs: KnobsHandle,
    callbacks: CallbackSender,
) -> Router {
    Sim::new(
        world,
        API_KEY_HEADER,
        api_key,
        knobs,
        callbacks,
        REMEMBERED_REQUESTS,
    )
    .router(VERIFICATION_REQUESTS_PATH, submit)
}

async fn submit(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = sim.admit(&headers, fault_response, unauthorized).await {
        return refused;
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "يجب أن يكون الطلب بصيغة JSON",
            "The request must be application/json.",
        );
    }
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    accept(&sim, request_id(&headers), request)
}

/// Accepts a request (or replays the acceptance of the same request id, `202` again)
/// and schedules the callback.
fn accept(sim: &Sim, request_id: Option<&str>, request: BaladyVerificationRequest) -> Response {
    let submitted = sim.submissions.submit(request_id, request, |request| {
        let now = riyadh_now();
        let accepted = BaladyAcceptance {
            reference: inspection::new_reference(),
            status: BaladyRequestStatus::PendingInspection,
            received_at: now,
        };
        let callback = inspection::callback_for(&sim.world, request, &accepted.reference, now);
        (accepted, callback)
    });
    match submitted {
        Submitted::Accepted(accepted) | Submitted::Again(accepted) => {
            (StatusCode::ACCEPTED, Json(accepted)).into_response()
        }
        Submitted::Conflict => error(
            StatusCode::CONFLICT,
            "DUPLICATE_REQUEST_ID",
            "معرّف الطلب مستخدم لطلب آخر",
            "This X-Request-Id was used for another request.",
        ),
        Submitted::Failed => fault_response(InjectedFault::ServerError),
    }
}

/// The body as Balady reads it; leniently typed so that each bad field gets its code.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    license_number: Option<serde_json::Value>,
    license_type: Option<serde_json::Value>,
    unified_number: Option<serde_json::Value>,
}

fn parse_request(body: &[u8]) -> Result<BaladyVerificationRequest, Box<Response>> {
    let bad = |code, ar, en| Box::new(error(StatusCode::BAD_REQUEST, code, ar, en));
    let raw: RawRequest = serde_json::from_slice(body).map_err(|_| {
        bad(
            "INVALID_REQUEST",
            "جسم الطلب ليس كائن JSON صالحًا",
            "The request body is not a valid JSON object.",
        )
    })?;
    let license_number = raw
        .license_number
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(LicenceNumber::parse)
        .ok_or_else(|| {
            bad(
                "INVALID_LICENSE_NUMBER",
                "رقم الرخصة الموحد يجب أن يكون من 8 إلى 20 رقمًا",
                "licenseNumber must be 8 to 20 digits.",
            )
        })?;
    let license_type = match &raw.license_type {
        None => BaladyLicenseType::Commercial,
        Some(value) => value
            .as_str()
            .and_then(BaladyLicenseType::parse)
            .ok_or_else(|| {
                bad(
                    "INVALID_LICENSE_TYPE",
                    "نوع الرخصة يجب أن يكون COMMERCIAL أو BUILDING_PERMIT",
                    "licenseType must be COMMERCIAL or BUILDING_PERMIT.",
                )
            })?,
    };
    let unified_number = match &raw.unified_number {
        None => None,
        Some(value) => Some(
            value
                .as_str()
                .and_then(|s| UnifiedNumber::parse(s).ok())
                .ok_or_else(|| {
                    bad(
                        "INVALID_UNIFIED_NUMBER",
                        "الرقم الموحد للمنشأة يجب أن يبدأ بـ 7 ويتكون من 10 أرقام",
                        "unifiedNumber must be 7 followed by nine digits.",
                    )
                })?
                .to_string(),
        ),
    };
    Ok(BaladyVerificationRequest {
        license_number: license_number.to_string(),
        license_type,
        unified_number,
    })
}

/// Now, in Riyadh time, to the second (as Balady writes instants).
fn riyadh_now() -> DateTime<FixedOffset> {
    let now = Utc::now();
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    match FixedOffset::east_opt(RIYADH_OFFSET_SECONDS) {
        Some(riyadh) => now.with_timezone(&riyadh),
        None => now.fixed_offset(),
    }
}

fn error(status: StatusCode, code: &str, ar: &str, en: &str) -> Response {
    let body = BaladyError {
        error_code: code.to_owned(),
        error_message_ar: ar.to_owned(),
        error_message_en: en.to_owned(),
    };
    (status, Json(body)).into_response()
}

/// Balady's renderings of the injected faults.
fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "مفتاح الواجهة مفقود أو غير صالح",
        "The X-API-Key header is missing or not valid.",
    )
}

fn fault_response(fault: InjectedFault) -> Response {
    fault.render(
        || {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "حدث خطأ أثناء معالجة الطلب",
                "An error occurred while processing the request.",
            )
        },
        || {
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "تم تجاوز الحد المسموح من الطلبات",
                "Too many requests.",
            )
        },
    )
}

impl Simulated for Municipal {
    fn simulator(&self, parts: SimulatorParts<'_>) -> Result<Router, ConfigError> {
        parts.with_api_key_calling_back(router)
    }
}

#[cfg(test)]
mod tests;
