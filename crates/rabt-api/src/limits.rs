//! Per-cooperative rate limits and daily quotas, enforced across every api process.
//!
//! A cooperative has the limits an operator set for it (`rabt coop set-limit`,
//! `/ops/v1/cooperatives/{id}/limit`) or the configuration's default
//! ([`ApiSettings::default_limit`](crate::ApiSettings)). The rate limit is a GCRA row
//! in the shared database, decided and taken in one statement
//! ([`rabt_store::Store::take_rate`]), so two api processes together admit the limit,
//! not twice it. Every call of an authenticated cooperative counts; a call over the
//! limit is answered `429 rate-limited` with `Retry-After` before anything else happens
//! (nothing is stored), and every answer carries the IETF draft's `RateLimit-Policy`
//! and `RateLimit` fields. The daily quota counts accepted requests, in the accept
//! transaction (`429 quota-exceeded` past it; see `requests::create`).
//!
//! What limit a cooperative has is read from the database at most every
//! [`LIMIT_CACHE`]: a change applies on every api process within that time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Timelike, Utc};
use rabt_core::{CooperativeId, RateDecision, RateLimit};
use rabt_metrics::metrics;
use rabt_store::CooperativeLimit;

use crate::auth::Caller;
use crate::problem::{ApiError, ProblemKind};
use crate::state::{AppState, store_error};

/// How long a cooperative's limit is used before it is read again.
pub const LIMIT_CACHE: Duration = Duration::from_secs(2);

/// The limits that apply to the request's cooperative, for the handlers (the quota).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effective(pub(crate) CooperativeLimit);

/// Each cooperative's limits as last read, and when.
#[derive(Debug, Default)]
pub(crate) struct LimitCache(Mutex<HashMap<CooperativeId, (Instant, Option<CooperativeLimit>)>>);

impl LimitCache {
    fn get(&self, cooperative: CooperativeId) -> Option<Option<CooperativeLimit>> {
        let cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(&cooperative)
            .filter(|(read, _)| read.elapsed() < LIMIT_CACHE)
            .map(|(_, limit)| *limit)
    }

    fn put(&self, cooperative: CooperativeId, limit: Option<CooperativeLimit>) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded by the number of cooperatives (a few hundred); stale entries are
        // replaced on their next call.
        cache.insert(cooperative, (Instant::now(), limit));
    }

    /// Forgets a cooperative's limit (this process changed it).
    pub(crate) fn forget(&self, cooperative: CooperativeId) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.remove(&cooperative);
    }
}

/// The limits that apply to `cooperative`: its own, or the default.
pub(crate) async fn effective(
    state: &AppState,
    cooperative: CooperativeId,
) -> Result<CooperativeLimit, ApiError> {
    let own = match state.limit_cache().get(cooperative) {
        Some(own) => own,
        None => {
            let own = state
                .store()
                .cooperative_limit(cooperative)
                .await
                .map_err(|e| store_error("reading a cooperative's limit", e))?;
            state.limit_cache().put(cooperative, own);
            own
        }
    };
    Ok(own.unwrap_or(state.settings().default_limit))
}

/// Middleware on the cooperatives' routes: authenticates the caller once (the handlers'
/// [`Caller`] finds it), applies its rate limit, and adds the `RateLimit` fields.
pub(crate) async fn enforce(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(err) => return err.into_response(),
    };
    let cooperative = caller.0.id;
    let limit = match effective(&state, cooperative).await {
        Ok(limit) => limit,
        Err(err) => return err.into_response(),
    };
    parts.extensions.insert(caller);
    parts.extensions.insert(Effective(limit));
    let Some(rate) = limit.rate else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let decision = match state
        .store()
        .take_rate(&format!("coop:{cooperative}"), &rate)
        .await
    {
        Ok(decision) => decision,
        Err(err) => return store_error("applying a rate limit", err).into_response(),
    };
    if !decision.allowed {
        metrics().rate_limited("rate");
        tracing::info!(%cooperative, limit = %rate, "rate limit reached; call refused");
        let wait =
            decision.retry_after.as_secs() + u64::from(decision.retry_after.subsec_nanos() > 0);
        let mut refused = ApiError::new(ProblemKind::RateLimited)
            .detail(
                format!("this cooperative may make {rate}; retry after {wait} s"),
                format!("يحق لهذه الجمعية {rate} طلبًا؛ أعد المحاولة بعد {wait} ثانية"),
            )
            .retry_after(wait.max(1));
        for (name, value) in fields(&rate, limit.quota_per_day, &decision) {
            refused = refused.header(name, value);
        }
        return refused.into_response();
    }
    let mut response = next.run(Request::from_parts(parts, body)).await;
    for (name, value) in fields(&rate, limit.quota_per_day, &decision) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The IETF draft's (draft-ietf-httpapi-ratelimit-headers) fields: the policies (`q`
/// calls per `w` seconds: the burst and the time it takes to come back; the daily
/// quota) and the rate policy's state (`r` calls left, `t` seconds until whole again).
fn fields(
    rate: &RateLimit,
    quota_per_day: Option<u64>,
    decision: &RateDecision,
) -> [(&'static str, String); 2] {
    let mut policy = format!("\"rate\";q={};w={}", rate.burst(), rate.window_seconds());
    if let Some(quota) = quota_per_day {
        policy.push_str(&format!(", \"daily\";q={quota};w=86400"));
    }
    let reset = decision.reset.as_secs() + u64::from(decision.reset.subsec_nanos() > 0);
    let state = format!("\"rate\";r={};t={reset}", decision.remaining);
    [("ratelimit-policy", policy), ("ratelimit", state)]
}

/// The `429` for a cooperative whose daily quota is used up: back at UTC midnight.
pub(crate) fn quota_exceeded(quota: u64) -> ApiError {
    metrics().rate_limited("quota");
    let now = Utc::now();
    let left = 86_400 - u64::from(now.num_seconds_from_midnight());
    ApiError::new(ProblemKind::QuotaExceeded)
        .detail(
            format!("this cooperative may have {quota} requests accepted per day (UTC); the count starts again in {left} s"),
            format!("يحق لهذه الجمعية {quota} طلبًا مقبولًا في اليوم (بالتوقيت العالمي)؛ يبدأ العد من جديد بعد {left} ثانية"),
        )
        .retry_after(left.max(1))
        .header("ratelimit-policy", format!("\"daily\";q={quota};w=86400"))
}
