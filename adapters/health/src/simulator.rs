//! The Ministry of Health's batch API as an axum app, answering from the sandbox
//! [`World`] and calling Rabt back through a [`CallbackSender`].
//!
//! `POST /api/v1/health-certificates/batches` with the `X-API-Key` header: faults first
//! (the knobs of [`rabt_sandbox::simulator`], rendered in the ministry's style: 500
//! `INTERNAL_ERROR`, 429 `RATE_LIMITED` with `Retry-After`), then the key (401
//! `INVALID_API_KEY`), then the batch (400 `VALIDATION_ERROR`, 400 `BATCH_TOO_LARGE`
//! beyond [`MAX_WORKERS`]), then the establishment: a licence number that is no
//! commercial licence of the world is refused with 404 `ESTABLISHMENT_NOT_FOUND`.
//! Otherwise the batch is accepted (`202`, a fresh random reference) and its callback is
//! sent after the knobs' `callback_delay` (or never, under `never_call_back`): one entry
//! per worker, the certificate the world holds for that worker and licence, if any.
//!
//! The same `X-Request-Id` with the same batch is answered `200` with the batch already
//! accepted and no second callback, as a retried submission should be; with another
//! batch it is `409 DUPLICATE_REQUEST`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{SubsecRound, Utc};
use rabt_adapter::ConfigError;
use rabt_adapter::http::Secret;
use rabt_core::NationalId;
use rabt_sandbox::callback::CallbackSender;
use rabt_sandbox::simulator::{CallingBack, InjectedFault, KnobsHandle, Submitted, request_id};
use rabt_sandbox::world::{LicenceKind, World};
use rabt_sandbox::{Simulated, SimulatorParts};

use crate::Health;
use crate::batch::MAX_WORKERS;
use crate::client::{API_KEY_HEADER, BATCHES_PATH};
use crate::wire::{
    ESTABLISHMENT_NOT_FOUND, MohBatchAccepted, MohBatchRequest, MohBatchStatus, MohError,
    is_licence_number,
};

mod records;

pub use records::batch_callback;

/// How many submissions are remembered by request id; the oldest are forgotten first,
/// so a simulator that runs for weeks does not grow without bound.
const REMEMBERED: usize = 4096;

/// The simulator's state: the batches accepted so far, by `X-Request-Id`, so that a
/// retried submission gets the same batch back, and their callbacks.
type Sim = CallingBack<MohBatchRequest, MohBatchAccepted>;

/// The simulator's router: the ministry's batch endpoint and the `/_sim/` knob routes.
///
/// `callbacks` must have been built with the same `knobs` handle, so that the
/// `callback_delay_ms` and `never_call_back` knobs reach it.
pub fn router(
    world: Arc<World>,
    api_key: Secret,
    knobs: KnobsHandle,
    callbacks: CallbackSender,
) -> Router {
    Sim::new(world, API_KEY_HEADER, api_key, knobs, callbacks, REMEMBERED)
        .router(BATCHES_PATH, submit)
}

async fn submit(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = sim.admit(&headers, fault_response, unauthorized).await {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<MohBatchRequest>(&body) else {
        return validation("The body is not a batch request.");
    };
    let workers = match validate(&request) {
        Ok(workers) => workers,
        Err(response) => return *response,
    };
    let licence = &request.establishment_license_number;
    let known = sim
        .world
        .licence(licence)
        .is_some_and(|l| l.kind == LicenceKind::Commercial);
    if !known {
        return error(
            StatusCode::NOT_FOUND,
            ESTABLISHMENT_NOT_FOUND,
            "No establishment holds this licence.",
            "لا توجد منشأة بهذه الرخصة.",
        );
    }
    accept(&sim, request_id(&headers), request, &workers)
}

/// Accepts a valid batch for a known establishment, once per request id, and schedules
/// its callback; the same batch again is answered `200` with the batch accepted before.
fn accept(
    sim: &Sim,
    request_id: Option<&str>,
    request: MohBatchRequest,
    workers: &[NationalId],
) -> Response {
    let submitted = sim.submissions.submit(request_id, request, |request| {
        let fresh = accepted(request);
        let completed_at = completion_time(sim.knobs.knobs().callback_delay);
        let callback = batch_callback(&sim.world, &fresh, workers, completed_at);
        (fresh, callback)
    });
    match submitted {
        Submitted::Accepted(fresh) => (StatusCode::ACCEPTED, Json(fresh)).into_response(),
        Submitted::Again(earlier) => (StatusCode::OK, Json(earlier)).into_response(),
        Submitted::Conflict => error(
            StatusCode::CONFLICT,
            "DUPLICATE_REQUEST",
            "This request id was used for another batch.",
            "استُخدم معرّف الطلب هذا لدفعة أخرى.",
        ),
        Submitted::Failed => fault_response(InjectedFault::ServerError),
    }
}

/// When a batch accepted now will be reported complete: after the callback delay.
fn completion_time(delay: std::time::Duration) -> chrono::DateTime<Utc> {
    let now = Utc::now();
    chrono::TimeDelta::from_std(delay)
        .ok()
        .and_then(|delay| now.checked_add_signed(delay))
        .unwrap_or(now)
        .trunc_subsecs(0)
}

/// The batch's workers, or the ministry's 400 (boxed: a response is large).
fn validate(request: &MohBatchRequest) -> Result<Vec<NationalId>, Box<Response>> {
    if !is_licence_number(&request.establishment_license_number) {
        return Err(Box::new(validation(
            "establishmentLicenseNumber: 8 to 20 digits.",
        )));
    }
    if request.workers.is_empty() {
        return Err(Box::new(validation("workers: at least one worker.")));
    }
    if request.workers.len() > MAX_WORKERS {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "BATCH_TOO_LARGE",
            &format!("A batch holds at most {MAX_WORKERS} workers."),
            &format!("تتسع الدفعة لـ {MAX_WORKERS} عاملًا على الأكثر."),
        )));
    }
    let mut workers: Vec<NationalId> = Vec::with_capacity(request.workers.len());
    for (index, worker) in request.workers.iter().enumerate() {
        let Ok(id) = NationalId::parse(&worker.id_number) else {
            return Err(Box::new(validation(&format!(
                "workers[{index}].idNumber: not a national ID or iqama."
            ))));
        };
        if workers.contains(&id) {
            return Err(Box::new(validation(&format!(
                "workers[{index}].idNumber: repeated."
            ))));
        }
        workers.push(id);
    }
    Ok(workers)
}

/// A fresh acceptance: a random reference, so that references never repeat across
/// simulator restarts (Rabt matches callbacks to tasks by reference).
fn accepted(request: &MohBatchRequest) -> MohBatchAccepted {
    let now = Utc::now().trunc_subsecs(0);
    let random: u64 = rand::random();
    MohBatchAccepted {
        batch_id: format!("HB-{}-{:08}", now.format("%Y"), random % 100_000_000),
        reference: format!("MOH-BATCH-{random:016X}"),
        status: MohBatchStatus::Accepted,
        establishment_license_number: request.establishment_license_number.clone(),
        workers_count: request.workers.len(),
        accepted_at: now,
    }
}

fn error(status: StatusCode, code: &str, message_en: &str, message_ar: &str) -> Response {
    let body = MohError {
        code: code.to_owned(),
        message_en: message_en.to_owned(),
        message_ar: message_ar.to_owned(),
    };
    (status, Json(body)).into_response()
}

fn validation(message_en: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
        message_en,
        "الطلب غير صالح.",
    )
}

/// The ministry's renderings of the injected faults.
fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_API_KEY",
        "The API key is missing or not valid.",
        "مفتاح الواجهة مفقود أو غير صالح.",
    )
}

fn fault_response(fault: InjectedFault) -> Response {
    fault.render(
        || {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "An unexpected error occurred.",
                "حدث خطأ غير متوقع.",
            )
        },
        || {
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many requests.",
                "عدد الطلبات أكثر من المسموح.",
            )
        },
    )
}

impl Simulated for Health {
    fn simulator(&self, parts: SimulatorParts<'_>) -> Result<Router, ConfigError> {
        parts.with_api_key_calling_back(router)
    }
}

#[cfg(test)]
mod tests;
