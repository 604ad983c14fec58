//! MHRSD's gateway as an axum app, answering from the sandbox [`World`]: the OAuth2
//! token endpoint and the two ESB operations the adapter calls.
//!
//! It behaves as the real gateway does where Rabt can tell: tokens by client
//! credentials (HTTP Basic or form fields, `scope=IntegrationScope`), issued for a
//! lifetime the test chooses ([`TokenIssuer`]) and refused with API Connect's 401 once
//! expired or revoked; every API call needs a live token and the client id in
//! `X-IBM-Client-Id`; envelopes are checked (operation key, `TransactionId`,
//! `ServiceCode`, `RequestTime`) and refused with `E0000001` in the ESB's shape;
//! business answers are HTTP 200 with `SUCCESS` or `ERROR` and MHRSD's codes. The fault
//! knobs of [`rabt_sandbox::simulator`] apply to every call, the token endpoint's too,
//! before anything else: a server error is the ESB's `E0000500` (RFC 6749's
//! `server_error` at the token endpoint), a rate limit API Connect's 429.
//!
//! What the world answers:
//! - `GetEstablishmentInformation` by `SevenHundredNumber` (or `LaborOfficeId` and
//!   `EstablishmentSequanceNumber`): the labour file, whatever its band (RED included:
//!   the file says so; the adapter makes it a mismatch). A cooperative without a
//!   labour file is `E0000949`; a number nobody has is `E0000142`.
//! - `GetCooperativeSocietyInformation` by `SevenHundredNumber`: the registry record,
//!   whatever its status, with the board's names and the headquarters' city; an
//!   unknown number is `E0002001`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDateTime;
use rabt_adapter::http::Secret;
use rabt_sandbox::simulator::{InjectedFault, KnobsHandle, knobs_routes};
use rabt_sandbox::world::World;

use crate::client::riyadh_now;
use crate::wire::codes::{self, StatusCode as EsbCode};
use crate::wire::establishment::GetEstablishmentInformation;
use crate::wire::society::GetCooperativeSocietyInformation;
use crate::wire::{
    ApicError, Operation, QiwaRequest, QiwaResponse, ResponseStatus, RqHeader, RsHeader, Status,
    unwrap_envelope, wrap_response,
};
use crate::{CLIENT_ID_HEADER, TOKEN_PATH};
use rabt_adapter::ConfigError;
use rabt_sandbox::{Simulated, SimulatorParts};

use crate::Labor;

mod records;
mod tokens;

pub use tokens::TokenIssuer;

/// How long the tokens of [`router`] live: API Connect's default hour.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The simulator's own routes: `GET /_sim/tokens` (issued, live, lifetime) and
/// `DELETE /_sim/tokens` (revoke every token, to see the adapter refresh on a 401).
pub const TOKENS_ROUTE: &str = "/_sim/tokens";

#[derive(Debug)]
struct Sim {
    world: Arc<World>,
    client_id: String,
    client_secret: Secret,
    knobs: KnobsHandle,
    tokens: TokenIssuer,
}

/// The simulator's router, issuing tokens for [`DEFAULT_TOKEN_LIFETIME`] to the one
/// client `client_id` / `client_secret`.
pub fn router(
    world: Arc<World>,
    client_id: impl Into<String>,
    client_secret: Secret,
    knobs: KnobsHandle,
) -> Router {
    let tokens = TokenIssuer::new(DEFAULT_TOKEN_LIFETIME);
    router_with_tokens(world, client_id, client_secret, knobs, tokens)
}

/// The simulator's router with a token issuer the caller keeps, to choose the tokens'
/// lifetime, count them, or revoke them.
pub fn router_with_tokens(
    world: Arc<World>,
    client_id: impl Into<String>,
    client_secret: Secret,
    knobs: KnobsHandle,
    tokens: TokenIssuer,
) -> Router {
    let sim = Arc::new(Sim {
        world,
        client_id: client_id.into(),
        client_secret,
        knobs: knobs.clone(),
        tokens,
    });
    Router::new()
        .route(TOKEN_PATH, post(tokens::token))
        .route(GetEstablishmentInformation::PATH, post(establishment))
        .route(GetCooperativeSocietyInformation::PATH, post(society))
        .route(TOKENS_ROUTE, get(tokens::stats).delete(tokens::revoke))
        .with_state(sim)
        .merge(knobs_routes(knobs))
}

async fn establishment(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    serve::<GetEstablishmentInformation>(&sim, &headers, &body, records::establishment).await
}

async fn society(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    serve::<GetCooperativeSocietyInformation>(&sim, &headers, &body, records::society).await
}

/// Why an operation does not answer with a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// A business answer: `ERROR` with this code, HTTP 200.
    Code(&'static str),
    /// A bad parameter: `E0000001`, HTTP 400.
    Invalid(&'static str),
}

/// Faults, then credentials, then the envelope, then the world.
async fn serve<O: Operation>(
    sim: &Sim,
    headers: &HeaderMap,
    body: &[u8],
    answer: fn(&World, &O::RqBody) -> Result<O::RsBody, Refusal>,
) -> Response {
    if let Some(fault) = sim.knobs.intercept(headers).await {
        return api_fault::<O>(fault);
    }
    if let Some(refusal) = unauthorized(sim, headers) {
        return refusal;
    }
    let request: QiwaRequest<O::RqBody> = match unwrap_envelope(body, &O::rq_key()) {
        Ok(request) => request,
        Err(_) => return invalid::<O>(None, "the body must be an object with the operation's Rq"),
    };
    if let Err(problem) = check_header::<O>(&request.header) {
        return invalid::<O>(Some(&request.header), problem);
    }
    match answer(&sim.world, &request.body) {
        Ok(body) => envelope::<O>(
            StatusCode::OK,
            Some(&request.header),
            codes::SUCCESS,
            Some(body),
        ),
        Err(Refusal::Code(code)) => {
            envelope::<O>(StatusCode::OK, Some(&request.header), code, None)
        }
        Err(Refusal::Invalid(problem)) => invalid::<O>(Some(&request.header), problem),
    }
}

/// API Connect's checks, the client id then a live bearer token: the refusal, if any.
fn unauthorized(sim: &Sim, headers: &HeaderMap) -> Option<Response> {
    let client_id = headers.get(CLIENT_ID_HEADER).and_then(|v| v.to_str().ok());
    if client_id != Some(sim.client_id.as_str()) {
        return Some(apic(StatusCode::UNAUTHORIZED, "Client id not registered."));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token.is_some_and(|t| sim.tokens.accepts(t)) {
        return None;
    }
    let mut refusal = apic(
        StatusCode::UNAUTHORIZED,
        "Cannot pass the security checks that are required by the target API or operation, \
         Enable debug headers for more details.",
    );
    refusal.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    Some(refusal)
}

/// What the ESB requires of a request header.
fn check_header<O: Operation>(h: &RqHeader) -> Result<(), &'static str> {
    if h.transaction_id.trim().is_empty() || h.transaction_id.len() > 64 {
        return Err("TransactionId is required (at most 64 characters)");
    }
    if h.channel_id.trim().is_empty() {
        return Err("ChannelId is required");
    }
    if h.service_code != O::SERVICE_CODE {
        return Err("ServiceCode does not name this operation");
    }
    if NaiveDateTime::parse_from_str(&h.request_time, "%Y-%m-%d %H:%M:%S%.f").is_err() {
        return Err("RequestTime must be yyyy-MM-dd HH:mm:ss.SSS");
    }
    Ok(())
}

/// The answer header: the request's, echoed, with the middleware's times and the
/// status of `code`.
fn rs_header(rq: Option<&RqHeader>, code: &EsbCode, detail: Option<&str>) -> RsHeader {
    let now = riyadh_now();
    let english_msg = match detail {
        Some(detail) => format!("{}: {detail}", code.en),
        None => code.en.to_owned(),
    };
    RsHeader {
        transaction_id: rq.map(|h| h.transaction_id.clone()),
        channel_id: rq.map(|h| h.channel_id.clone()),
        session_id: rq.and_then(|h| h.session_id.clone()),
        request_time: rq.map(|h| h.request_time.clone()),
        mw_request_time: Some(now.clone()),
        mw_response_time: Some(now),
        service_code: rq.map(|h| h.service_code.clone()),
        response_status: ResponseStatus {
            status: if code.code == codes::SUCCESS {
                Status::Success
            } else {
                Status::Error
            },
            code: code.code.to_owned(),
            arabic_msg: code.ar.to_owned(),
            english_msg,
        },
    }
}

fn envelope<O: Operation>(
    status: StatusCode,
    rq: Option<&RqHeader>,
    code: &'static str,
    body: Option<O::RsBody>,
) -> Response {
    esb_answer::<O>(status, rq, code, None, body)
}

fn invalid<O: Operation>(rq: Option<&RqHeader>, problem: &str) -> Response {
    esb_answer::<O>(
        StatusCode::BAD_REQUEST,
        rq,
        codes::INVALID_REQUEST,
        Some(problem),
        None,
    )
}

fn esb_answer<O: Operation>(
    status: StatusCode,
    rq: Option<&RqHeader>,
    code: &'static str,
    detail: Option<&str>,
    body: Option<O::RsBody>,
) -> Response {
    let Some(known) = codes::status_code(code) else {
        // Every code the simulator answers is in the table; a test walks them all.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let response = QiwaResponse {
        header: rs_header(rq, known, detail),
        body,
    };
    (status, Json(wrap_response::<O>(&response))).into_response()
}

/// An error of API Connect itself.
fn apic(status: StatusCode, more_information: &str) -> Response {
    let body = ApicError {
        http_code: status.as_u16().to_string(),
        http_message: status.canonical_reason().unwrap_or("Error").to_owned(),
        more_information: more_information.to_owned(),
    };
    (status, Json(body)).into_response()
}

/// API Connect's rate limit (its `Retry-After` is added by [`InjectedFault::render`]).
fn rate_limited() -> Response {
    apic(StatusCode::TOO_MANY_REQUESTS, "Rate Limit exceeded")
}

/// The injected faults as the gateway and the ESB render them on an API call.
fn api_fault<O: Operation>(fault: InjectedFault) -> Response {
    fault.render(
        || {
            envelope::<O>(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                codes::INTERNAL_ERROR,
                None,
            )
        },
        rate_limited,
    )
}

impl Simulated for Labor {
    fn simulator(&self, parts: SimulatorParts<'_>) -> Result<Router, ConfigError> {
        let settings = parts.settings;
        let client_id = settings.credential("client_id")?;
        let client_secret = Secret::new(settings.credential("client_secret")?);
        Ok(router(parts.world, client_id, client_secret, parts.knobs))
    }
}

#[cfg(test)]
mod tests;
